// Starts an HTTP server and returns a close function that finishes in-flight requests first.
// The interface is always given (LISTEN_HOST or a process's own host variable): a server that
// silently bound every interface would put the admin API on whatever network the machine is on.
import type { Server } from 'node:http';
import type { Express } from 'express';

export interface ListeningServer {
  readonly port: number;
  /** http://<host>:<port>, the wildcard hosts replaced by loopback so the URL can be called. */
  readonly url: string;
  close(): Promise<void>;
}

function callableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export async function listen(app: Express, port: number, host: string): Promise<ListeningServer> {
  const server: Server = await new Promise((resolve, reject) => {
    const candidate = app.listen(port, host);
    candidate.once('listening', () => resolve(candidate));
    candidate.once('error', reject);
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  return {
    port: boundPort,
    url: `http://${callableHost(host)}:${boundPort}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
