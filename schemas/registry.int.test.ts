// Proves registration, the registry check and the serde against a real Confluent-compatible
// registry (the project's Apicurio stand-in, started fresh for this file): ids are stable, records
// carry the Confluent wire format, money survives exactly, and consumers read older writers'
// records through the evolution rules while a changed decimal scale is refused.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvariantViolation, UnavailableError, ValidationError } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import { Decimal } from '../core/money.ts';
import { startSchemaRegistry, type RunningSchemaRegistry } from '../stack/schema-registry/start-schema-registry.ts';
import { topicDefinitions, topicNames, valueSubjectOf } from '../topics/topics.ts';
import { paymentReceivedSchema, type PaymentReceived } from './generated/records.ts';
import { parseAvroSchema } from './logical-types.ts';
import { findFreePort } from '../stack/service.ts';
import {
  checkAgainstRegistry,
  createAvroSerde,
  createSchemaRegistryClient,
  probeSchemaRegistry,
  registerValueSchemas,
  toWireFormat,
  type AvroSerde,
  type RegisteredValueSchema,
} from './registry.ts';

const payment: PaymentReceived = {
  payment_id: '5077125051',
  client_id: '-1001234567890',
  user_id: '6271402111',
  subscription_id: '42',
  order_id: 'sub|-1001234567890|6271402111|42',
  order_description: 'Monthly subscription',
  // Full precision at both scales: a float would already have lost digits here.
  usd_amount: new Decimal('12345678901234567890.12345678'),
  eth_amount: new Decimal('-0.000000000000000001'),
  pay_currency: 'eth',
  actually_paid: new Decimal('12345678901234567890.123456789012345678'),
  pay_address: '0x9F4d8A2c6b3E1f7a5D0c2B8e4F6a1C3d5E7f9A0b',
  purchase_id: '5837122679',
  paid_at: new Date('2026-11-20T14:23:06.244Z'),
  received_at: new Date('2026-11-20T14:23:07.001Z'),
};

type SchemaJson = { fields: readonly { name: string }[] } & Record<string, unknown>;
const currentSchema = paymentReceivedSchema as unknown as SchemaJson;

/** An older PaymentReceived: before `purchase_id` and `order_description` existed. */
const olderSchema: SchemaJson = {
  ...currentSchema,
  fields: currentSchema.fields.filter((field) => field.name !== 'purchase_id' && field.name !== 'order_description'),
};

/** A PaymentReceived whose writer changed usd_amount's scale: the registry cannot tell, we must. */
const rescaledSchema: SchemaJson = {
  ...currentSchema,
  fields: currentSchema.fields.map((field) =>
    field.name === 'usd_amount' ? { ...field, type: { type: 'bytes', logicalType: 'decimal', precision: 28, scale: 6 } } : field,
  ),
};


