// The Kafka side of the processor runtime: consume a batch, cut it into chunks, apply each chunk
// through the shared chunk-apply code (chunk-apply.ts: decode → inbox claims → the processor's
// handler → outbox and dead letters, in ONE PostgreSQL transaction), and only then commit the
// chunk's offsets. Then the processor's after-commit hook gets the chunk's results.
//
// Why the guarantee lives in PostgreSQL and not in Kafka: kafkajs transactions cover Kafka→Kafka
// only, and its sendOffsets has no consumer-group fencing. The inbox claim commits with the effect
// (chunk-apply.ts explains how); offsets are committed after it, so SIGKILL between the two
// re-delivers the chunk and the inbox drops what was applied. The after-commit hook runs after
// both commits, so what it counts counts once however often the transaction was retried.
// A broken invariant (InvariantViolation) stops the process (`onFatal`): it will not fix itself,
// and restarting the consumer would only apply the same chunk into the same bug.
import { Histogram } from 'prom-client';
import type { DatabasePool, DatabaseTransactionConnection } from 'slonik';
import type { Consumer, EachBatchPayload, KafkaClient } from '../kafka/kafka-client.ts';
import type { Logger } from '../logger.ts';
import type { MetricsRegistry } from '../metrics.ts';
import { createRetry } from '../retry.ts';
import { InvariantViolation } from '../errors.ts';
import type { ValueSchemaName } from '../../topics/topics.ts';
import type { ValueDecoder } from './consumed-record.ts';
import { createChunkApplier, isOutage } from './chunk-apply.ts';
import type { Processor } from './processor.ts';
import { postgresRuntimePersistence } from './postgres-runtime-persistence.ts';

export interface BatchConsumerOptions<S extends ValueSchemaName, Store, Result> {
  /** Consumer group and inbox namespace; one per processor. */
  name: string;
  kafka: KafkaClient;
  pool: DatabasePool;
  serde: ValueDecoder;
  processor: Processor<S, Store, Result, DatabaseTransactionConnection>;
  log: Logger;
  metrics: MetricsRegistry;
  now?: () => Date;
  /** Records per transaction; a longer batch is cut into chunks with a heartbeat between. */
  chunkSizeMax?: number;
  /**
   * Partitions whose batches are applied at once, each chunk in its own transaction on its own
   * connection (default 1). Safe wherever two instances of the processor may already run side by
   * side after a rebalance, which every processor must survive: the inbox claims, the row locks and
   * the sorted advisory locks that keep two instances apart keep two partitions of one instance
   * apart the same way. Each costs a pool connection while its chunk commits.
   */
  partitionsConcurrently?: number;
  /**
   * Told after each committed chunk, after the processor's hook: a window evaluation or a worker run
   * is requested here. Never awaited: what it starts may outlast the session timeout, and the batch
   * must go on heartbeating. Must not throw.
   */
  onChunkCommitted?: () => void;
  /** Called once with a broken invariant; the process stops (never awaited inside the batch). */
  onFatal: (error: InvariantViolation) => void;
  fromBeginning?: boolean;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  /** The broker's long-poll on an idle fetch; stop() waits for the fetch in flight, so this bounds a drain. */
  fetchMaxWaitMs: number;
}

export interface RunningBatchConsumer {
  readonly consumer: Consumer;
  /** Fails while the consumer is crashed and not (yet) back in its group: /ready shows it. */
  probe(): Promise<void>;
  stop(): Promise<void>;
}

