// The load generator's side of a webhook benchmark: posts signed IPNs over `node:http` with a
// keep-alive agent. The generator shares the two cores with the stack it measures, so its own cost
// is taken from the webhook: `fetch` (undici) spent about half a core at 1,000 requests/s
// (bench/README.md), `node:http` about a third of that, which leaves the difference to the system under test.
import http from 'node:http';

export interface SignedIpn {
  readonly text: string;
  readonly signature: string;
}

export interface IpnPoster {
  /** Posts one IPN; resolves with the status and the body's text once the answer is read. */
  post(ipn: SignedIpn): Promise<{ status: number; body: string }>;
  /** Closes the kept-alive connections. */
  close(): void;
}

/** Posts to `url` (the webhook's IPN route) with at most `connections` requests in flight at once; more wait for a free connection. */
export function createIpnPoster(url: string, connections = 256): IpnPoster {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const target = new URL(url);
  return {
    post(ipn) {
      return new Promise((resolve, reject) => {
        const request = http.request(
          {
            agent,
            host: target.hostname,
            port: target.port,
            path: target.pathname,
            method: 'POST',
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(ipn.text), 'x-nowpayments-sig': ipn.signature },
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
            response.on('error', reject);
          },
        );
        request.on('error', reject);
        request.end(ipn.text);
      });
    },
    close: () => agent.destroy(),
  };
}
