// What every part of the local stack returns once it is ready: where it listens and how to stop it.
import { createServer } from 'node:net';
import { PipelineError } from '../core/errors.ts';

export interface RunningService {
  readonly name: string;
  /** Human-readable address printed at start-up, e.g. `localhost:9092` or `http://localhost:8081`. */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Fails with a clear message when a port is taken, before a child process dies with a cryptic one. */
export async function assertPortFree(port: number, service: string, environmentVariable: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new PipelineError(
          `${service} cannot listen on port ${port}: ${error.code === 'EADDRINUSE' ? 'the port is already in use' : error.message}. ` +
            `Stop whatever holds it or choose another port with ${environmentVariable}.`,
          { cause: error, context: { port, service } },
        ),
      );
    });
    probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** A loopback port nobody listens on right now; whoever binds it next should do so soon. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host: '127.0.0.1' }, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      probe.close(() => (port === undefined ? reject(new Error('the OS assigned no port')) : resolve(port)));
    });
  });
}
