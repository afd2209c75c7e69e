// Basic auth of the schema registry (SCHEMA_REGISTRY_USERNAME/PASSWORD), on each of our three ways
// to call it: the library client (serde, registration), our own fetch calls (compatibility checks,
// subject config) and the readiness probe. The native registry of the test stack (Apicurio) runs
// without authentication, so a tiny node:http server here plays the registry and answers 401
// unless the exact Authorization header arrives. That is not a mock of code we own: the code under
// test is ours, unchanged, and only the remote service is stood in for, at the HTTP boundary.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.ts';
import { resolveEndpoints } from '../stack/endpoints.ts';
import { topicDefinitions } from '../topics/topics.ts';
import { checkAgainstRegistry, createSchemaRegistryClient, probeSchemaRegistry, schemaRegistryAccessOf, type SchemaRegistryAccess } from './registry.ts';

const username = 'registry-key';
const password = 'registry-secret:with-colon';
const expectedAuthorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
const contentType = 'application/vnd.schemaregistry.v1+json';

let server: Server;
let url: string;
const seen: { method: string; path: string; headers: IncomingHttpHeaders }[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume();
    seen.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers });
    const answer = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': contentType }).end(JSON.stringify(body));
    };
    if (request.headers.authorization !== expectedAuthorization) return answer(401, { error_code: 401, message: 'Unauthorized' });
    if (request.method === 'GET' && request.url === '/subjects') return answer(200, []);
    if (request.method === 'GET' && request.url === '/schemas/ids/1') return answer(200, { schema: '"string"' });
    if (request.method === 'POST' && request.url?.startsWith('/compatibility/subjects/') === true) return answer(200, { is_compatible: true, messages: [] });
    return answer(404, { error_code: 40401, message: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function configured(): SchemaRegistryAccess {
  // Through the configuration, as every process resolves it.
  return schemaRegistryAccessOf(resolveEndpoints(loadConfig({ SCHEMA_REGISTRY_URL: url, SCHEMA_REGISTRY_USERNAME: username, SCHEMA_REGISTRY_PASSWORD: password })));
}

describe('schema registry basic auth', () => {
  it('is sent by the readiness probe, and a registry refusing it makes the probe fail', async () => {
    await expect(probeSchemaRegistry(configured())).resolves.toBeUndefined();
    await expect(probeSchemaRegistry(url)).rejects.toThrow(/answered 401/);
  });

  it('is sent by the library client the serde reads schemas with', async () => {
    const schema = await createSchemaRegistryClient(configured()).getSchema(1);
    expect(schema).toBeDefined();
    expect(seen.filter((request) => request.path === '/schemas/ids/1').map((request) => request.headers.authorization)).toContain(expectedAuthorization);
  });

  it('is sent by our own calls (the compatibility check)', async () => {
    const topic = topicDefinitions.find((definition) => definition.valueSchema !== undefined);
    if (topic === undefined) throw new Error('no topic with a value schema');
    const report = await checkAgainstRegistry(configured(), [topic]);
    expect(report.problems).toEqual([]);
    expect(report.compatible).toHaveLength(1);
  });

  it('is never sent to a registry configured without credentials', async () => {
    expect(resolveEndpoints(loadConfig({ SCHEMA_REGISTRY_URL: url })).schemaRegistryAuth).toBeUndefined();
    const before = seen.length;
    await expect(probeSchemaRegistry(schemaRegistryAccessOf(resolveEndpoints(loadConfig({ SCHEMA_REGISTRY_URL: url }))))).rejects.toThrow(/401/);
    expect(seen.slice(before).every((request) => request.headers.authorization === undefined)).toBe(true);
  });
});
