// /health, /ready and /metrics, mounted on every processor's HTTP server. /health says the process
// is alive (restart it if not); /ready says its dependencies answer (send it traffic if so).
import express, { type Express, type Request, type Response } from 'express';
import type { MetricsRegistry } from '../metrics.ts';
import { mountErrorHandlers } from './http-errors.ts';

export type ReadinessProbe = () => Promise<void>;

/** What /metrics serves: a process's registry, or a view over several (the webhook's workers). */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface OperationsRoutesOptions {
  metrics: MetricsRegistry | MetricsSource;
  /** Named dependency checks; each must settle within `probeTimeoutMs`. */
  probes: Readonly<Record<string, ReadinessProbe>>;
  probeTimeoutMs?: number;
  /** False while draining on SIGTERM, so the load balancer stops sending work first. */
  isAcceptingWork?: () => boolean;
  /** False when /metrics is served on a separate, internal port instead (createOperationsApp). */
  serveMetrics?: boolean;
}

async function runProbe(probe: ReadinessProbe, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([probe(), timeout]);
    return 'ok';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}

export function mountOperationsRoutes(app: Express, options: OperationsRoutesOptions): void {
  const probeTimeoutMs = options.probeTimeoutMs ?? 2_000;

  app.get('/health', (_request: Request, response: Response) => {
    response.json({ status: 'ok' });
  });

  app.get('/ready', async (_request: Request, response: Response) => {
    const names = Object.keys(options.probes);
    const results = await Promise.all(names.map((name) => runProbe(options.probes[name]!, probeTimeoutMs)));
    const checks = Object.fromEntries(names.map((name, index) => [name, results[index]]));
    const accepting = options.isAcceptingWork?.() ?? true;
    const ready = accepting && results.every((result) => result === 'ok');
    response.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', draining: !accepting, checks });
  });

  if (options.serveMetrics === false) return;
  app.get('/metrics', async (_request: Request, response: Response) => {
    response.type(options.metrics.contentType).send(await options.metrics.metrics());
  });
}

/**
 * An app with only /health, /ready and /metrics, for a process whose public port must not show its
 * metrics (the webhook with WEBHOOK_METRICS_PORT): it listens on an internal interface of its own.
 */
export function createOperationsApp(options: OperationsRoutesOptions & { retryAfterSeconds: number }): Express {
  const app = express();
  app.disable('x-powered-by');
  mountOperationsRoutes(app, { ...options, serveMetrics: true });
  mountErrorHandlers(app, { retryAfterSeconds: options.retryAfterSeconds });
  return app;
}
