// The environment of the stack the tests start: its own free ports and its own data directory per
// run, so several test runs (and `npm start`) can share a machine without clashing.
import { findFreePort } from '../../stack/service.ts';
import { localChangeNowApiKey } from '../../connectors/changenow-simulator/local-api-key.ts';

/** Free ports and the given data directory for a native stack of its own (a test run, a benchmark). */
export async function freeStackEnvironment(dataDirectory: string): Promise<NodeJS.ProcessEnv> {
  return {
    KAFKA_PORT: String(await findFreePort()),
    KAFKA_CONTROLLER_PORT: String(await findFreePort()),
    SCHEMA_REGISTRY_PORT: String(await findFreePort()),
    POSTGRES_PORT: String(await findFreePort()),
    EVM_PORT: String(await findFreePort()),
    CHANGENOW_SIMULATOR_PORT: String(await findFreePort()),
    STACK_DATA_DIR: dataDirectory,
  };
}

/** Settings every test process shares (secrets for the test stack only). */
export function testStackEnvironment(environment: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...environment,
    NOWPAYMENTS_IPN_SECRET: environment['NOWPAYMENTS_IPN_SECRET'] ?? 'test-ipn-secret-0123456789',
    // Always the simulator's development key: processes and test helpers send it, and a real key
    // from the developer's shell has no business in a test stack.
    CHANGENOW_API_KEY: localChangeNowApiKey,
    // Every process of the test stack draws on one shared ChangeNow budget (rate-budget.ts), and the
    // simulator enforces no limit: at the production default (10/s) the files that run several
    // ChangeNow callers at once spend much of their time queueing for it. The budget's own tests
    // (rate-budget.int, changenow-client.int) pass their rate explicitly.
    CHANGENOW_RATE_LIMIT_PER_SECOND: environment['CHANGENOW_RATE_LIMIT_PER_SECOND'] ?? '100',
  };
}
