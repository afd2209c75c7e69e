// The stack where a Docker engine answers: docker compose with docker-compose.kafka.yml.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from '../core/logger.ts';
import { UnavailableError } from '../core/errors.ts';
import type { RunningService } from './service.ts';

const run = promisify(execFile);
const composeFile = 'docker-compose.kafka.yml';
const infrastructureServices = ['kafka', 'schema-registry', 'kafka-ui', 'postgres'];

/** True only when an engine answers — the docker client alone (as on this project's CI) is not enough. */
export async function isDockerEngineAvailable(): Promise<boolean> {
  try {
    await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

export async function startDockerStack(environment: NodeJS.ProcessEnv, log: Logger): Promise<RunningService> {
  log.info('starting the Docker stack (docker compose up --wait)');
  try {
    await run('docker', ['compose', '-f', composeFile, 'up', '--detach', '--wait', ...infrastructureServices], {
      env: environment,
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    throw new UnavailableError(`docker compose up failed: ${(error as { stderr?: string }).stderr ?? String(error)}`, { cause: error });
  }
  return {
    name: 'docker compose',
    endpoint: composeFile,
    stop: async () => {
      await run('docker', ['compose', '-f', composeFile, 'stop'], { env: environment, timeout: 120_000 });
    },
  };
}