export async function startBatchConsumer<S extends ValueSchemaName, Store, Result>(options: BatchConsumerOptions<S, Store, Result>): Promise<RunningBatchConsumer> {
  const { name, pool, log, processor } = options;
  const now = options.now ?? (() => new Date());
  const chunkSizeMax = options.chunkSizeMax ?? 500;
  const heartbeatIntervalMs = Math.max(1_000, Math.floor(options.sessionTimeoutMs / 5));
  const chunkSeconds = new Histogram({ name: 'consumer_chunk_seconds', help: 'Time to apply one chunk in one transaction', labelNames: ['consumer'] as const, registers: [options.metrics] });
  // A dependency outage is waited out in place (heartbeating), so the partition is not handed to
  // another member that would fail the same way.
  const retry = createRetry({
    attemptsMax: 50,
    delayInitialMs: 200,
    delayMaxMs: 5_000,
    totalMs: 120_000,
    shouldRetry: isOutage,
    onRetry: (error, attempt) => log.warn({ err: error, attempt, consumer: name }, 'chunk failed on a dependency; retrying'),
  });
  const applier = createChunkApplier({ name, processor, persistence: postgresRuntimePersistence(pool), decoder: options.serde, now, log, metrics: options.metrics, retry });

  function afterCommit(results: readonly unknown[], run: () => void): void {
    try {
      run();
    } catch (error) {
      // Committed already: a failing metric or log must not make the chunk look unapplied.
      log.error({ err: error, consumer: name, results: results.length }, 'after-commit hook failed');
    }
  }

  const consumer = options.kafka.consumer({
    groupId: name,
    allowAutoTopicCreation: false,
    sessionTimeout: options.sessionTimeoutMs,
    rebalanceTimeout: options.rebalanceTimeoutMs,
    heartbeatInterval: heartbeatIntervalMs,
    maxWaitTimeInMs: options.fetchMaxWaitMs,
    maxBytesPerPartition: 1_048_576,
    // Short on purpose. kafkajs retries a failed fetch or offset commit against the broker it had
    // (its metadata is not refreshed between these retries), so while that broker is dead every retry
    // fails the same way; only a crash, which restarts the consumer with fresh metadata, finds the new
    // leader or coordinator. With 10 retries up to 10 s apart the three-broker failover test saw the
    // router stall 41 s after a broker SIGKILL; these (≈6 s, then a restart 300 ms later) give up
    // soon after the cluster has moved leadership (KRaft notices a dead broker in about 9 s).
    retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 2_000 },
  });
  // kafkajs restarts a crashed consumer by itself; until it has joined its group again the process
  // is not ready, so an operator sees a processor that keeps failing instead of a green /ready.
  let crash: string | undefined = 'not joined yet';
  consumer.on(consumer.events.CRASH, (event) => {
    crash = event.payload.error.message;
    log.error({ err: event.payload.error, restart: event.payload.restart, consumer: name }, 'consumer crashed');
  });
  consumer.on(consumer.events.GROUP_JOIN, () => {
    crash = undefined;
  });
  await consumer.connect();
  for (const subscription of processor.subscriptions) {
    await consumer.subscribe({ topic: subscription.topic, fromBeginning: options.fromBeginning ?? true });
  }

  /**
   * A chunk can outlast the session timeout (one conversion of 50,000 payments takes tens of
   * seconds, and bisecting a chunk takes several transactions): without heartbeats meanwhile the
   * coordinator drops the member, the offset commit is refused and the consumer crashes.
   */
  async function applyKeptAlive<T>(apply: () => Promise<T>, heartbeat: () => Promise<void>): Promise<T> {
    const stopTimer = chunkSeconds.startTimer({ consumer: name });
    const keeper = setInterval(() => {
      heartbeat().catch((error: unknown) => log.warn({ err: error, consumer: name }, 'heartbeat during a long chunk failed'));
    }, heartbeatIntervalMs);
    try {
      return await apply();
    } catch (error) {
      // A broken invariant stops the process; the chunk's offsets are not committed, so the next
      // run (after the fix) applies it. The throw below ends this batch.
      if (error instanceof InvariantViolation) options.onFatal(error);
      throw error;
    } finally {
      clearInterval(keeper);
      stopTimer();
    }
  }

  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: options.partitionsConcurrently ?? 1,
    eachBatch: async (payload: EachBatchPayload) => {
      const { batch } = payload;
      for (let start = 0; start < batch.messages.length; start += chunkSizeMax) {
        if (!payload.isRunning() || payload.isStale()) return;
        const messages = batch.messages.slice(start, start + chunkSizeMax);
        const last = messages[messages.length - 1];
        if (last === undefined) return;
        const chunk = await applier.decode(batch.topic, batch.partition, messages);
        await payload.heartbeat();
        const results = await applyKeptAlive(() => applier.apply(chunk), () => payload.heartbeat());
        // Only now, after the transaction committed, does the group's position move past the chunk.
        payload.resolveOffset(last.offset);
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }]);
        await payload.heartbeat();
        const hook = processor.afterCommit;
        if (hook !== undefined) afterCommit(results, () => hook(results));
        options.onChunkCommitted?.();
      }
    },
  });

  return {
    consumer,
    probe: () => (crash === undefined ? Promise.resolve() : Promise.reject(new Error(`consumer ${name}: ${crash}`))),
    async stop() {
      // kafkajs' disconnect stops fetching, waits for the running batch, commits and leaves the group.
      await consumer.disconnect();
    },
  };
}
