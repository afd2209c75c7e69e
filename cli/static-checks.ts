// The checks `npm test` runs beside the tests — type check, lint, and the generated-file checks —
// at the same time rather than one after the other: they read the same files and change nothing,
// so their order does not matter, and run together they cost the slowest one (ESLint) instead of
// the sum. Each one's output is printed in one piece once it ends, and the run fails if any fails.
import { spawn } from 'node:child_process';

/** The npm scripts run, with the arguments `npm test` gave them when they ran in sequence. */
const checks: readonly (readonly string[])[] = [
  ['typecheck'],
  ['lint'],
  ['schemas:codegen', '--', '--check'],
  ['docs:config', '--', '--check'],
  ['evm:build', '--', '--check'],
  ['console:types', '--', '--check'],
];

interface CheckResult {
  readonly name: string;
  readonly exitCode: number;
  readonly output: string;
  readonly seconds: number;
}

function runCheck(script: readonly string[], niceness: number): Promise<CheckResult> {
  const started = performance.now();
  const name = script.join(' ');
  return new Promise((resolve) => {
    const child = spawn('nice', ['-n', String(niceness), 'npm', 'run', '--silent', ...script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    const finish = (exitCode: number): void =>
      resolve({ name, exitCode, output: Buffer.concat(chunks).toString('utf8'), seconds: (performance.now() - started) / 1_000 });
    child.once('error', (error) => {
      chunks.push(Buffer.from(`${error.message}\n`));
      finish(1);
    });
    child.once('close', (code) => finish(code ?? 1));
  });
}

/**
 * Runs every check at the given niceness (0: as usual; 19: only on CPU nobody else wants), prints
 * each one's result and output, and resolves to the first failing check's exit code (1 if a check
 * died of a signal), 0 when all passed.
 */
export async function runStaticChecks(niceness = 0): Promise<number> {
  const results = await Promise.all(checks.map((script) => runCheck(script, niceness)));
  for (const result of results) {
    process.stdout.write(`> npm run ${result.name}: ${result.exitCode === 0 ? 'ok' : `FAILED (exit ${result.exitCode})`} in ${result.seconds.toFixed(1)} s\n`);
    if (result.output.trim() !== '') process.stdout.write(`${result.output.trimEnd()}\n`);
  }
  return results.find((result) => result.exitCode !== 0)?.exitCode ?? 0;
}
