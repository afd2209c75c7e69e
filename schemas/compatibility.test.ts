// Proves the offline evolution check accepts what old records can still be read by and refuses,
// naming the field, what they cannot — by freezing a schema into a temporary `schemas/` layout,
// evolving it, and running checkSchemas/freezeSchemas on the files — and that the repo's own
// schemas and golden fixtures pass.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Decimal } from '../core/money.ts';
import { checkSchemas, freezeSchemas, type SchemaProblem } from './compatibility.ts';
import { parseAvroSchema } from './logical-types.ts';
import { schemasDirectory } from './schema-files.ts';

type Field = Record<string, unknown> & { name: string };

const baseFields: readonly Field[] = [
  { name: 'payment_id', type: 'string' },
  { name: 'usd_amount', type: { type: 'bytes', logicalType: 'decimal', precision: 28, scale: 8 } },
  { name: 'fee_usd', type: ['null', { type: 'bytes', logicalType: 'decimal', precision: 28, scale: 8 }], default: null },
  { name: 'revision', type: 'int' },
  { name: 'paid_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
];

function recordSchema(fields: readonly Field[]): object {
  return { type: 'record', name: 'PaymentReceived', namespace: 'test.pipeline', fields };
}

function replaceField(fields: readonly Field[], name: string, replacement: Field | null): Field[] {
  return fields.flatMap((field) => (field.name !== name ? [field] : replacement === null ? [] : [replacement]));
}

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'schemas-compatibility-'));
  await mkdir(join(directory, 'avro'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function writeCurrent(fields: readonly Field[], name = 'payment-received'): Promise<void> {
  await writeFile(join(directory, 'avro', `${name}.avsc`), `${JSON.stringify(recordSchema(fields), null, 2)}\n`);
}

/** Writes the schema, freezes it as the next history version, and returns that version. */
async function freeze(fields: readonly Field[]): Promise<number> {
  await writeCurrent(fields);
  const [result] = await freezeSchemas(directory);
  expect(result?.status).toBe('frozen');
  return result?.version ?? 0;
}

async function problemsFor(fields: readonly Field[]): Promise<readonly SchemaProblem[]> {
  await writeCurrent(fields);
  return (await checkSchemas(directory)).problems;
}

describe('checkSchemas', () => {
  it('reports a schema without history as new, not frozen, and no problem', async () => {
    await writeCurrent(baseFields);
    const report = await checkSchemas(directory);
    expect(report).toEqual({ problems: [], unfrozen: ['payment-received'], checked: [] });
  });

  it('passes an unchanged schema against its own history', async () => {
    await freeze(baseFields);
    expect(await checkSchemas(directory)).toEqual({ problems: [], unfrozen: [], checked: [{ schema: 'payment-received', versions: [1] }] });
  });

  it('passes a field added with a default', async () => {
    await freeze(baseFields);
    expect(await problemsFor([...baseFields, { name: 'memo', type: ['null', 'string'], default: null }])).toEqual([]);
  });

  it('passes promotions Avro allows (int to long)', async () => {
    await freeze(baseFields);
    expect(await problemsFor(replaceField(baseFields, 'revision', { name: 'revision', type: 'long' }))).toEqual([]);
  });

  it('fails a field added without a default, naming it', async () => {
    await freeze(baseFields);
    const problems = await problemsFor([...baseFields, { name: 'network', type: 'string' }]);
    expect(problems).toEqual([
      { schema: 'payment-received', version: 1, message: expect.stringMatching(/^field "network" has no default, but records written with v1 lack it/) as unknown },
    ]);
  });

  it('fails a removed default once any frozen version lacks the field, naming it', async () => {
    await freeze(baseFields);
    const withMemo = [...baseFields, { name: 'memo', type: ['null', 'string'], default: null }];
    await freeze(withMemo);
    const problems = await problemsFor(replaceField(withMemo, 'memo', { name: 'memo', type: ['null', 'string'] }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ version: 1, message: expect.stringContaining('field "memo" has no default') as unknown });
  });

  it('lets a default go when every frozen version has the field (Avro BACKWARD; the registry agrees)', async () => {
    await freeze(baseFields);
    expect(await problemsFor(replaceField(baseFields, 'fee_usd', { name: 'fee_usd', type: ['null', { type: 'bytes', logicalType: 'decimal', precision: 28, scale: 8 }] }))).toEqual([]);
  });

  it('fails a changed field type, naming the field', async () => {
    await freeze(baseFields);
    const problems = await problemsFor(replaceField(baseFields, 'revision', { name: 'revision', type: 'string' }));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/^field "revision": type changed from "int" to "string"/);
  });

  it('fails a changed decimal scale, naming the field, even inside a nullable union', async () => {
    await freeze(baseFields);
    const rescaled = replaceField(baseFields, 'usd_amount', { name: 'usd_amount', type: { type: 'bytes', logicalType: 'decimal', precision: 28, scale: 6 } });
    const problems = await problemsFor(rescaled);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/^field "usd_amount": decimal scale changed from 8 to 6/);

    const nullableRescaled = replaceField(baseFields, 'fee_usd', {
      name: 'fee_usd',
      type: ['null', { type: 'bytes', logicalType: 'decimal', precision: 38, scale: 18 }],
      default: null,
    });
    const nullableProblems = await problemsFor(nullableRescaled);
    expect(nullableProblems.map((problem) => problem.message)).toEqual([expect.stringMatching(/^field "fee_usd": decimal scale changed from 8 to 18/)]);
  });

  it('fails a shrunk decimal precision but passes a grown one', async () => {
    await freeze(baseFields);
    const withPrecision = (precision: number) =>
      replaceField(baseFields, 'usd_amount', { name: 'usd_amount', type: { type: 'bytes', logicalType: 'decimal', precision, scale: 8 } });
    expect(await problemsFor(withPrecision(38))).toEqual([]);
    expect((await problemsFor(withPrecision(20)))[0]?.message).toMatch(/^field "usd_amount": decimal precision shrank from 28 to 20/);
  });

  it('fails a removed enum symbol and a renamed record', async () => {
    const withEnum = [...baseFields, { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['OPEN', 'DONE'] } }];
    await freeze(withEnum);
    const problems = await problemsFor(replaceField(withEnum, 'status', { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['OPEN'] } }));
    expect(problems[0]?.message).toMatch(/^field "status": enum test\.pipeline\.Status lost symbol\(s\) DONE/);

    await writeFile(join(directory, 'avro', 'payment-received.avsc'), JSON.stringify({ ...recordSchema(withEnum), name: 'PaymentSeen' }));
    expect((await checkSchemas(directory)).problems[0]?.message).toMatch(/renamed to test\.pipeline\.PaymentSeen without an alias/);
  });

  it('checks transitively: every frozen version, not only the latest', async () => {
    await freeze(baseFields);
    await freeze([...baseFields, { name: 'memo', type: ['null', 'string'], default: null }]);
    const problems = await problemsFor(replaceField(baseFields, 'revision', { name: 'revision', type: 'string' }));
    expect(problems.map((problem) => problem.version)).toEqual([1, 2]);
  });

  it('decodes the golden fixture of v1 with v2 through the resolver', async () => {
    await freeze(baseFields);
    const v2Fields = [...baseFields, { name: 'memo', type: ['null', 'string'], default: null }];
    await freeze(v2Fields);
    expect((await checkSchemas(directory)).problems).toEqual([]);

    const v1 = parseAvroSchema(await readFile(join(directory, 'history', 'payment-received', 'v1.avsc'), 'utf8'));
    const v2 = parseAvroSchema(recordSchema(v2Fields));
    const fixture = Buffer.from((await readFile(join(directory, 'history', 'payment-received', 'v1.fixture.avro-hex'), 'utf8')).trim(), 'hex');
    const decoded = v2.fromBuffer(fixture, v2.createResolver(v1)) as Record<string, unknown>;
    expect(decoded['memo']).toBeNull();
    expect((decoded['usd_amount'] as Decimal).equals(new Decimal('12345678901234567890.12345678'))).toBe(true);
    expect(decoded['paid_at']).toEqual(new Date('2025-01-31T23:59:58.765Z'));
  });

  it('notices an edited golden fixture and a missing one', async () => {
    await freeze(baseFields);
    const historyDirectory = join(directory, 'history', 'payment-received');
    const json = JSON.parse(await readFile(join(historyDirectory, 'v1.fixture.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(historyDirectory, 'v1.fixture.json'), JSON.stringify({ ...json, usd_amount: '1.00000000' }));
    expect((await checkSchemas(directory)).problems[0]?.message).toMatch(/fixture and its \.fixture\.json disagree/);

    await rm(join(historyDirectory, 'v1.fixture.avro-hex'));
    expect((await checkSchemas(directory)).problems[0]?.message).toMatch(/has no golden fixture/);
  });

  it('reports a history whose schema file is gone', async () => {
    await freeze(baseFields);
    await writeCurrent(baseFields, 'credit-issued');
    await rm(join(directory, 'avro', 'payment-received.avsc'));
    const report = await checkSchemas(directory);
    expect(report.problems).toEqual([{ schema: 'payment-received', version: null, message: expect.stringContaining('is gone') as unknown }]);
    expect(report.unfrozen).toEqual(['credit-issued']);
  });
});

describe('freezeSchemas', () => {
  it('writes v1 with a deterministic fixture, then nothing until the schema changes', async () => {
    await writeCurrent(baseFields);
    expect(await freezeSchemas(directory)).toEqual([{ schema: 'payment-received', version: 1, status: 'frozen' }]);
    const historyDirectory = join(directory, 'history', 'payment-received');
    const hex = await readFile(join(historyDirectory, 'v1.fixture.avro-hex'), 'utf8');
    expect(await readFile(join(historyDirectory, 'v1.avsc'), 'utf8')).toBe(await readFile(join(directory, 'avro', 'payment-received.avsc'), 'utf8'));
    expect(JSON.parse(await readFile(join(historyDirectory, 'v1.fixture.json'), 'utf8'))).toMatchObject({
      usd_amount: '12345678901234567890.12345678',
      fee_usd: '12345678901234567890.12345678',
      revision: 2_000_000_001,
    });

    // Whitespace and key order are not a new version; the same schema gives the same bytes.
    await writeFile(join(directory, 'avro', 'payment-received.avsc'), JSON.stringify(recordSchema(baseFields)));
    expect(await freezeSchemas(directory)).toEqual([{ schema: 'payment-received', version: 1, status: 'unchanged' }]);

    const other = await mkdtemp(join(tmpdir(), 'schemas-compatibility-'));
    try {
      await mkdir(join(other, 'avro'));
      await writeFile(join(other, 'avro', 'payment-received.avsc'), JSON.stringify(recordSchema(baseFields)));
      await freezeSchemas(other);
      expect(await readFile(join(other, 'history', 'payment-received', 'v1.fixture.avro-hex'), 'utf8')).toBe(hex);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('freezes a compatible change as the next version and refuses an incompatible one', async () => {
    await freeze(baseFields);
    expect(await freeze([...baseFields, { name: 'memo', type: ['null', 'string'], default: null }])).toBe(2);
    await writeCurrent([...baseFields, { name: 'network', type: 'string' }]);
    await expect(freezeSchemas(directory)).rejects.toThrow(/refusing to freeze.*\n.*field "network"/);
  });
});

describe("the repository's schemas", () => {
  it('are all frozen and read every history version and golden fixture', async () => {
    const report = await checkSchemas(schemasDirectory);
    expect(report.problems).toEqual([]);
    expect(report.unfrozen).toEqual([]);
    expect(report.checked.length).toBeGreaterThanOrEqual(10);
  });
});
