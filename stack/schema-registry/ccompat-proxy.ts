// Serves Apicurio's Confluent-compatible API at the root of its own port, the way Confluent's
// registry (and the docker stack) serve it, so every part of the pipeline uses one URL shape:
// `http://localhost:8081`, not `http://localhost:8081/apis/ccompat/v7`. Apicurio has no setting to
// move that API to the root.
//
// Besides the path, it changes only what the project reads and Apicurio words differently (see
// adaptResponseBody); schemas, ids, versions and compatibility verdicts pass through untouched.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { PipelineError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';

export const ccompatApiPath = '/apis/ccompat/v7';

const registryContentType = 'application/vnd.schemaregistry.v1+json';
const upstreamTimeoutMs = 30_000;
// Error and compatibility answers are a few hundred bytes; anything far larger is passed through
// unread rather than held in memory.
const maxAdaptedBodyBytes = 1024 * 1024;

const errorBody = z.object({ error_code: z.number(), message: z.string().optional() }).passthrough();
const verboseCompatibilityBody = z.object({ is_compatible: z.boolean(), reason: z.string().nullish() }).passthrough();

/**
 * Rewrites the two things the project reads that Apicurio words differently from Confluent:
 * - `?verbose=true` compatibility answers carry `reason` (one string); Confluent's carry
 *   `messages` (a list), which `schemas check` prints to say why a schema is incompatible.
 * - some errors carry `error_code: 0`; Confluent's code for a 409 is 409 (and clients switch on it).
 * Returns undefined when the body stays as it is.
 */
export function adaptResponseBody(request: { method: string; path: string }, status: number, body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const isCompatibilityCheck = request.method === 'POST' && request.path.startsWith('/compatibility/');
  if (isCompatibilityCheck && status === 200) {
    const verdict = verboseCompatibilityBody.safeParse(parsed);
    if (!verdict.success || 'messages' in verdict.data || typeof verdict.data.reason !== 'string') return undefined;
    return JSON.stringify({ ...verdict.data, messages: [verdict.data.reason] });
  }
  if (status === 409) {
    const error = errorBody.safeParse(parsed);
    if (!error.success || error.data.error_code !== 0) return undefined;
    return JSON.stringify({ ...error.data, error_code: 409 });
  }
  return undefined;
}

export interface CcompatProxyOptions {
  port: number;
  upstreamPort: number;
  log: Logger;
}

export interface RunningCcompatProxy {
  close(): Promise<void>;
}

export async function startCcompatProxy(options: CcompatProxyOptions): Promise<RunningCcompatProxy> {
  const { port, upstreamPort, log } = options;
  const server = createServer((incoming, outgoing) => {
    forward(incoming, outgoing, upstreamPort, log);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new PipelineError(`Schema registry cannot listen on port ${port}: ${error.message}. Choose another port with SCHEMA_REGISTRY_PORT.`, {
          cause: error,
          context: { port },
        }),
      );
    });
    server.listen({ port, host: '127.0.0.1', exclusive: true }, resolve);
  });
  return { close: () => closeServer(server) };
}

function forward(incoming: IncomingMessage, outgoing: ServerResponse, upstreamPort: number, log: Logger): void {
  const method = incoming.method ?? 'GET';
  const path = incoming.url ?? '/';
  // Confluent answers its root with `{}`; probes use it to see that the registry is up.
  if (method === 'GET' && (path === '/' || path === '')) {
    respond(outgoing, 200, '{}');
    return;
  }

  const upstream = request(
    {
      host: '127.0.0.1',
      port: upstreamPort,
      method,
      path: `${ccompatApiPath}${path}`,
      headers: { ...incoming.headers, host: `127.0.0.1:${upstreamPort}` },
      timeout: upstreamTimeoutMs,
    },
    (answer) => {
      const status = answer.statusCode ?? 502;
      const declaredLength = Number.parseInt(answer.headers['content-length'] ?? '', 10);
      const mayAdapt = status === 409 || (status === 200 && method === 'POST' && path.startsWith('/compatibility/'));
      if (!mayAdapt || !(Number.isNaN(declaredLength) || declaredLength <= maxAdaptedBodyBytes)) {
        outgoing.writeHead(status, answer.headers);
        answer.pipe(outgoing);
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('error', (error) => fail(outgoing, error, log));
      answer.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const sent = adaptResponseBody({ method, path }, status, body) ?? body;
        const headers = { ...answer.headers, 'content-length': String(Buffer.byteLength(sent)) };
        // Chunked upstream or not, the body now goes out whole with its own length.
        delete headers['transfer-encoding'];
        outgoing.writeHead(status, headers);
        outgoing.end(sent);
      });
    },
  );
  upstream.on('timeout', () => upstream.destroy(new Error(`no answer within ${upstreamTimeoutMs} ms`)));
  upstream.on('error', (error) => fail(outgoing, error, log));
  incoming.pipe(upstream);
}

function fail(outgoing: ServerResponse, error: Error, log: Logger): void {
  log.warn({ err: error }, 'Schema registry request failed between the proxy and Apicurio');
  if (outgoing.headersSent) {
    outgoing.destroy(error);
    return;
  }
  // 5xx with a Confluent backend error code: clients treat it as "try again", which is right while
  // the JVM restarts or is overloaded.
  respond(outgoing, 502, JSON.stringify({ error_code: 50001, message: `schema registry backend unavailable: ${error.message}` }));
}

function respond(outgoing: ServerResponse, status: number, body: string): void {
  outgoing.writeHead(status, { 'content-type': registryContentType, 'content-length': Buffer.byteLength(body) });
  outgoing.end(body);
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    // Keep-alive connections of clients would otherwise hold close() open until they time out.
    server.closeAllConnections();
  });
}
