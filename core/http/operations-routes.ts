// /health, /ready and /metrics, mounted on every processor's HTTP server. /health says the process
// is alive (restart it if not); /ready says its dependencies answer (send it traffic if so).
import type { Express, Request, Response } from 'express';
import type { MetricsRegistry } from '../metrics.ts';

export type ReadinessProbe = () => Promise<void>;

export interface OperationsRoutesOptions {
  metrics: MetricsRegistry;
  /** Named dependency checks; each must settle within `probeTimeoutMs`. */
  probes: Readonly<Record<string, ReadinessProbe>>;
  probeTimeoutMs?: number;
  /** False while draining on SIGTERM, so the load balancer stops sending work first. */
  isAcceptingWork?: () => boolean;
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

  app.get('/metrics', async (_request: Request, response: Response) => {
    response.type(options.metrics.contentType).send(await options.metrics.metrics());
  });
}
