// The one place that knows kafkajs. Processors import from here, so a KafkaJS-compatible client
// (e.g. @confluentinc/kafka-javascript's KafkaJS API) could replace kafkajs 2.2.4 — the last
// release, little maintained — without touching them. Every option is explicit: kafkajs' defaults
// retry an idempotent producer forever, which would hang a webhook request while Kafka is down.
import kafkajs, { type LogEntry, type Producer, type Admin, type IHeaders } from 'kafkajs';
import type { Logger } from '../logger.ts';
import { UnavailableError } from '../errors.ts';
import { kafkajsSecurityOptions, type KafkaSecurity } from './kafka-security.ts';

export type { Producer, Admin, Consumer, EachBatchPayload, IHeaders, KafkaMessage, Message } from 'kafkajs';

export interface KafkaClientOptions {
  brokers: readonly string[];
  /** SASL/TLS of the cluster (StackEndpoints.kafkaSecurity); required so no client is created without it. */
  security: KafkaSecurity;
  clientId: string;
  log: Logger;
  requestTimeoutMs: number;
  connectionTimeoutMs?: number;
}

// kafkajs is CommonJS and Node's ESM loader cannot see all of its named exports
// (ConfigResourceTypes among them), so they are taken from the default export once, here.
const { Kafka, logLevel, ConfigResourceTypes, Partitioners } = kafkajs;
export { ConfigResourceTypes, Partitioners };

export type KafkaClient = InstanceType<typeof Kafka>;

const boundedRetriesWarning = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';

const pinoLevelOf: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function createKafkaClient(options: KafkaClientOptions): KafkaClient {
  const log = options.log.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ...kafkajsSecurityOptions(options.security),
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    requestTimeout: options.requestTimeoutMs,
    // kafkajs' own retry is kept short: callers decide with core/retry how long to keep trying.
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        // Logged by kafkajs for every producer; our bounded retries are deliberate (see createIdempotentProducer).
        if (message === boundedRetriesWarning) return;
        log[pinoLevelOf[level] ?? 'info'](rest, message);
      },
  });
}

export interface ProducerOptions {
  transactionalId?: string;
}

/**
 * An idempotent producer (acks from all in-sync replicas, broker-side sequence dedupe), so a retried
 * send never writes the same record twice within one producer session.
 */
export function createIdempotentProducer(kafka: KafkaClient, options: ProducerOptions = {}): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // kafkajs 2's default (murmur2, the Java client's), stated so a record's partition never
    // depends on a library default; keyed records of one client stay in one partition, in order.
    createPartitioner: Partitioners.DefaultPartitioner,
    ...(options.transactionalId === undefined ? {} : { transactionalId: options.transactionalId }),
    // Bounded on purpose (kafkajs warns that this "may invalidate EoS"): an unbounded retry would
    // hold a webhook request forever. A record re-sent after giving up is deduped by its business
    // id downstream, which is the guarantee we rely on, not the producer's sequence numbers.
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 3_000 },
  });
}

/** Resolves when the cluster answers a metadata request; rejects with a retriable error otherwise. */
export async function probeKafka(kafka: KafkaClient): Promise<void> {
  const admin: Admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (error) {
    throw new UnavailableError('Kafka is not reachable', { cause: error });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export const correlationIdHeader = 'correlation-id';

export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}
