// Starts an HTTP server and returns a close function that finishes in-flight requests first.
import type { Server } from 'node:http';
import type { Express } from 'express';

export interface ListeningServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function listen(app: Express, port: number, host = '0.0.0.0'): Promise<ListeningServer> {
  const server: Server = await new Promise((resolve, reject) => {
    const candidate = app.listen(port, host);
    candidate.once('listening', () => resolve(candidate));
    candidate.once('error', reject);
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  return {
    port: boundPort,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
