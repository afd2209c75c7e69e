// A test driver for a processor, in the spirit of Kafka Streams' TopologyTestDriver: it feeds
// records to the processor through the SAME chunk-apply code the Kafka consumer uses
// (chunk-apply.ts: decode, inbox claims, handler, outbox, dead letters, claim release on reject,
// poison bisection) over the in-memory runtime persistence, runs the after-commit hook as the
// consumer does (after the transaction and the "offsets" committed), advances a manual clock
// (firing punctuation), and lets a test read what was emitted and dead-lettered. No PostgreSQL,
// no broker: the runtime's behaviour is proved in `npm run test:unit`.
//
// Values are framed as the registry would frame them (magic byte, schema id, Avro payload), with a
// local schema id per schema name, so a fed value goes through the same decoding as a consumed one,
// and raw bytes (`pipeRaw`) test what happens to a record no subscription can decode.
import { Registry } from 'prom-client';
import { ValidationError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { createLogger } from '../logger.ts';
import { decodeAvroValue, encodeAvroValue } from '../../schemas/avro-codec.ts';
import type { ValueRecordOf } from '../../schemas/generated/records.ts';
import { parseWireFormat, toWireFormat } from '../../schemas/registry.ts';
import { valueTypeOf } from '../../schemas/value-types.ts';
import type { ValueSchemaName } from '../../topics/topics.ts';
import type { IHeaders } from '../kafka/kafka-client.ts';
import { createChunkApplier, type IncomingMessage } from './chunk-apply.ts';
import type { ValueDecoder } from './consumed-record.ts';
import { createManualClock, type ManualClock } from './manual-clock.ts';
import { createMemoryRuntimePersistence, type MemoryRuntimePersistence, type MemoryTransaction } from './memory-runtime-persistence.ts';
import type { DeadLetter, OutboxRecord } from './outbox.ts';
import type { Processor } from './processor.ts';
import { startPunctuation, type Punctuation } from './punctuation.ts';

/** The local registry's ids: one per schema name, in the order first seen. */
function createLocalSchemaIds(): { idOf(schemaName: ValueSchemaName): number; nameOf(id: number): ValueSchemaName | undefined } {
  const names: ValueSchemaName[] = [];
  return {
    idOf(schemaName) {
      const index = names.indexOf(schemaName);
      if (index >= 0) return index + 1;
      names.push(schemaName);
      return names.length;
    },
    nameOf: (id) => names[id - 1],
  };
}

export interface RawInput {
  readonly key?: string | null;
  readonly value: Buffer | null;
  readonly headers?: IHeaders;
}

export interface ValueInput<K extends ValueSchemaName> {
  readonly key?: string | null;
  readonly value: ValueRecordOf<K>;
  readonly headers?: IHeaders;
}

export interface TestDriverOptions<S extends ValueSchemaName, Store, Result> {
  processor: Processor<S, Store, Result, MemoryTransaction>;
  /** Consumer group and inbox namespace; default `test`. */
  name?: string;
  /** Shared by a driver and its restart: the inbox and the outbox outlive the "process". */
  persistence?: MemoryRuntimePersistence;
  clock?: ManualClock;
  /** A punctuation on the manual clock (a window's time trigger). */
  punctuation?: { readonly intervalMs: number; readonly run: () => Promise<void> };
  log?: Logger;
}

export interface TestDriver<S extends ValueSchemaName, Result> {
  readonly clock: ManualClock;
  readonly persistence: MemoryRuntimePersistence;
  /** Feeds values of one schema to `topic` as one chunk; resolves when it committed (or throws what the runtime threw). */
  pipe<K extends S>(topic: string, schemaName: K, inputs: readonly ValueInput<K>[]): Promise<void>;
  /** A value framed as the driver's decoder reads it, to mix with raw bytes in one `pipeRaw` chunk. */
  encode<K extends S>(schemaName: K, value: ValueRecordOf<K>): Buffer;
  /** Feeds raw bytes (possibly undecodable) to `topic` as one chunk. */
  pipeRaw(topic: string, inputs: readonly RawInput[]): Promise<void>;
  /** Moves the manual clock, firing the punctuation on the way. */
  advance(ms: number): Promise<void>;
  /** Outgoing records committed to the outbox, in order. */
  readonly emitted: readonly OutboxRecord[];
  /** Dead letters committed to the outbox, in order. */
  readonly deadLetters: readonly DeadLetter[];
  /** The after-commit hook's calls: one per committed chunk, with that chunk's results. */
  readonly afterCommits: readonly (readonly Result[])[];
  /** Outbox rows the "relay" published at `stop` (records and dead letters, in order). */
  readonly published: readonly (OutboxRecord | DeadLetter)[];
  /** Committed offset (the next one to read) per topic. */
  committedOffset(topic: string): bigint;
  /** Waits for the chunk in flight, stops the punctuation, then publishes the outbox (the drain on SIGTERM). */
  stop(): Promise<void>;
}

export function createTestDriver<S extends ValueSchemaName, Store, Result>(options: TestDriverOptions<S, Store, Result>): TestDriver<S, Result> {
  const name = options.name ?? 'test';
  const persistence = options.persistence ?? createMemoryRuntimePersistence();
  const clock = options.clock ?? createManualClock();
  const log = options.log ?? createLogger({ name, level: 'silent' });
  const schemaIds = createLocalSchemaIds();
  const decoder: ValueDecoder = {
    decodeAs<K extends ValueSchemaName>(schemaName: K, buffer: Buffer): Promise<ValueRecordOf<K>> {
      const { schemaId, payload } = parseWireFormat(buffer);
      if (schemaIds.nameOf(schemaId) !== schemaName) {
        return Promise.reject(new ValidationError('value', 'schema-incompatible', `records of schema id ${schemaId} cannot be read as ${schemaName}`));
      }
      // Decoded by the reader type of schemaName, so it has that record's shape (as in registry.ts).
      return Promise.resolve(decodeAvroValue(valueTypeOf(schemaName), payload, schemaName) as ValueRecordOf<K>);
    },
  };
  const applier = createChunkApplier({ name, processor: options.processor, persistence, decoder, now: () => clock.now(), log, metrics: new Registry() });
  const offsets = new Map<string, bigint>();
  const positions = new Map<string, bigint>();
  const afterCommits: (readonly Result[])[] = [];
  const published: (OutboxRecord | DeadLetter)[] = [];
  let publishedRows = 0;
  let inFlight: Promise<void> = Promise.resolve();
  let stopped = false;
  const punctuation: Punctuation | undefined = options.punctuation === undefined ? undefined : startPunctuation({ ...options.punctuation, log, clock });

  async function applyMessages(topic: string, messages: readonly IncomingMessage[]): Promise<void> {
    const chunk = await applier.decode(topic, 0, messages);
    const results = await applier.apply(chunk);
    const last = messages[messages.length - 1];
    if (last !== undefined) offsets.set(topic, BigInt(last.offset) + 1n);
    options.processor.afterCommit?.(results);
    afterCommits.push(results);
  }

  function encode<K extends ValueSchemaName>(schemaName: K, value: ValueRecordOf<K>): Buffer {
    return toWireFormat(schemaIds.idOf(schemaName), encodeAvroValue(valueTypeOf(schemaName), value, schemaName));
  }

  function feed(topic: string, inputs: readonly RawInput[]): Promise<void> {
    if (stopped) return Promise.reject(new Error('the driver is stopped'));
    const first = positions.get(topic) ?? 0n;
    positions.set(topic, first + BigInt(inputs.length));
    const messages: IncomingMessage[] = inputs.map((input, index) => ({
      offset: (first + BigInt(index)).toString(),
      key: input.key === undefined || input.key === null ? null : Buffer.from(input.key),
      value: input.value,
      ...(input.headers === undefined ? {} : { headers: input.headers }),
    }));
    // One chunk at a time, as one partition's consumer applies them.
    const run = inFlight.then(() => applyMessages(topic, messages));
    inFlight = run.catch(() => undefined);
    return run;
  }

  return {
    clock,
    persistence,
    pipe(topic, schemaName, inputs) {
      return feed(
        topic,
        inputs.map((input) => ({ ...input, value: encode(schemaName, input.value) })),
      );
    },
    encode,
    pipeRaw: feed,
    advance: (ms) => clock.advance(ms),
    get emitted() {
      return persistence.outbox.flatMap((row) => (row.kind === 'record' ? [row.record] : []));
    },
    get deadLetters() {
      return persistence.outbox.flatMap((row) => (row.kind === 'dead-letter' ? [row.letter] : []));
    },
    afterCommits,
    published,
    committedOffset: (topic) => offsets.get(topic) ?? 0n,
    async stop() {
      stopped = true;
      await punctuation?.stop();
      await inFlight;
      for (const row of persistence.outbox.slice(publishedRows)) published.push(row.kind === 'record' ? row.record : row.letter);
      publishedRows = persistence.outbox.length;
    },
  };
}
