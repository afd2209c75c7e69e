// Runs a processor the way production does — `cli run <name>` as its own OS process — so tests
// can SIGTERM it (drain) or SIGKILL it (crash) at any moment and start it again.
import { spawn, type ChildProcess } from 'node:child_process';
import { findFreePort } from '../../stack/service.ts';
import { inject } from 'vitest';
import { endpointsAsEnvironment } from '../../stack/endpoints.ts';
import { testIpnSecret } from './ipn.ts';
import { localHostWallet } from '../../stack/evm/local-wallets.ts';
import { localChangeNowApiKey } from '../../connectors/changenow-simulator/local-api-key.ts';

export async function waitUntilReady(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${url}/ready`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The admin token every test process is started with (its name is `admin`). */
export const testAdminToken = 'test-admin-token-0123456789abcdef';

/** The environment a processor process gets in tests: the test stack's endpoints and test secrets. */
export function processorEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...endpointsAsEnvironment(inject('endpoints')),
    NOWPAYMENTS_IPN_SECRET: testIpnSecret,
    ADMIN_TOKEN: testAdminToken,
    HOST_WALLET_PRIVATE_KEY: localHostWallet.privateKey,
    CHANGENOW_API_KEY: localChangeNowApiKey,
    LOG_LEVEL: process.env['TEST_PROCESS_LOG_LEVEL'] ?? 'warn',
    ...extra,
  };
}

export interface ProcessorProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** SIGKILL: no drain, no commit, no goodbye — the crash case. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit code. */
  terminate(): Promise<number | null>;
}

/**
 * Starts `cli run <name>` with its HTTP port on `portVariable` and waits until /ready answers.
 * `waitReady: false` returns at once (a crash test may kill it while it starts).
 */
export async function startProcessorProcess(
  name: string,
  portVariable: string,
  options: {
    environment?: Record<string, string>;
    waitReady?: boolean;
    readyTimeoutMs?: number;
    /** Run a built CLI instead of the sources: `node <main> run <name>` in `cwd` (the --omit=dev test). */
    built?: { cwd: string; main: string };
  } = {},
): Promise<ProcessorProcess> {
  const port = await findFreePort();
  const args = options.built === undefined ? ['--import', 'tsx', 'cli/main.ts', 'run', name] : [options.built.main, 'run', name];
  const environment = processorEnvironment({ ...options.environment, [portVariable]: String(port) });
  // A built process gets no loader from the test runner: it must stand on dist/ and its own node_modules.
  if (options.built !== undefined) delete environment['NODE_OPTIONS'];
  const child = spawn(process.execPath, args, {
    env: environment,
    stdio: ['ignore', 'inherit', 'inherit'],
    ...(options.built === undefined ? {} : { cwd: options.built.cwd }),
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // LISTEN_HOST defaults to loopback IPv4; "localhost" may resolve to ::1 first on some hosts.
  const url = `http://127.0.0.1:${port}`;
  if (options.waitReady !== false) {
    try {
      await waitUntilReady(url, options.readyTimeoutMs);
    } catch (error) {
      // Never leave an orphan behind: it would keep the test run (and its ports) alive.
      child.kill('SIGKILL');
      await exited;
      throw error;
    }
  }
  return {
    url,
    child,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async terminate() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
