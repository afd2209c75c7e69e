// Where the pipeline's dependencies listen. Every command and processor receives these from one
// place: the environment when set (an existing stack), otherwise the ports of the local stack.
import type { Config } from '../core/config.ts';
import type { StackEndpoints } from '../core/endpoints.ts';
import { kafkaSecurityOf, schemaRegistryAuthOf } from '../core/kafka/kafka-security.ts';
import { localUsdtAddress } from './evm/local-wallets.ts';

// The type lives in core: the runtime needs it, and core does not depend on the stack.
export type { StackEndpoints } from '../core/endpoints.ts';

export const localDatabaseName = 'payout_pipeline';
export const localDatabaseUser = 'payout';
export const localDatabasePassword = 'payout';

export function localDatabaseUrl(port: number): string {
  return `postgres://${localDatabaseUser}:${localDatabasePassword}@localhost:${port}/${localDatabaseName}`;
}

/** Throws a PipelineError naming the setting when the Kafka or registry security settings do not fit together. */
export function resolveEndpoints(config: Config): StackEndpoints {
  const schemaRegistryAuth = schemaRegistryAuthOf(config);
  return {
    kafkaBrokers: (config.KAFKA_BROKERS ?? `localhost:${config.KAFKA_PORT}`).split(','),
    kafkaSecurity: kafkaSecurityOf(config),
    schemaRegistryUrl: config.SCHEMA_REGISTRY_URL ?? `http://localhost:${config.SCHEMA_REGISTRY_PORT}`,
    ...(schemaRegistryAuth === undefined ? {} : { schemaRegistryAuth }),
    databaseUrl: config.DATABASE_URL ?? localDatabaseUrl(config.POSTGRES_PORT),
    evmRpcUrl: config.EVM_RPC_URL ?? `http://127.0.0.1:${config.EVM_PORT}`,
    usdtContractAddress: config.USDT_CONTRACT_ADDRESS ?? localUsdtAddress,
    changeNowApiUrl: config.CHANGENOW_API_URL ?? `http://127.0.0.1:${config.CHANGENOW_SIMULATOR_PORT}`,
  };
}

/**
 * The same endpoints as environment variables, for child processes. The Kafka and registry
 * security settings are not re-encoded: children inherit them (file paths and secrets) with the
 * parent's environment, and read them the same way.
 */
export function endpointsAsEnvironment(endpoints: StackEndpoints): Record<string, string> {
  return {
    KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
    DATABASE_URL: endpoints.databaseUrl,
    EVM_RPC_URL: endpoints.evmRpcUrl,
    USDT_CONTRACT_ADDRESS: endpoints.usdtContractAddress,
    CHANGENOW_API_URL: endpoints.changeNowApiUrl,
  };
}
