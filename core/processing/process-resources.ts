// What every processor process opens at start: a database pool, a Kafka client and idempotent
// producer, the registry serde and a metrics registry — each waited for (bounded) when its service
// is not up yet, and each registered with the shutdown so it closes in reverse order.
import type { DatabasePool } from 'slonik';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Shutdown } from '../shutdown.ts';
import { createMetricsRegistry, type MetricsRegistry } from '../metrics.ts';
import { createRetry } from '../retry.ts';
import { createKafkaClient, probeKafka, type KafkaClient } from '../kafka/kafka-client.ts';
import { createProducerSession, type RecordProducer } from '../kafka/producer-session.ts';
import { redactedKafkaSecurity } from '../kafka/kafka-security.ts';
import type { ReadinessProbe } from '../http/operations-routes.ts';
import { createDatabasePool, type DatabasePoolOptions } from '../../db/pool.ts';
import { probeDatabase } from '../../db/probe-database.ts';
import { schemaRegistryAccessOf, createAvroSerde, createSchemaRegistryClient, probeSchemaRegistry, type AvroSerde } from '../../schemas/registry.ts';
import type { StackEndpoints } from '../endpoints.ts';

export interface ProcessResources {
  pool: DatabasePool;
  kafka: KafkaClient;
  /** Renewed under a new producer id after a failed send (producer-session.ts). */
  producer: RecordProducer;
  serde: AvroSerde;
  metrics: MetricsRegistry;
  probes: Record<string, ReadinessProbe>;
  /** True once the process drains: long work (a window's quote fetching) stops early instead of holding the drain up. */
  readonly draining: () => boolean;
}

export interface OpenProcessResourcesOptions {
  name: string;
  config: Config;
  endpoints: StackEndpoints;
  log: Logger;
  shutdown: Shutdown;
  /** Overrides of the pool's defaults (db/pool.ts). */
  pool?: Omit<DatabasePoolOptions, 'applicationName'>;
}

export async function openProcessResources(options: OpenProcessResourcesOptions): Promise<ProcessResources> {
  const { name, config, endpoints, log, shutdown } = options;
  // A processor started before its dependencies waits for them (bounded), instead of crash-looping.
  const untilReachable = createRetry({
    attemptsMax: 60,
    delayInitialMs: 500,
    delayMaxMs: 5_000,
    totalMs: 120_000,
    shouldRetry: () => !shutdown.draining,
    onRetry: (error, attempt) => log.warn({ err: error, attempt }, 'dependency not reachable yet; retrying'),
  });

  const metrics = createMetricsRegistry(name);
  const pool = await untilReachable(() => createDatabasePool(endpoints.databaseUrl, { ...options.pool, applicationName: name }));
  shutdown.add('database pool', () => pool.end());

  const kafka = createKafkaClient({
    brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity,
    clientId: `${config.KAFKA_CLIENT_ID}-${name}`,
    log,
    requestTimeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS,
  });
  // The mechanism, user and TLS only: the password and key stay out of the logs.
  log.info({ kafka: redactedKafkaSecurity(endpoints.kafkaSecurity), schemaRegistryAuth: endpoints.schemaRegistryAuth !== undefined }, 'Kafka and registry security');
  const producer = createProducerSession(kafka, log);
  await untilReachable(() => producer.connect());
  shutdown.add('kafka producer', () => producer.disconnect());

  const serde = createAvroSerde(createSchemaRegistryClient(schemaRegistryAccessOf(endpoints)));
  const probes: Record<string, ReadinessProbe> = {
    kafka: () => probeKafka(kafka),
    schemaRegistry: () => probeSchemaRegistry(schemaRegistryAccessOf(endpoints)),
    database: () => probeDatabase(pool),
  };
  return { pool, kafka, producer, serde, metrics, probes, draining: () => shutdown.draining };
}
