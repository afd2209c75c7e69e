// What a processor consumes: a typed subscription per topic, and the consumed record that carries
// its schema name as a discriminant. A handler subscribed to several topics narrows with
// `switch (record.schemaName)` and gets the value type of that schema, so no processor casts a
// record value; the business id (the inbox key) is read from the typed value the same way.
import type { ValueRecordOf } from '../../schemas/generated/records.ts';
import type { ValueSchemaName } from '../../topics/topics.ts';

/** What the runtime knows of a record before its value is decoded. */
export interface RecordPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly correlationId: string;
  /** The record's bytes as consumed, kept for a dead letter that `replay` can put back unchanged. */
  readonly raw: Buffer;
}

interface ConsumedRecordOf<S extends ValueSchemaName> extends IdentifiedRecord {
  readonly schemaName: S;
  readonly value: ValueRecordOf<S>;
}

/** A decoded record of one of the schemas S: a union discriminated by `schemaName`. */
export type ConsumedRecord<S extends ValueSchemaName = ValueSchemaName> = { [K in S]: ConsumedRecordOf<K> }[S];

/** What the runtime needs of any consumed record to dead-letter it: where it came from and its business id. */
export interface IdentifiedRecord extends RecordPosition {
  /** The business id consumers dedupe on: payment id, command id, event id. */
  readonly messageId: string;
}

/** Decodes a value as schema S (the registry serde in production, a local one in the test driver). */
export interface ValueDecoder {
  decodeAs<S extends ValueSchemaName>(schemaName: S, buffer: Buffer): Promise<ValueRecordOf<S>>;
}

export interface Subscription<S extends ValueSchemaName = ValueSchemaName> {
  readonly topic: string;
  readonly schemaName: S;
  /** Decodes the value and reads its business id; throws what the decoder throws. */
  decode(decoder: ValueDecoder, position: RecordPosition, value: Buffer): Promise<ConsumedRecord<S>>;
}

/** A subscription to `topic`, whose values are `schemaName` records identified by `messageIdOf`. */
export function subscribe<S extends ValueSchemaName>(topic: string, schemaName: S, messageIdOf: (value: ValueRecordOf<S>) => string): Subscription<S> {
  return {
    topic,
    schemaName,
    async decode(decoder, position, bytes) {
      const value = await decoder.decodeAs(schemaName, bytes);
      // Field by field rather than spreading the position: this runs for every consumed record,
      // and a spread of a six-field object was a visible share of the router's decode.
      const { topic: recordTopic, partition, offset, key, correlationId, raw } = position;
      const record: ConsumedRecordOf<S> = { topic: recordTopic, partition, offset, key, correlationId, raw, schemaName, messageId: messageIdOf(value), value };
      return record;
    },
  };
}

/** The schema names of a subscription list: a handler's records are `ConsumedRecord<SubscribedSchema<typeof list>>`. */
export type SubscribedSchema<L extends readonly Subscription[]> = L[number]['schemaName'];
