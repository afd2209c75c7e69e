// Where a Docker engine exists, the tests run against docker-compose.kafka.yml started by
// testcontainers (the same images as `npm run stack` under Docker).
import { DockerComposeEnvironment, Wait } from 'testcontainers';
import type { Config } from '../../core/config.ts';
import { resolveEndpoints, type StackEndpoints } from '../../stack/endpoints.ts';

export async function startDockerTestStack(config: Config): Promise<{ endpoints: StackEndpoints; stop: () => Promise<void> }> {
  const environment = await new DockerComposeEnvironment(process.cwd(), 'docker-compose.kafka.yml')
    .withEnvironment({
      KAFKA_PORT: String(config.KAFKA_PORT),
      SCHEMA_REGISTRY_PORT: String(config.SCHEMA_REGISTRY_PORT),
      POSTGRES_PORT: String(config.POSTGRES_PORT),
      KAFKA_UI_PORT: String(config.KAFKA_UI_PORT),
    })
    .withWaitStrategy('kafka-1', Wait.forHealthCheck())
    .withWaitStrategy('schema-registry-1', Wait.forHealthCheck())
    .withWaitStrategy('postgres-1', Wait.forHealthCheck())
    .up(['kafka', 'schema-registry', 'postgres']);
  return { endpoints: resolveEndpoints(config), stop: async () => void (await environment.down({ removeVolumes: true })) };
}
