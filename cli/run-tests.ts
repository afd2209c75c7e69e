// `npm test`: the static checks (cli/static-checks.ts) and the vitest suite at the same time, the
// checks at the lowest CPU priority. The stack tiers spend most of their time waiting on the
// broker, the chain and the processes they start, so the checks take the idle CPU instead of
// costing their own minute before the first test; niced, they cannot slow a test that is busy.
// The arguments go to vitest (`npm test -- --reporter=json …`). The run fails if either fails: the
// exit code is vitest's when it failed, else the checks'.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { runStaticChecks } from './static-checks.ts';

// vitest's command-line entry (its `bin`), found through its package.json: the package exports no path to it.
const vitestEntry = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

function runVitest(args: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [vitestEntry, 'run', ...args], { stdio: 'inherit' });
    child.once('error', (error) => {
      process.stderr.write(`vitest did not start: ${error.message}\n`);
      resolve(1);
    });
    child.once('close', (code) => resolve(code ?? 1));
  });
}

const [vitestExit, checksExit] = await Promise.all([runVitest(process.argv.slice(2)), runStaticChecks(19)]);
process.exitCode = vitestExit !== 0 ? vitestExit : checksExit;
