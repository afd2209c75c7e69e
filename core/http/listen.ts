// Starts an HTTP server and returns a close function that finishes in-flight requests first.
// The interface is always given (LISTEN_HOST or a process's own host variable): a server that
// silently bound every interface would put the admin API on whatever network the machine is on.
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

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

/**
 * A request Node's HTTP parser refuses (a broken request line, an oversized header block) never
 * reaches express; without this it gets a bare 400 with no body. Same JSON contract as every other
 * rejection, and the parser's own message is not echoed.
 */
function answerUnparsableRequest(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const body = JSON.stringify({
    error: tooLarge
      ? { code: 'headers_too_large', message: 'The request headers are too large.', field: 'headers', rule: 'size limit' }
      : { code: 'malformed_request', message: 'The request is not valid HTTP/1.1.', field: 'request', rule: 'HTTP/1.1 (RFC 9112)' },
  });
  socket.end(
    `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** `handler` is an express app, or a plain listener that hands some requests to one (the webhook). */
export async function listen(handler: RequestListener, port: number, host: string): Promise<ListeningServer> {
  const server: Server = await new Promise((resolve, reject) => {
    const candidate = createServer(handler).listen(port, host);
    candidate.once('listening', () => resolve(candidate));
    candidate.once('error', reject);
  });
  server.on('clientError', answerUnparsableRequest);
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