async function registerRaw(url: string, subject: string, schema: object): Promise<number> {
  const response = await fetch(`${url}/subjects/${subject}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schema: JSON.stringify(schema) }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { id: number }).id;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

// Building the registry on a fresh machine downloads ~230 MB with Maven; later starts take seconds.
const startTimeoutMs = 600_000;
const valueSchemaTopicCount = topicDefinitions.filter((topic) => topic.valueSchema !== undefined).length;

describe('schema registry I/O (registry.ts) against a real registry', () => {
  const log = createLogger({ name: 'schemas-registry-test', level: process.env['LOG_LEVEL'] ?? 'warn' });
  let dataDirectory: string;
  let registry: RunningSchemaRegistry;
  let serde: AvroSerde;
  let registered: RegisteredValueSchema[];

  beforeAll(async () => {
    dataDirectory = await mkdtemp(path.join(tmpdir(), 'schemas-registry-test-'));
    registry = await startSchemaRegistry({ port: await findFreePort(), dataDirectory, log });
    serde = createAvroSerde(createSchemaRegistryClient(registry.url));
  }, startTimeoutMs);

  afterAll(async () => {
    await registry?.stop();
    if (dataDirectory !== undefined) await rm(dataDirectory, { recursive: true, force: true });
  }, 30_000);

  it('answers the readiness probe, and the probe fails for a port nobody listens on', async () => {
    await expect(probeSchemaRegistry(registry.url)).resolves.toBeUndefined();
    expect(await rejection(probeSchemaRegistry(`http://127.0.0.1:${await findFreePort()}`))).toBeInstanceOf(UnavailableError);
  });

  it('refuses to encode before the schema is registered: producers never register', async () => {
    const error = await rejection(serde.encode(topicNames.paymentsReceived, 'payment-received', payment));
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toMatch(/not registered under payments-received-value/);
  });

  it('reports unregistered subjects in the registry check', async () => {
    const report = await checkAgainstRegistry(registry.url, topicDefinitions);
    expect(report.problems).toEqual([]);
    expect(report.unregistered).toHaveLength(valueSchemaTopicCount);
  });

  it('registers every value schema under <topic>-value with BACKWARD compatibility', async () => {
    registered = await registerValueSchemas(registry.url, topicDefinitions);
    expect(registered).toHaveLength(valueSchemaTopicCount);
    for (const row of registered) {
      expect(row.subject).toBe(valueSubjectOf(row.topic));
      expect(row.id).toBeGreaterThan(0);
      expect(row.version).toBe(1);
      const config = await fetch(`${registry.url}/config/${row.subject}`);
      expect(((await config.json()) as { compatibilityLevel: string }).compatibilityLevel).toBe('BACKWARD');
    }
    expect(new Set(registered.map((row) => row.id)).size).toBe(valueSchemaTopicCount);
  });

  it('is idempotent: registering again gives the same ids and versions', async () => {
    expect(await registerValueSchemas(registry.url, topicDefinitions)).toEqual(registered);
    const client = createSchemaRegistryClient(registry.url);
    expect(await registerValueSchemas({ url: registry.url, client }, topicDefinitions)).toEqual(registered);
  });

  it('finds every current schema compatible with what is registered', async () => {
    const report = await checkAgainstRegistry(registry.url, topicDefinitions);
    expect(report).toMatchObject({ problems: [], unregistered: [] });
    expect(report.compatible).toHaveLength(valueSchemaTopicCount);
  });

  it('reports a subject whose latest version the current schema cannot read', async () => {
    const withoutAddress = { ...currentSchema, fields: currentSchema.fields.filter((field) => field.name !== 'pay_address') };
    await registerRaw(registry.url, 'compat-probe-value', withoutAddress);
    const probeTopic = { ...topicDefinitions[0]!, name: 'compat-probe', valueSchema: 'payment-received' as const };
    const report = await checkAgainstRegistry(registry.url, [probeTopic]);
    expect(report.compatible).toEqual([]);
    expect(report.problems).toEqual([{ schema: 'payment-received', version: null, message: expect.stringMatching(/^not compatible with the latest version registered under compat-probe-value/) as unknown }]);
  });

  it('encodes PaymentReceived in the Confluent wire format and decodes it exactly', async () => {
    const paymentsId = registered.find((row) => row.subject === 'payments-received-value')?.id;
    const bytes = await serde.encode(topicNames.paymentsReceived, 'payment-received', payment);
    expect(bytes.readUInt8(0)).toBe(0);
    expect(bytes.readInt32BE(1)).toBe(paymentsId);

    for (const decoded of [await serde.decodeAs('payment-received', bytes), (await serde.decode(bytes)) as PaymentReceived]) {
      expect(decoded.usd_amount.equals(payment.usd_amount)).toBe(true);
      expect(decoded.eth_amount.toFixed()).toBe('-0.000000000000000001');
      expect(decoded.actually_paid.toFixed()).toBe('12345678901234567890.123456789012345678');
      expect(decoded.paid_at.toISOString()).toBe('2026-11-20T14:23:06.244Z');
      expect({ ...decoded, usd_amount: null, eth_amount: null, actually_paid: null }).toEqual({ ...payment, usd_amount: null, eth_amount: null, actually_paid: null });
    }
  });

  it('refuses a record for the wrong topic and an amount it would have to round', async () => {
    expect(await rejection(serde.encode(topicNames.usdtCredits, 'payment-received', payment))).toBeInstanceOf(InvariantViolation);
    const error = await rejection(serde.encode(topicNames.paymentsReceived, 'payment-received', { ...payment, usd_amount: new Decimal('0.123456789') }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: 'usd_amount', rule: 'decimal-scale' });
  });

  it('reads a record of an older writer schema through the evolution rules (decodeAs)', async () => {
    const olderId = await registerRaw(registry.url, 'payments-received-older-value', olderSchema);
    const olderPayment = Object.fromEntries(Object.entries(payment).filter(([field]) => field !== 'purchase_id' && field !== 'order_description'));
    const bytes = toWireFormat(olderId, parseAvroSchema(olderSchema).toBuffer(olderPayment));

    const asWritten = (await serde.decode(bytes)) as Record<string, unknown>;
    expect(asWritten).not.toHaveProperty('purchase_id');

    const current = await serde.decodeAs('payment-received', bytes);
    expect(current.purchase_id).toBeNull();
    expect(current.order_description).toBeNull();
    expect(current.usd_amount.equals(payment.usd_amount)).toBe(true);
    expect(current.received_at.toISOString()).toBe('2026-11-20T14:23:07.001Z');
  });

  it('refuses to read a writer whose decimal scale changed, which the registry itself let through', async () => {
    const rescaledId = await registerRaw(registry.url, 'payments-received-rescaled-value', rescaledSchema);
    const bytes = toWireFormat(rescaledId, parseAvroSchema(rescaledSchema).toBuffer({ ...payment, usd_amount: new Decimal('50.5') }));
    const error = await rejection(serde.decodeAs('payment-received', bytes));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ rule: 'schema-incompatible' });
    expect((error as Error).message).toMatch(/field "usd_amount": decimal scale changed from 6 to 8/);
  });

  it('rejects bytes that are not a registry record, or name an unknown schema id', async () => {
    expect(await rejection(serde.decode(Buffer.from([1, 0, 0, 0, 1, 0])))).toMatchObject({ rule: 'wire-format' });
    expect(await rejection(serde.decode(Buffer.from([0, 0, 0])))).toMatchObject({ rule: 'wire-format' });
    expect(await rejection(serde.decode(toWireFormat(987_654, Buffer.from([0]))))).toMatchObject({ rule: 'schema-id-unknown' });
  });
});
