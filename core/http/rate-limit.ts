// A per-source request limit for an app's public routes (one fixed window of a minute per source,
// counted in this process's memory). Over the limit a request gets 429 with Retry-After and the
// usual JSON error body, through the app's error handlers. /health, /ready and /metrics are
// mounted before it and never limited: an orchestrator probing a busy process must not see it as
// dead.
//
// "Source" is the TCP peer (IPv6 grouped by /56, as express-rate-limit's ipKeyGenerator does, so
// one host cannot dodge the limit by rotating addresses in its prefix). Behind a proxy every
// request comes from the proxy: the limit then applies to all callers together, so set it there or
// keep it generous.
//
// The counting and the headers are those express-rate-limit gave with `standardHeaders: 'draft-8'`
// (its MemoryStore: a source's window starts at its first request), written here as one
// synchronous Map lookup per request: the library's asynchronous store, per-request validations
// and a SHA-256 per answer were 7.7 % of the webhook's CPU at 500 IPN/s (bench/README.md).
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import { rejection, type HttpRejection } from './http-errors.ts';

export interface RequestRateLimitOptions {
  requestsPerMinute: number;
  /** Milliseconds since the epoch; tests pass their own clock. */
  now?: () => number;
}

const windowMs = 60_000;

interface SourceWindow {
  hits: number;
  resetAt: number;
  /** The RateLimit-Policy partition key of this source, computed once per window. */
  readonly partitionKey: string;
}

/** What express-rate-limit's draft-8 headers call the partition key: base64 of 12 hex digits of SHA-256. */
function partitionKeyOf(key: string): string {
  return Buffer.from(createHash('sha256').update(key).digest('hex').slice(0, 12)).toString('base64');
}

export interface RateDecision {
  readonly limited: boolean;
  readonly headers: Readonly<Record<string, string>>;
}

/** The fixed-window counter alone (pure apart from its Map), so it can be tested without HTTP. */
export function createSourceCounter(requestsPerMinute: number, now: () => number): { hit(source: string): RateDecision; sweep(): void } {
  const windows = new Map<string, SourceWindow>();
  const name = `"${requestsPerMinute}-in-${windowMs / 60_000}min"`;
  const windowSeconds = Math.ceil(windowMs / 1000);
  return {
    hit(source) {
      const at = now();
      let window = windows.get(source);
      if (window === undefined || window.resetAt <= at) {
        window = { hits: 0, resetAt: at + windowMs, partitionKey: window?.partitionKey ?? partitionKeyOf(source) };
        windows.set(source, window);
      }
      window.hits += 1;
      const resetSeconds = Math.max(0, Math.ceil((window.resetAt - at) / 1000));
      const headers: Record<string, string> = {
        RateLimit: `${name}; r=${Math.max(requestsPerMinute - window.hits, 0)}; t=${resetSeconds}`,
        'RateLimit-Policy': `${name}; q=${requestsPerMinute}; w=${windowSeconds}; pk=:${window.partitionKey}:`,
      };
      const limited = window.hits > requestsPerMinute;
      if (limited) headers['Retry-After'] = String(resetSeconds);
      return { limited, headers };
    },
    sweep() {
      const at = now();
      for (const [source, window] of windows) if (window.resetAt <= at) windows.delete(source);
    },
  };
}

export interface RequestRateLimiter {
  /**
   * Counts a request of a plain node:http server and sets its headers; the rejection to answer
   * when the source is over the limit. `source` is the peer address (the caller's `request.ip`
   * behind express), grouped here as the middleware groups it.
   */
  check(source: string | undefined, response: Pick<ServerResponse, 'headersSent' | 'setHeader'>): HttpRejection | undefined;
  /** The same limit, with the same counter, as an express middleware for the routes it covers. */
  readonly middleware: RequestHandler;
}

/** One counter shared by a route served outside express and the express routes of the same path. */
export function createRequestRateLimiter(options: RequestRateLimitOptions): RequestRateLimiter {
  const { requestsPerMinute } = options;
  const counter = createSourceCounter(requestsPerMinute, options.now ?? Date.now);
  // Forgets sources whose window ended, so the Map holds at most the sources of the last minutes.
  setInterval(() => counter.sweep(), windowMs).unref();
  const check: RequestRateLimiter['check'] = (source, response) => {
    const { limited, headers } = counter.hit(ipKeyGenerator(source ?? ''));
    if (!response.headersSent) for (const [header, value] of Object.entries(headers)) response.setHeader(header, value);
    if (!limited) return undefined;
    return rejection(
      429,
      'rate_limited',
      'source',
      `at most ${requestsPerMinute} requests per minute`,
      `Too many requests from this source (at most ${requestsPerMinute} per minute); retry after the Retry-After seconds.`,
    );
  };
  return {
    check,
    middleware: (request: Request, response: Response, next: NextFunction) => {
      const refused = check(request.ip ?? request.socket.remoteAddress, response);
      if (refused === undefined) next();
      else next(refused);
    },
  };
}

export function createRequestRateLimit(options: RequestRateLimitOptions): RequestHandler {
  return createRequestRateLimiter(options).middleware;
}
