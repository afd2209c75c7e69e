// Writing outgoing records into the outbox, inside the caller's transaction: the record exists if
// and only if the effect that caused it committed. The relay (outbox-relay.ts) publishes them.
import { sql, type DatabaseTransactionConnection } from 'slonik';
import type { ValueSchemaName } from '../../topics/topics.ts';
import type { ValueRecordOf } from '../../schemas/generated/records.ts';
import { encodeAvroValue } from '../../schemas/avro-codec.ts';
import { valueTypeOf } from '../../schemas/value-types.ts';

export interface OutboxRecord<S extends ValueSchemaName = ValueSchemaName> {
  topic: string;
  schemaName: S;
  key: string;
  value: ValueRecordOf<S>;
  correlationId: string;
  headers?: Readonly<Record<string, string>>;
}

export interface DeadLetter {
  topic: string;
  key: string | null;
  /** The consumed record's bytes, unchanged, so `replay` can put it back as it was. */
  payload: Buffer | null;
  correlationId: string;
  headers: Readonly<Record<string, string>>;
}

/**
 * One INSERT however many records a batch emits, with one array parameter per column: the
 * statement's parameter count is 6 whatever the row count, so no chunk can reach PostgreSQL's
 * 65,535-parameter limit (a 39,300-credit settlement once built one with 235,800 and stalled).
 * Payloads travel as hex text because slonik's bytea arrays refuse a null member (a tombstone's
 * dead letter has no payload).
 */
async function insertOutboxRows(transaction: DatabaseTransactionConnection, rows: readonly OutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  await transaction.query(sql.unsafe`
    INSERT INTO outbox (topic, message_key, schema_name, payload, headers, correlation_id)
    SELECT row.topic, row.message_key, row.schema_name, decode(row.payload_hex, 'hex'), row.headers::jsonb, row.correlation_id
    FROM unnest(
      ${sql.array(rows.map((row) => row.topic), 'text')},
      ${sql.array(rows.map((row) => row.key), 'text')},
      ${sql.array(rows.map((row) => row.schemaName), 'text')},
      ${sql.array(rows.map((row) => (row.payload === null ? null : row.payload.toString('hex'))), 'text')},
      ${sql.array(rows.map((row) => JSON.stringify(row.headers)), 'text')},
      ${sql.array(rows.map((row) => row.correlationId), 'text')}
    ) AS row (topic, message_key, schema_name, payload_hex, headers, correlation_id)
  `);
}

interface OutboxRow {
  topic: string;
  key: string | null;
  schemaName: string | null;
  payload: Buffer | null;
  headers: Readonly<Record<string, string>>;
  correlationId: string;
}

export async function insertOutboxRecords(transaction: DatabaseTransactionConnection, records: readonly OutboxRecord[]): Promise<void> {
  await insertEncodedOutboxRecords(
    transaction,
    records.map((record) => ({ ...record, payload: encodeAvroValue(valueTypeOf(record.schemaName), record.value, record.schemaName) })),
  );
}

/** The rows of records already Avro-encoded. */
async function insertEncodedOutboxRecords(
  transaction: DatabaseTransactionConnection,
  records: readonly (OutboxRecord & { readonly payload: Buffer })[],
): Promise<void> {
  await insertOutboxRows(
    transaction,
    records.map((record) => ({
      topic: record.topic,
      key: record.key,
      schemaName: record.schemaName,
      payload: record.payload,
      headers: record.headers ?? {},
      correlationId: record.correlationId,
    })),
  );
}

export async function insertDeadLetters(transaction: DatabaseTransactionConnection, letters: readonly DeadLetter[]): Promise<void> {
  await insertOutboxRows(
    transaction,
    letters.map((letter) => ({ topic: letter.topic, key: letter.key, schemaName: null, payload: letter.payload, headers: letter.headers, correlationId: letter.correlationId })),
  );
}
