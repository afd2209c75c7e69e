// The environment of the stack the tests start: its own free ports and its own data directory per
// run, so several test runs (and `npm start`) can share a machine without clashing.
import { createServer } from 'node:net';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

/** Ports and data directory for one test run's native stack; variables already set win. */
export async function testStackPorts(runId: string): Promise<NodeJS.ProcessEnv> {
  return {
    KAFKA_PORT: String(await freePort()),
    KAFKA_CONTROLLER_PORT: String(await freePort()),
    SCHEMA_REGISTRY_PORT: String(await freePort()),
    POSTGRES_PORT: String(await freePort()),
    STACK_DATA_DIR: `.cache/test-stack/${runId}`,
  };
}

/** Settings every test process shares (secrets for the test stack only). */
export function testStackEnvironment(environment: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...environment,
    NOWPAYMENTS_IPN_SECRET: environment['NOWPAYMENTS_IPN_SECRET'] ?? 'test-ipn-secret-0123456789',
  };
}
