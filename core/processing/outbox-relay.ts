// Publishes outbox rows to Kafka in id order and marks them published.
//
// Guarantee: at least once, in order per key. Every process runs a relay, but only the one holding
// a transaction-scoped advisory lock publishes at a time; it locks the rows, produces them with
// acks=all and stamps them in the same transaction. A crash after the broker acknowledged but
// before the commit publishes the rows again.
// That duplicate is expected: every record carries a business id (payment id, command id, event
// id) and every consumer dedupes on it in its inbox. Exactly once in effect, not in delivery.
//
// One request per partition, never one sendBatch over many: kafkajs (2.2.4, unmaintained) keeps a
// multi-broker send's answers per broker, and when one broker fails mid-send it retries only the
// brokers that did not answer. If that broker's partitions have meanwhile moved to a broker that
// already answered for its own, their records are never sent and the send still resolves — records
// lost with the rows stamped published (kafkajs issue 1303). The three-broker failover test lost a
// conversion command and a swap event that way. A one-partition send has one leader at a time, so
// its retry always goes to the partition's current leader.
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { Counter, Gauge } from 'prom-client';
import type { Logger } from '../logger.ts';
import type { MetricsRegistry } from '../metrics.ts';
import { correlationIdHeader, type Message } from '../kafka/kafka-client.ts';
import type { RecordProducer } from '../kafka/producer-session.ts';
import { partitionOf } from '../kafka/partitioning.ts';
import type { AvroSerde } from '../../schemas/registry.ts';
import { decodeAvroValue } from '../../schemas/avro-codec.ts';
import { isValueSchemaName, valueTypeOf } from '../../schemas/value-types.ts';
import type { ValueRecordOf } from '../../schemas/generated/records.ts';
import { assertInvariant } from '../errors.ts';
import { outboxRelayLock } from '../../db/advisory-locks.ts';

export interface OutboxRelayOptions {
  pool: DatabasePool;
  producer: RecordProducer;
  serde: AvroSerde;
  log: Logger;
  metrics: MetricsRegistry;
  /** Rows published per transaction. */
  batchSizeMax?: number;
  /** Pause when the outbox is empty; bounds the latency from commit to publish. */
  idleDelayMs?: number;
  /** Longest pause after failed passes; the pause doubles from idleDelayMs up to this. */
  failureDelayMaxMs?: number;
}

export interface OutboxRelay {
  start(): void;
  /** Ends the idle pause now: rows were just committed (the webhook calls it after each commit). */
  wake(): void;
  /** Publishes everything pending now (tests and shutdown). Returns the number of rows published. */
  drain(): Promise<number>;
  stop(): Promise<void>;
}

const outboxRow = z.object({
  id: z.bigint(),
  topic: z.string(),
  message_key: z.string().nullable(),
  schema_name: z.string().nullable(),
  payload: z.instanceof(Buffer).nullable(),
  headers: z.record(z.string()),
  correlation_id: z.string(),
});
type OutboxRow = z.infer<typeof outboxRow>;
/**
 * A pass's answer: whether this relay holds the lock, then a pending row's columns, all null when
 * none is pending or the lock is not held. The columns pass through and are read as an outboxRow.
 */
const outboxPassRow = z.object({ held: z.boolean(), id: z.bigint().nullable() }).passthrough();

/** The pause before the next pass: the idle delay, doubled per failed pass in a row, capped. */
export function relayPauseMs(failuresInRow: number, idleDelayMs: number, failureDelayMaxMs: number): number {
  if (failuresInRow <= 0) return idleDelayMs;
  return Math.min(Math.max(idleDelayMs, failureDelayMaxMs), idleDelayMs * 2 ** Math.min(failuresInRow, 30));
}

