// Runs the real registry (Apicurio, built from Maven Central on first use, cached in .cache/) and
// drives it with the same client library the processors use, so a registry quirk that would break
// encoding, decoding or schema evolution in the pipeline fails here first.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../../core/logger.ts';
import { findFreePort } from '../service.ts';
import { startSchemaRegistry, type RunningSchemaRegistry } from './start-schema-registry.ts';

const subject = 'payments-received-value';

// Shaped like schemas/avro/payment-received.avsc (decimal bytes, timestamp-millis) but kept here,
// so this test does not change meaning when the project's schemas evolve.
const fields = [
  { name: 'payment_id', type: 'string' },
  { name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 28, scale: 8 } },
  { name: 'currency', type: 'string' },
  { name: 'received_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
];
const recordSchema = (extraFields: object[], replace: Record<string, object> = {}) => ({
  type: 'record' as const,
  name: 'PaymentReceived',
  namespace: 'payout.pipeline',
  fields: [...fields.map((field) => replace[field.name] ?? field), ...extraFields],
});
const record = (extraFields: object[], replace: Record<string, object> = {}): string => JSON.stringify(recordSchema(extraFields, replace));

const version1 = record([]);
const version2Fields = [{ name: 'memo', type: ['null', 'string'], default: null }];
const version2 = record(version2Fields);
const addedFieldWithoutDefault = record([
  { name: 'memo', type: ['null', 'string'], default: null },
  { name: 'network', type: 'string' },
]);
const removedDefault = record([{ name: 'memo', type: ['null', 'string'] }]);
const changedType = record([{ name: 'memo', type: ['null', 'string'], default: null }], { currency: { name: 'currency', type: 'int' } });

const payment = {
  payment_id: 'pay-1',
  // 12.5 at scale 8 = 1_250_000_000, big-endian two's complement; the client's avsc has no decimal
  // logical type, so the field travels as its raw bytes.
  amount: Buffer.from([0x4a, 0x81, 0x7c, 0x80]),
  currency: 'eth',
  received_at: 1_767_225_600_000,
};

const idResponse = z.object({ id: z.number().int() });
const versionResponse = z.object({ subject: z.string(), id: z.number().int(), version: z.number().int(), schema: z.string() });
const compatibilityResponse = z.object({ is_compatible: z.boolean(), messages: z.array(z.string()).optional() });
const errorResponse = z.object({ error_code: z.number(), message: z.string() });
const configResponse = z.object({ compatibilityLevel: z.string() });
const clientError = z.object({ status: z.number() });

const contentType = 'application/vnd.schemaregistry.v1+json';

