// An HTTP request sent as written: fetch normalises paths (`..` segments, percent-encoding) and
// refuses some headers, which would hide exactly the hostile requests a fuzz test must send.
import { request } from 'node:http';

export interface RawRequest {
  method: string;
  /** Sent verbatim; Node refuses only characters outside 0x21–0xff. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export function rawRequest(baseUrl: string, options: RawRequest, timeoutMs = 30_000): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  // Node frames a GET/DELETE/OPTIONS body only when told its length; unframed, the bytes would be
  // read as a second, broken request.
  const headers = options.body === undefined ? (options.headers ?? {}) : { ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) };
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: hostname, port, method: options.method, path: options.path, headers, timeout: timeoutMs, agent: false },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, text: Buffer.concat(chunks).toString('utf8') }));
        incoming.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms: ${options.method} ${options.path.slice(0, 200)}`)));
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}