export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { pool, producer, serde, log } = options;
  const batchSizeMax = options.batchSizeMax ?? 500;
  const idleDelayMs = options.idleDelayMs ?? 100;
  const failureDelayMaxMs = options.failureDelayMaxMs ?? 10_000;
  const published = new Counter({ name: 'outbox_published_total', help: 'Outbox rows published', labelNames: ['topic'] as const, registers: [options.metrics] });
  const lag = new Gauge({ name: 'outbox_pending_rows', help: 'Outbox rows seen pending in the last pass', registers: [options.metrics] });
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  // A wake that arrives while a pass runs must not be lost: the next idle pause is then skipped.
  // A pause after failures (the backoff) is never cut short by a wake: at a thousand commits a
  // second that would hammer a broker that is down.
  let wakeRequested = false;
  let idlePause: (() => void) | undefined;

  async function valueOf(row: OutboxRow): Promise<Buffer | null> {
    if (row.schema_name === null) return row.payload; // a dead letter: the original bytes
    assertInvariant(isValueSchemaName(row.schema_name) && row.payload !== null, 'outbox row with a known schema and a payload', { id: row.id });
    const schemaName = row.schema_name;
    const value = decodeAvroValue(valueTypeOf(schemaName), row.payload, schemaName) as ValueRecordOf<typeof schemaName>;
    return serde.encode(row.topic, schemaName, value);
  }

  async function publishOnce(): Promise<number> {
    return pool.transaction(async (transaction) => {
      // One publisher at a time across all processes: the outbox is shared, and two relays
      // sending different rows at once could reorder records of one key (a client's config
      // revisions on a compacted topic). The others find the lock taken and wait for the next tick.
      // The lock and the rows in one statement (the lock is taken first, an InitPlan, and the rows
      // are read only when it is held): BEGIN, this, the UPDATE, COMMIT. The webhook runs a pass
      // every few milliseconds under load.
      const found = await transaction.any(sql.type(outboxPassRow)`
        WITH leader AS (SELECT pg_try_advisory_xact_lock(${outboxRelayLock().toString()}::bigint) AS held)
        SELECT leader.held, pending.*
        FROM leader LEFT JOIN LATERAL (
          SELECT id, topic, message_key, schema_name, payload, headers, correlation_id
          FROM outbox WHERE leader.held AND published_at IS NULL
          ORDER BY id LIMIT ${batchSizeMax}
          FOR UPDATE OF outbox
        ) AS pending ON true
      `);
      if (found[0]?.held !== true) return 0;
      const rows = found.flatMap(({ held: _held, ...row }) => (row.id === null ? [] : [outboxRow.parse(row)]));
      lag.set(rows.length);
      if (rows.length === 0) return 0;
      // Rows of one partition stay in id order within its request, so per-key order holds.
      const byPartition = new Map<string, { topic: string; partition: number; messages: Message[] }>();
      for (const row of rows) {
        const partition = partitionOf(row.topic, row.message_key);
        const group = byPartition.get(`${row.topic}/${partition}`) ?? { topic: row.topic, partition, messages: [] };
        group.messages.push({ key: row.message_key, value: await valueOf(row), partition, headers: { ...row.headers, [correlationIdHeader]: row.correlation_id } });
        byPartition.set(`${row.topic}/${partition}`, group);
      }
      // Partitions in parallel: kafkajs serialises requests per broker and keeps sequence numbers per
      // partition, so concurrent one-partition sends on the idempotent producer are safe. The pass
      // waits for every send to settle before it fails: a send of this pass still in flight during
      // the next pass would number that partition's batches twice.
      const sends = await Promise.allSettled([...byPartition.values()].map(({ topic, messages }) => producer.send({ topic, acks: -1, messages })));
      const failed = sends.find((send): send is PromiseRejectedResult => send.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      await transaction.query(sql.unsafe`
        UPDATE outbox SET published_at = now() WHERE id = ANY(${sql.array(rows.map((row) => row.id), 'int8')})
      `);
      for (const { topic, messages } of byPartition.values()) published.inc({ topic }, messages.length);
      return rows.length;
    });
  }

  async function drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const count = await publishOnce();
      total += count;
      if (count < batchSizeMax) return total;
    }
  }

  async function run(): Promise<void> {
    // Failed passes in a row: the pause doubles with each (capped), so a broker or database outage
    // is not hammered ten times a second, and a log line per failure stays readable.
    let failures = 0;
    while (running) {
      try {
        // After a publishing pass the next one runs at once: in a consumer process nothing wakes the
        // relay, and rows its chunks committed meanwhile would otherwise wait for the idle tick.
        const count = await drain();
        failures = 0;
        if (count > 0) continue;
      } catch (error) {
        failures += 1;
        log.warn({ err: error, failures }, 'outbox relay pass failed; retrying');
      }
      if (wakeRequested && failures === 0) {
        wakeRequested = false;
        continue;
      }
      const delayMs = relayPauseMs(failures, idleDelayMs, failureDelayMaxMs);
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (failures === 0) idlePause = resolve;
        setTimeout(resolve, delayMs);
      });
      idlePause = undefined;
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    wake() {
      wakeRequested = true;
      idlePause?.();
    },
    drain,
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
  };
}
