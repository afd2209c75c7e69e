// The ChangeNow simulator as its own process, as the stack starts it (stack/changenow-simulator/):
//   npx tsx connectors/changenow-simulator/main.ts
// Reads LISTEN_HOST, CHANGENOW_SIMULATOR_PORT, SIMULATOR_ETH_USD, SIMULATOR_FEE_PERCENT, SIMULATOR_STEP_DELAY,
// CHANGENOW_API_KEY (else the development key) and the EVM endpoints (EVM_RPC_URL,
// USDT_CONTRACT_ADDRESS, else the local stack's).
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { Decimal } from '../../core/money.ts';
import { createShutdown, exitOnSignals } from '../../core/shutdown.ts';
import { resolveEndpoints } from '../../stack/endpoints.ts';
import { localChangeNowApiKey } from './local-api-key.ts';
import { startChangeNowSimulator } from './start-changenow-simulator.ts';

const config = loadConfig();
const log = createLogger({ name: 'changenow-simulator', level: config.LOG_LEVEL });
const endpoints = resolveEndpoints(config);

try {
  const simulator = await startChangeNowSimulator({
    port: config.CHANGENOW_SIMULATOR_PORT,
    // In a container the connector reaches it from another host: the compose profile sets 0.0.0.0.
    host: config.LISTEN_HOST,
    apiKey: config.CHANGENOW_API_KEY ?? localChangeNowApiKey,
    ethUsd: new Decimal(config.SIMULATOR_ETH_USD),
    feePercent: new Decimal(config.SIMULATOR_FEE_PERCENT),
    stepDelayMs: config.SIMULATOR_STEP_DELAY,
    rpcUrl: endpoints.evmRpcUrl,
    usdtAddress: endpoints.usdtContractAddress,
    log,
  });
  const shutdown = createShutdown({ log });
  shutdown.add('simulator', () => simulator.close());
  exitOnSignals(shutdown, { log, drainTimeoutMs: 10_000 });
} catch (error) {
  log.fatal({ err: error }, 'the ChangeNow simulator could not start');
  process.exitCode = 1;
}
