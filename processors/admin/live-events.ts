// GET /api/events: the console's server-sent events. One poller per admin process, shared by every
// stream (not one per stream): while at least one stream is open it re-reads the overview every
// CONSOLE_EVENTS_INTERVAL and sends an `overview` event to each stream whose last one differs
// (overview.ts overviewChangeKey); a new stream gets the latest overview at once. `replay` events
// carry a running replay's progress (replay-jobs.ts). A `: keep-alive` comment every 15 s keeps
// proxies from closing an idle stream. At most CONSOLE_EVENT_STREAMS_MAX streams (one more is 503);
// a stream ends when its client goes, and every stream is ended on shutdown before the HTTP server
// closes, so an open console never holds up the admin process's drain.
import type { Response } from 'express';
import { rejection } from '../../core/http/http-errors.ts';
import type { Logger } from '../../core/logger.ts';
import { overviewChangeKey, type Overview } from './overview.ts';

export interface LiveEventsOptions {
  readOverview: () => Promise<Overview>;
  intervalMs: number;
  maxStreams: number;
  keepAliveMs?: number;
  log: Logger;
}

export interface LiveEvents {
  /** Serves one stream (the route handler). Throws a 503 rejection when full or shutting down. */
  open(response: Response): void;
  /** Sends an event to every open stream (replay progress). */
  broadcast(event: string, data: unknown): void;
  readonly streams: number;
  close(): Promise<void>;
}

interface Stream {
  readonly response: Response;
  sentKey: string | undefined;
}

const defaultKeepAliveMs = 15_000;

function frame(event: string, data: unknown): string {
  // JSON has no raw newline, so the data is one `data:` line.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function createLiveEvents(options: LiveEventsOptions): LiveEvents {
  const { log } = options;
  const streams = new Set<Stream>();
  let latest: { overview: Overview; key: string } | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let keepAliveTimer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;
  let closed = false;

  function send(stream: Stream, text: string): void {
    if (!stream.response.writableEnded) stream.response.write(text);
  }

  function sendOverview(stream: Stream): void {
    if (latest === undefined || stream.sentKey === latest.key) return;
    stream.sentKey = latest.key;
    send(stream, frame('overview', latest.overview));
  }

  async function poll(): Promise<void> {
    try {
      const overview = await options.readOverview();
      latest = { overview, key: overviewChangeKey(overview) };
      for (const stream of streams) sendOverview(stream);
    } catch (error) {
      log.warn({ err: error }, 'overview read for the event streams failed; retried at the next interval');
    }
  }

  function schedule(delayMs: number): void {
    pollTimer = setTimeout(() => {
      pollTimer = undefined;
      polling = poll().finally(() => {
        polling = undefined;
        if (streams.size > 0 && !closed) schedule(options.intervalMs);
      });
    }, delayMs);
  }

  function start(): void {
    // The poller and the keep-alive run only while someone listens.
    if (pollTimer === undefined && polling === undefined) schedule(0);
    keepAliveTimer ??= setInterval(() => {
      for (const stream of streams) send(stream, ': keep-alive\n\n');
    }, options.keepAliveMs ?? defaultKeepAliveMs);
  }

  function stopIfIdle(): void {
    if (streams.size > 0) return;
    clearTimeout(pollTimer);
    pollTimer = undefined;
    clearInterval(keepAliveTimer);
    keepAliveTimer = undefined;
    // A stale overview must not be sent as "current" to the next stream, which gets a fresh read.
    latest = undefined;
  }

  return {
    open(response) {
      if (closed) throw rejection(503, 'unavailable', 'events', 'a running admin process', 'The admin process is shutting down.');
      if (streams.size >= options.maxStreams) {
        throw rejection(503, 'too_many_streams', 'events', `at most ${options.maxStreams} open event streams`, 'Too many event streams are open on this admin process; retry later.');
      }
      response.status(200).set({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
      response.flushHeaders();
      // How long a browser waits before reconnecting after the stream ends.
      response.write('retry: 2000\n\n');
      const stream: Stream = { response, sentKey: undefined };
      streams.add(stream);
      // The response's close: the connection went (client disconnect) or the stream was ended.
      response.on('close', () => {
        streams.delete(stream);
        stopIfIdle();
      });
      sendOverview(stream);
      start();
    },
    broadcast(event, data) {
      const text = frame(event, data);
      for (const stream of streams) send(stream, text);
    },
    get streams() {
      return streams.size;
    },
    async close() {
      closed = true;
      for (const stream of streams) stream.response.end();
      streams.clear();
      stopIfIdle();
      await polling;
    },
  };
}
