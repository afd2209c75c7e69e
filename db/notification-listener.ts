// LISTEN on a channel that writers NOTIFY in the transaction of their change — the router when it
// writes a pending-conversion ledger row (the accumulator's window), settlement's credits and the
// admin API's payout requests (the per-client window) — so a window is evaluated within
// milliseconds of the commit that may close it.
//
// A dedicated pg.Client, not a slonik pool connection: LISTEN belongs to one session for as long as
// it lives, and a pooled connection would be handed to other queries or closed when idle. When
// the connection drops it is opened again with backoff; on every (re)connect `onConnected` runs,
// because notifications sent while nobody listened are gone — the caller evaluates once to catch
// up. The punctuation is the second safety net: nothing here is needed for correctness, only for
// latency.
import pg from 'pg';
import type { Logger } from '../core/logger.ts';
import type { Shutdown } from '../core/shutdown.ts';
import { ledgerPendingChannel } from './ledger-notifications.ts';


export interface NotificationListenerOptions {
  databaseUrl: string;
  channel?: string;
  applicationName: string;
  /** The payload as sent (undefined when the NOTIFY had none). */
  onNotification: (payload: string | undefined) => void;
  onConnected: () => void;
  onDisconnected?: () => void;
  log: Logger;
  reconnectDelayInitialMs?: number;
  reconnectDelayMaxMs?: number;
  connectionTimeoutMs?: number;
}

export interface NotificationListener {
  readonly connected: boolean;
  stop(): Promise<void>;
}

export function startNotificationListener(options: NotificationListenerOptions): NotificationListener {
  const { log } = options;
  const channel = options.channel ?? ledgerPendingChannel;
  const delayInitialMs = options.reconnectDelayInitialMs ?? 100;
  const delayMaxMs = options.reconnectDelayMaxMs ?? 5_000;
  let stopped = false;
  let connected = false;
  let client: pg.Client | undefined;
  let wakeFromBackoff: (() => void) | undefined;

  /** One session: resolves when its connection ends, for whatever reason. */
  async function listenUntilDropped(): Promise<void> {
    const session = new pg.Client({
      connectionString: options.databaseUrl,
      application_name: `${options.applicationName}-listener`,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
      // A silently dead peer (a dropped NAT entry, a failed-over server) is noticed by TCP
      // keepalive instead of leaving the listener deaf for hours.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    client = session;
    const ended = new Promise<void>((resolve) => {
      session.on('end', () => resolve());
      // Without an 'error' listener a dropped connection would crash the process.
      session.on('error', (error) => {
        log.warn({ err: error }, 'notification listener connection failed');
        resolve();
      });
    });
    session.on('notification', (message) => {
      if (message.channel === channel) options.onNotification(message.payload);
    });
    try {
      await session.connect();
      await session.query(`LISTEN ${session.escapeIdentifier(channel)}`);
    } catch (error) {
      await session.end().catch(() => undefined);
      throw error;
    }
    if (stopped) {
      await session.end().catch(() => undefined);
      return;
    }
    connected = true;
    log.info({ channel }, 'listening');
    options.onConnected();
    await ended;
    connected = false;
    options.onDisconnected?.();
  }

  const loop = (async () => {
    let failures = 0;
    while (!stopped) {
      const startedAtMs = Date.now();
      try {
        await listenUntilDropped();
      } catch (error) {
        log.warn({ err: error, channel }, 'notification listener could not connect');
      }
      connected = false;
      if (stopped) break;
      // A session that lived a while resets the backoff: this is a new outage, not the same one.
      failures = Date.now() - startedAtMs > delayMaxMs ? 1 : failures + 1;
      const ceilingMs = Math.min(delayMaxMs, delayInitialMs * 2 ** (failures - 1));
      const delayMs = Math.floor(ceilingMs / 2 + (Math.random() * ceilingMs) / 2);
      log.warn({ delayMs, channel }, 'notification listener disconnected; reconnecting');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        wakeFromBackoff = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeFromBackoff = undefined;
    }
  })();

  return {
    get connected() {
      return connected;
    },
    async stop() {
      stopped = true;
      wakeFromBackoff?.();
      await client?.end().catch(() => undefined);
      await loop;
    },
  };
}

export interface EvaluateOnNotificationOptions {
  databaseUrl: string;
  channel?: string;
  applicationName: string;
  log: Logger;
  /** Requests a (coalesced) evaluation of the window the channel is about. */
  request: () => Promise<void>;
  /** Resolves when no evaluation is running or queued. */
  idle: () => Promise<void>;
  /** Set to 1 while listening, 0 otherwise (a gauge of the caller's metrics). */
  connected: { set(value: number): void };
  /** Told each payload before its evaluation is requested. */
  onNotification?: (payload: string | undefined) => void;
  /** Told on every (re)connect before the catch-up evaluation is requested. */
  onConnected?: () => void;
  shutdown: Shutdown;
}

/**
 * The event-driven trigger of a window: every notification, and every (re)connect — notifications
 * sent while nobody listened are gone — requests an evaluation. Registered on the shutdown last,
 * so it closes first: no new notifications, then the evaluation in progress finishes before the
 * punctuation, the consumer and the pool are closed.
 */
export function evaluateOnNotification(options: EvaluateOnNotificationOptions): void {
  const { request, connected } = options;
  const listener = startNotificationListener({
    databaseUrl: options.databaseUrl,
    ...(options.channel === undefined ? {} : { channel: options.channel }),
    applicationName: options.applicationName,
    log: options.log,
    onNotification: (payload) => {
      options.onNotification?.(payload);
      void request();
    },
    onConnected: () => {
      connected.set(1);
      options.onConnected?.();
      void request();
    },
    onDisconnected: () => connected.set(0),
  });
  options.shutdown.add('notification listener', async () => {
    await listener.stop();
    connected.set(0);
    await options.idle();
  });
}
