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

/** Rows for one multi-row INSERT: one round trip however many records a batch emits. */
export async function insertOutboxRecords(transaction: DatabaseTransactionConnection, records: readonly OutboxRecord[]): Promise<void> {
  if (records.length === 0) return;
  const rows = records.map((record) => {
    const payload = encodeAvroValue(valueTypeOf(record.schemaName), record.value, record.schemaName);
    return sql.fragment`(${record.topic}, ${record.key}, ${record.schemaName}, ${sql.binary(payload)}, ${sql.jsonb(record.headers ?? {})}, ${record.correlationId})`;
  });
  await transaction.query(sql.unsafe`
    INSERT INTO outbox (topic, message_key, schema_name, payload, headers, correlation_id)
    VALUES ${sql.join(rows, sql.fragment`, `)}
  `);
}

export async function insertDeadLetters(transaction: DatabaseTransactionConnection, letters: readonly DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  const rows = letters.map(
    (letter) =>
      sql.fragment`(${letter.topic}, ${letter.key}, NULL, ${letter.payload === null ? null : sql.binary(letter.payload)}, ${sql.jsonb(letter.headers)}, ${letter.correlationId})`,
  );
  await transaction.query(sql.unsafe`
    INSERT INTO outbox (topic, message_key, schema_name, payload, headers, correlation_id)
    VALUES ${sql.join(rows, sql.fragment`, `)}
  `);
}
