// Every benchmark of this folder, one after the other, in one run — the figures the performance
// goals are judged by, taken on the same machine in the same hour, each with its own Kafka
// ProducerPerformance baseline from its own stack. The output of each is shown as it runs and kept,
// together, in .cache/bench-all/<start time>.txt, which ends with a summary: how long each took,
// whether it succeeded, and the command that reproduces it.
//
//   npx tsx bench/all.ts [--only webhook-latency,ingest] [--skip balance-query]
//   npm run bench:all
//
// Benchmarks run sequentially, never side by side: each one's figures assume the machine to itself.
// On a terminal a progress bar on stderr counts the benchmarks done (their output scrolls above
// it); otherwise a plain line per step says the same (core/progress.ts).
// A failing benchmark is reported and the run goes on with the next one; the exit code is then 1.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startProgress, type Progress } from '../core/progress.ts';
import { formatTable, machineLine } from './support/bench-stack.ts';

interface Benchmark {
  /** The script's name, or the script's name and a variant (for --only and --skip). */
  readonly name: string;
  readonly script: string;
  readonly args: readonly string[];
  /** Settings of the processes the benchmark starts (they inherit its environment). */
  readonly settings?: Readonly<Record<string, string>>;
}

/** The default arguments are the ones bench/README.md reports figures for. */
const benchmarks: readonly Benchmark[] = [
  // 20,000 per stage, and 100,000 for the router: it takes 2,000 payments a transaction, so its
  // steady rate needs many chunks per partition to span more than a few 100 ms polls.
  { name: 'pipeline-throughput', script: 'pipeline-throughput', args: ['--payments', '20000', '--router-payments', '100000'] },
  { name: 'webhook-latency', script: 'webhook-latency', args: ['--rates', '100,200,500,1000', '--seconds', '15'] },
  // The webhook's one lever past a core: several worker processes on its port (WEBHOOK_WORKERS).
  { name: 'webhook-latency-2-workers', script: 'webhook-latency', args: ['--rates', '100,200,500,1000', '--seconds', '15'], settings: { WEBHOOK_WORKERS: '2' } },
  { name: 'ingest', script: 'ingest', args: ['--payments', '20000', '--concurrency', '256'] },
  { name: 'ingest-2-workers', script: 'ingest', args: ['--payments', '20000', '--concurrency', '256'], settings: { WEBHOOK_WORKERS: '2' } },
  { name: 'window-cost', script: 'window-cost', args: ['--sizes', '1000,10000,100000'] },
  { name: 'payout-window-cost', script: 'payout-window-cost', args: ['--sizes', '1000,10000,100000'] },
  { name: 'mass-payout', script: 'mass-payout', args: ['--clients', '1000', '--rates', '100,10'] },
  { name: 'balance-query', script: 'balance-query', args: [] },
];

interface Outcome {
  readonly name: string;
  readonly command: string;
  readonly seconds: number;
  readonly exitCode: number | null;
}

function chosen(argv: readonly string[]): readonly Benchmark[] {
  const { values } = parseArgs({ args: [...argv], options: { only: { type: 'string' }, skip: { type: 'string' } }, strict: true });
  const names = (list: string | undefined): string[] => (list === undefined ? [] : list.split(',').filter((name) => name !== ''));
  const known = new Set(benchmarks.map((benchmark) => benchmark.name));
  for (const name of [...names(values.only), ...names(values.skip)]) {
    if (!known.has(name)) throw new Error(`unknown benchmark "${name}"; known: ${[...known].join(', ')}`);
  }
  const only = names(values.only);
  const skip = new Set(names(values.skip));
  return benchmarks.filter((benchmark) => (only.length === 0 || only.includes(benchmark.name)) && !skip.has(benchmark.name));
}

async function run(benchmark: Benchmark, write: (text: string) => void): Promise<Outcome> {
  const file = `bench/${benchmark.script}.ts`;
  const settings = Object.entries(benchmark.settings ?? {}).map(([key, value]) => `${key}=${value}`);
  const command = [...settings, 'npx tsx', file, ...benchmark.args].join(' ');
  write(`\n=== ${benchmark.name} — ${new Date().toISOString()}\n$ ${command}\n`);
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...benchmark.args], {
    env: { ...process.env, ...benchmark.settings },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk: Buffer) => write(chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => write(chunk.toString('utf8')));
  const exitCode = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { name: benchmark.name, command, seconds: (performance.now() - started) / 1_000, exitCode };
}

async function main(): Promise<number> {
  const selected = chosen(process.argv.slice(2));
  const directory = path.resolve('.cache/bench-all');
  await mkdir(directory, { recursive: true });
  const reportPath = path.join(directory, `${new Date().toISOString().replaceAll(':', '-')}.txt`);
  const report = createWriteStream(reportPath);
  // A bar only when both streams are the terminal: with stdout piped (tee), the output must stay on stdout.
  let progress: Progress | undefined;
  const write = (text: string): void => {
    if (progress === undefined) process.stdout.write(text);
    else progress.log(text);
    report.write(text);
  };
  write(`${machineLine('native')}\nbenchmarks: ${selected.map((benchmark) => benchmark.name).join(', ')}\n`);
  const outcomes: Outcome[] = [];
  progress = startProgress({ label: 'bench:all', total: selected.length, unit: 'benchmarks', bar: process.stderr.isTTY && process.stdout.isTTY });
  try {
    for (const benchmark of selected) {
      outcomes.push(await run(benchmark, write));
      progress.update(outcomes.length);
    }
  } finally {
    progress.stop();
    progress = undefined;
  }
  write(
    `\n=== summary — ${new Date().toISOString()}\n${formatTable(
      ['benchmark', 'minutes', 'result', 'reproduce'],
      outcomes.map((outcome) => [outcome.name, (outcome.seconds / 60).toFixed(1), outcome.exitCode === 0 ? 'ok' : `failed (exit ${String(outcome.exitCode)})`, outcome.command]),
    )}\nreport: ${reportPath}\nreproduce: ${['npx tsx bench/all.ts', ...process.argv.slice(2)].join(' ')}\n`,
  );
  await new Promise<void>((resolve) => report.end(resolve));
  return outcomes.every((outcome) => outcome.exitCode === 0) ? 0 : 1;
}

process.exit(await main());
