// Where the pipeline's dependencies listen. Every command and processor receives these from one
// place: the environment when set (an existing stack), otherwise the ports of the local stack.
import type { Config } from '../core/config.ts';

export interface StackEndpoints {
  readonly kafkaBrokers: readonly string[];
  readonly schemaRegistryUrl: string;
  readonly databaseUrl: string;
}

export const localDatabaseName = 'payout_pipeline';
export const localDatabaseUser = 'payout';
export const localDatabasePassword = 'payout';

export function localDatabaseUrl(port: number): string {
  return `postgres://${localDatabaseUser}:${localDatabasePassword}@localhost:${port}/${localDatabaseName}`;
}

export function resolveEndpoints(config: Config): StackEndpoints {
  return {
    kafkaBrokers: (config.KAFKA_BROKERS ?? `localhost:${config.KAFKA_PORT}`).split(','),
    schemaRegistryUrl: config.SCHEMA_REGISTRY_URL ?? `http://localhost:${config.SCHEMA_REGISTRY_PORT}`,
    databaseUrl: config.DATABASE_URL ?? localDatabaseUrl(config.POSTGRES_PORT),
  };
}

/** The same endpoints as environment variables, for child processes. */
export function endpointsAsEnvironment(endpoints: StackEndpoints): Record<string, string> {
  return {
    KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
    DATABASE_URL: endpoints.databaseUrl,
  };
}
