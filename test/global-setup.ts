// Starts the real stack once for the whole test run — a real Kafka broker, the schema registry,
// PostgreSQL and the local EVM — on free ports with a fresh data directory, prepares it (migrations,
// topics, schemas) and hands the endpoints to the tests. Endpoints in the environment win (an
// existing stack); where a Docker engine answers, testcontainers starts docker-compose.kafka.yml
// instead, and the local EVM runs beside it as in every mode.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';
import { prepare } from '../cli/prepare.ts';
import { createDatabasePool } from '../db/pool.ts';
import { findViolations, formatViolations } from '../db/reconciliation.ts';
import { startLocalChain, startStack } from '../stack/start-stack.ts';
import { localEvmPidFile } from '../stack/evm/start-local-evm.ts';
import type { StackEndpoints } from '../stack/endpoints.ts';
import { freeStackEnvironment, testStackEnvironment } from './support/test-stack-environment.ts';
import { startDockerTestStack } from './support/docker-test-stack.ts';
import { isDockerEngineAvailable } from '../stack/docker-stack.ts';
import { reapAbandonedTestStacks } from './support/reap-test-stacks.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    endpoints: StackEndpoints;
    /** The stack's own EVM node, for fault helpers (pause, mining control); null when EVM_RPC_URL names another node. */
    localEvm: { pidFile: string; blockIntervalMs: number } | null;
  }
}

interface SharedStack {
  endpoints: StackEndpoints;
  localEvm: { pidFile: string; blockIntervalMs: number } | null;
  /** Tiers (vitest projects) using the stack; the last one to finish stops it. */
  users: number;
  teardown: () => Promise<void>;
}

// The integration and e2e tiers are two vitest projects, each with this global setup; vitest
// calls it once per project, possibly through separate module instances, so the running stack is
// kept on globalThis: one stack per run, stopped (and the books checked) after the last tier.
const sharedStackKey = Symbol.for('payout-pipeline.test-stack');
type StackHolder = { [sharedStackKey]?: Promise<SharedStack> };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const holder = globalThis as StackHolder;
  holder[sharedStackKey] ??= startSharedStack();
  const shared = await holder[sharedStackKey];
  shared.users += 1;
  project.provide('endpoints', shared.endpoints);
  project.provide('localEvm', shared.localEvm);
  return async () => {
    shared.users -= 1;
    if (shared.users > 0) return;
    delete holder[sharedStackKey];
    await shared.teardown();
  };
}

async function startSharedStack(): Promise<SharedStack> {
  const environment = testStackEnvironment({ ...(await freeStackEnvironment(`.cache/test-stack/run-${process.pid}`)), ...process.env });
  const config = loadConfig(environment);
  const log = createLogger({ name: 'test-stack', level: process.env['TEST_STACK_LOG_LEVEL'] ?? 'warn' });
  const external = config.KAFKA_BROKERS !== undefined && config.SCHEMA_REGISTRY_URL !== undefined && config.DATABASE_URL !== undefined;

  let stop: () => Promise<void>;
  let endpoints: StackEndpoints;
  if (!external && (await isDockerEngineAvailable())) {
    const docker = await startDockerTestStack(config);
    const localChain = await startLocalChain(config, log).catch(async (error: unknown) => {
      await docker.stop();
      throw error;
    });
    endpoints = docker.endpoints;
    stop = async () => {
      for (const service of [...localChain].reverse()) await service.stop();
      await docker.stop();
    };
  } else {
    // Fresh state each run, so a test never depends on what an earlier run left behind.
    const dataDirectory = path.resolve(config.STACK_DATA_DIR);
    if (!external) {
      const reaped = await reapAbandonedTestStacks(path.dirname(dataDirectory), log);
      if (reaped > 0) log.warn({ reaped }, 'stopped the stacks of test runs that ended without their teardown');
    }
    if (!external) await rm(dataDirectory, { recursive: true, force: true });
    const stack = await startStack({ config: loadConfig({ ...environment, STACK_MODE: external ? 'external' : 'native' }), log });
    ({ endpoints } = stack);
    stop = async () => {
      await stack.stop();
      if (!external) await rm(dataDirectory, { recursive: true, force: true });
    };
  }
  await prepare(endpoints, log);
  const localEvm =
    config.EVM_RPC_URL === undefined
      ? { pidFile: localEvmPidFile(path.join(path.resolve(config.STACK_DATA_DIR), 'evm')), blockIntervalMs: config.EVM_BLOCK_INTERVAL }
      : null;
  // The books must reconcile after the whole run, not only after the files that check them
  // themselves: a test that leaves a violation behind fails the run here, with the list.
  const teardown = async (): Promise<void> => {
    let violations = '';
    try {
      const pool = await createDatabasePool(endpoints.databaseUrl);
      try {
        const found = await pool.connect((connection) => findViolations(connection));
        if (found.length > 0) violations = formatViolations(found);
      } finally {
        await pool.end();
      }
    } finally {
      await stop();
    }
    if (violations !== '') {
      // vitest reports an error thrown here but still exits 0; the exit code is what CI reads.
      process.stderr.write(`reconciliation after the test run found violations:\n${violations}\n`);
      process.exitCode = 1;
    }
  };
  return { endpoints, localEvm, users: 0, teardown };
}