async function api(registry: RunningSchemaRegistry, method: string, route: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${registry.url}${route}`, {
    method,
    headers: { 'content-type': contentType, accept: contentType },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: await response.json() };
}

/** The status of a rejected client call; the client throws a mappersmith ResponseError carrying it. */
async function rejectionStatus(call: Promise<unknown>): Promise<number> {
  const error: unknown = await call.then(
    () => {
      throw new Error('expected the registry to reject the call');
    },
    (rejection: unknown) => rejection,
  );
  return clientError.parse(error).status;
}

// Building the registry on a fresh machine downloads ~230 MB with Maven; later starts take seconds.
const startTimeoutMs = 600_000;

describe('schema registry (Apicurio, Confluent-compatible API)', () => {
  const log = createLogger({ name: 'schema-registry-test', level: process.env['LOG_LEVEL'] ?? 'warn' });
  let dataDirectory: string;
  let port: number;
  let registry: RunningSchemaRegistry;
  let version1Id: number;
  let version2Id: number;
  let encodedVersion1: Buffer;

  beforeAll(async () => {
    dataDirectory = await mkdtemp(path.join(tmpdir(), 'schema-registry-test-'));
    port = await findFreePort();
    registry = await startSchemaRegistry({ port, dataDirectory, log });
  }, startTimeoutMs);

  afterAll(async () => {
    await registry?.stop();
    if (dataDirectory !== undefined) await rm(dataDirectory, { recursive: true, force: true });
  }, 30_000);

  it('answers at the root of its port, like Confluent', async () => {
    const response = await fetch(`${registry.url}/`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({});
  });

  it('starts with the Confluent default global compatibility level', async () => {
    const { status, json } = await api(registry, 'GET', '/config');
    expect(status).toBe(200);
    expect(configResponse.parse(json).compatibilityLevel).toBe('BACKWARD');
  });

  it('registers a schema and round-trips a record in the Confluent wire format', async () => {
    const client = new SchemaRegistry({ host: registry.url });
    ({ id: version1Id } = await client.register({ type: SchemaType.AVRO, schema: version1 }, { subject }));

    encodedVersion1 = await client.encode(version1Id, payment);
    expect(encodedVersion1.readUInt8(0)).toBe(0);
    expect(encodedVersion1.readInt32BE(1)).toBe(version1Id);
    expect(await client.decode(encodedVersion1)).toEqual(payment);

    // The client's register() wrote the subject's level on first registration.
    const config = await api(registry, 'GET', `/config/${subject}`);
    expect(configResponse.parse(config.json).compatibilityLevel).toBe('BACKWARD');
  }, 30_000);

  it('gives the same schema the same id, again and under another subject', async () => {
    const again = await api(registry, 'POST', `/subjects/${subject}/versions`, { schema: version1 });
    expect(idResponse.parse(again.json).id).toBe(version1Id);
    const otherSubject = await api(registry, 'POST', '/subjects/payments-received-copy-value/versions', { schema: version1 });
    expect(idResponse.parse(otherSubject.json).id).toBe(version1Id);

    const lookup = await api(registry, 'POST', `/subjects/${subject}`, { schema: version1 });
    expect(versionResponse.parse(lookup.json)).toMatchObject({ subject, id: version1Id, version: 1 });
    const byId = await api(registry, 'GET', `/schemas/ids/${version1Id}`);
    expect(z.object({ schema: z.string() }).parse(byId.json).schema).toBe(version1);
  });

  it('accepts a compatible evolution as a new version with a new id', async () => {
    const client = new SchemaRegistry({ host: registry.url });
    ({ id: version2Id } = await client.register({ type: SchemaType.AVRO, schema: version2 }, { subject }));
    expect(version2Id).not.toBe(version1Id);

    const latest = await api(registry, 'GET', `/subjects/${subject}/versions/latest`);
    expect(versionResponse.parse(latest.json)).toMatchObject({ subject, id: version2Id, version: 2, schema: version2 });
    expect((await api(registry, 'GET', `/subjects/${subject}/versions`)).json).toEqual([1, 2]);

    // Data written with version 1 stays readable by a consumer that moved to version 2.
    expect(await client.decode(encodedVersion1, { [SchemaType.AVRO]: { readerSchema: recordSchema(version2Fields) } })).toEqual({
      ...payment,
      memo: null,
    });
  }, 30_000);

  it('rejects incompatible evolutions with 409', async () => {
    const client = new SchemaRegistry({ host: registry.url });
    expect(await rejectionStatus(client.register({ type: SchemaType.AVRO, schema: addedFieldWithoutDefault }, { subject }))).toBe(409);
    expect(await rejectionStatus(client.register({ type: SchemaType.AVRO, schema: changedType }, { subject }))).toBe(409);
    const raw = await api(registry, 'POST', `/subjects/${subject}/versions`, { schema: changedType });
    expect(raw.status).toBe(409);
    expect(errorResponse.parse(raw.json).error_code).toBe(409);

    // Dropping `memo`'s default only breaks reading data from before `memo` existed, i.e. version 1,
    // which BACKWARD (latest only) does not look at; BACKWARD_TRANSITIVE does.
    expect((await api(registry, 'PUT', `/config/${subject}`, { compatibility: 'BACKWARD_TRANSITIVE' })).status).toBe(200);
    // The client refuses to register when the subject's level differs from the one it was given.
    const options = { subject, compatibility: COMPATIBILITY.BACKWARD_TRANSITIVE };
    expect(await rejectionStatus(client.register({ type: SchemaType.AVRO, schema: removedDefault }, options))).toBe(409);
    expect((await api(registry, 'PUT', `/config/${subject}`, { compatibility: 'BACKWARD' })).status).toBe(200);

    expect((await api(registry, 'GET', `/subjects/${subject}/versions`)).json).toEqual([1, 2]);
  }, 30_000);

  it('answers compatibility questions, with messages saying why when verbose', async () => {
    const incompatible = await api(registry, 'POST', `/compatibility/subjects/${subject}/versions/latest?verbose=true`, {
      schema: addedFieldWithoutDefault,
    });
    const verdict = compatibilityResponse.parse(incompatible.json);
    expect(verdict.is_compatible).toBe(false);
    expect(verdict.messages?.join('\n')).toContain('network');

    const againstVersion1 = await api(registry, 'POST', `/compatibility/subjects/${subject}/versions/1`, { schema: removedDefault });
    expect(compatibilityResponse.parse(againstVersion1.json).is_compatible).toBe(false);

    const compatible = await api(registry, 'POST', `/compatibility/subjects/${subject}/versions/latest`, { schema: version2 });
    expect(compatibilityResponse.parse(compatible.json).is_compatible).toBe(true);
  });

  it('reports bad requests with Confluent error codes', async () => {
    const invalid = await api(registry, 'POST', `/subjects/${subject}/versions`, { schema: '{"type":"record","name":"NoFields"}' });
    expect(invalid.status).toBe(422);
    expect(errorResponse.parse(invalid.json).error_code).toBe(42201);

    const unknownId = await api(registry, 'GET', '/schemas/ids/999999');
    expect(unknownId.status).toBe(404);
    expect(errorResponse.parse(unknownId.json).error_code).toBe(40403);

    const unknownSubject = await api(registry, 'POST', '/subjects/no-such-subject', { schema: version1 });
    expect(unknownSubject.status).toBe(404);
    expect(errorResponse.parse(unknownSubject.json).error_code).toBe(40401);
  });

  it('keeps ids, versions and levels across a restart', async () => {
    await registry.stop();
    registry = await startSchemaRegistry({ port, dataDirectory, log });

    // A fresh client has no cache: it must fetch the schema for id version1Id from the registry.
    const client = new SchemaRegistry({ host: registry.url });
    expect(await client.decode(encodedVersion1)).toEqual(payment);
    expect(await client.getLatestSchemaId(subject)).toBe(version2Id);
    expect((await api(registry, 'GET', `/subjects/${subject}/versions`)).json).toEqual([1, 2]);
    expect(configResponse.parse((await api(registry, 'GET', '/config')).json).compatibilityLevel).toBe('BACKWARD');

    const { id } = await client.register({ type: SchemaType.AVRO, schema: version2 }, { subject });
    expect(id).toBe(version2Id);
  }, startTimeoutMs);
});
