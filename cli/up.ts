// `up` (npm start): the whole pipeline on the local stack — stack, migrations, topics, schemas,
// then every processor as its own child process, as they would run as pods. Ctrl-C drains the
// processors (SIGTERM) and then stops the stack.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { describeStack, startStack } from '../stack/start-stack.ts';
import { endpointsAsEnvironment } from '../stack/endpoints.ts';
import { prepare } from './prepare.ts';
import { replicationSettingsOf } from '../topics/topic-plan.ts';
import { createDatabasePool } from '../db/pool.ts';
import { checkChainCoherence } from '../stack/evm/chain-coherence.ts';
import { processorNames, processorUrls } from './processes.ts';
import { consoleUrl } from './processor-names.ts';
import { localHostWallet } from '../stack/evm/local-wallets.ts';
import { localChangeNowApiKey } from '../connectors/changenow-simulator/local-api-key.ts';
import { ensureConsoleBuilt } from './console-build.ts';

/** Used only when nothing is configured, so `npm start` works on a fresh clone; never in production. */
export const localIpnSecret = 'local-development-ipn-secret';
export const localAdminToken = 'local-development-admin-token';

function spawnProcessor(name: string, environment: NodeJS.ProcessEnv): ChildProcess {
  // Own process group: a Ctrl-C in the terminal reaches only this parent, which then drains the
  // processors one signal each, in order, before it stops the stack.
  return spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', name], {
    env: environment,
    stdio: 'inherit',
    detached: true,
  });
}

export async function up(config: Config, log: Logger): Promise<void> {
  const stack = await startStack({ config, log });
  const children: ChildProcess[] = [];
  let stopping = false;
  const stopEverything = async (exitCode: number): Promise<never> => {
    stopping = true;
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    await stack.stop();
    process.exit(exitCode);
  };
  process.once('SIGINT', () => void stopEverything(0));
  process.once('SIGTERM', () => void stopEverything(0));

  try {
    await prepare(stack.endpoints, log, replicationSettingsOf(config));
  } catch (error) {
    log.error({ err: error }, 'preparing the stack failed');
    await stopEverything(1);
  }
  // The local chain starts from nothing on every start while PostgreSQL keeps the ledger: never run
  // the processors on a ledger that belongs to another chain (stack/evm/chain-coherence.ts).
  if (config.EVM_RPC_URL === undefined) {
    const pool = await createDatabasePool(stack.endpoints.databaseUrl);
    try {
      const coherence = await checkChainCoherence(pool, stack.endpoints.evmRpcUrl, new Date());
      if (coherence.kind === 'incoherent') {
        log.error({ alert: true }, coherence.message);
        process.stderr.write(`\n${coherence.message}\n\n`);
        await stopEverything(1);
      }
      if (coherence.kind === 'adopted') log.info({ genesisBlockHash: coherence.genesisBlockHash }, 'the database had no chain history: the new local chain is its chain now');
    } finally {
      await pool.end();
    }
  }

  try {
    await ensureConsoleBuilt(log);
  } catch (error) {
    // The pipeline runs without it; /console then says how to build it.
    log.error({ err: error }, 'building the console failed: /console answers 503 until `npm run build:console` succeeds');
  }

  const ipnSecret = config.NOWPAYMENTS_IPN_SECRET ?? localIpnSecret;
  if (config.NOWPAYMENTS_IPN_SECRET === undefined) {
    log.warn(`NOWPAYMENTS_IPN_SECRET is not set: the webhook uses the local development secret "${localIpnSecret}"`);
  }
  const adminToken = config.ADMIN_TOKEN ?? localAdminToken;
  if (config.ADMIN_TOKEN === undefined) {
    log.warn(`ADMIN_TOKEN is not set: the admin API uses the local development token "${localAdminToken}"`);
  }
  const environment = {
    ...process.env,
    ...endpointsAsEnvironment(stack.endpoints),
    NOWPAYMENTS_IPN_SECRET: ipnSecret,
    ADMIN_TOKEN: adminToken,
    ...localChainSecrets(config, log),
  };
  for (const name of processorNames) {
    const child = spawnProcessor(name, environment);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      log.error({ processor: name, code, signal }, 'processor exited; stopping the pipeline');
      void stopEverything(1);
    });
    children.push(child);
  }

  const urls = processorUrls(config);
  const lines = processorNames.map((name) => `  ${name.padEnd(17)}${urls[name]}`);
  const consoleLine = `  ${'console'.padEnd(17)}${consoleUrl(config)}  (sign in with the admin token${config.ADMIN_TOKEN === undefined ? ` "${localAdminToken}"` : ''})`;
  process.stdout.write(`\n${describeStack(stack)}\n${lines.join('\n')}\n${consoleLine}\n\nPress Ctrl-C to stop.\n`);
}

/**
 * On the local chain the host wallet is the well-known development account and the simulator takes
 * its development key; against a real node or the real ChangeNow both must be configured.
 */
function localChainSecrets(config: Config, log: Logger): Record<string, string> {
  const secrets: Record<string, string> = {};
  if (config.HOST_WALLET_PRIVATE_KEY === undefined && config.HOST_WALLET_KEY_FILE === undefined && config.EVM_RPC_URL === undefined) {
    log.warn(`HOST_WALLET_PRIVATE_KEY is not set: the chain connector uses the local chain's development account ${localHostWallet.address}`);
    secrets['HOST_WALLET_PRIVATE_KEY'] = localHostWallet.privateKey;
  }
  if (config.CHANGENOW_API_KEY === undefined && config.CHANGENOW_API_URL === undefined) {
    log.warn('CHANGENOW_API_KEY is not set: the ChangeNow connector uses the local simulator\'s development key');
    secrets['CHANGENOW_API_KEY'] = localChangeNowApiKey;
  }
  return secrets;
}
