// The stack a benchmark runs on: the real local stack started natively on free ports in
// .cache/bench-stack/<pid> and prepared (migrations, topics, schemas), or an existing one when
// KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL are all set. Stopped and removed at the end,
// also when the benchmark fails.
import { cpus, totalmem } from 'node:os';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, type Config } from '../../core/config.ts';
import type { Logger } from '../../core/logger.ts';
import { prepare } from '../../cli/prepare.ts';
import { startStack, type RunningStack } from '../../stack/start-stack.ts';
import type { StackEndpoints } from '../../stack/endpoints.ts';
import { freeStackEnvironment } from '../../test/support/test-stack-environment.ts';

export interface BenchStack {
  readonly config: Config;
  readonly environment: NodeJS.ProcessEnv;
  readonly endpoints: StackEndpoints;
  readonly mode: RunningStack['mode'];
}

export const secondsSince = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

/** One line naming the machine, printed above every table: figures mean little without it. */
export function machineLine(mode: string): string {
  const cpuList = cpus();
  return (
    `machine: ${cpuList.length} × ${cpuList[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ` +
    `node ${process.version}, ${process.platform}/${process.arch}, stack ${mode}`
  );
}

export async function withBenchStack<T>(settings: Record<string, string>, log: Logger, run: (stack: BenchStack) => Promise<T>): Promise<T> {
  const external = process.env['KAFKA_BROKERS'] !== undefined && process.env['SCHEMA_REGISTRY_URL'] !== undefined && process.env['DATABASE_URL'] !== undefined;
  const environment: NodeJS.ProcessEnv = {
    ...process.env,
    STACK_MODE: external ? 'external' : 'native',
    ...(await freeStackEnvironment(`.cache/bench-stack/${process.pid}`)),
    LOG_LEVEL: 'silent',
    ...settings,
  };
  const config = loadConfig(environment);
  const dataDirectory = path.resolve(config.STACK_DATA_DIR);
  let stack: RunningStack | undefined;
  try {
    console.log(`starting the ${external ? 'external' : 'native'} stack${external ? '' : ` in ${config.STACK_DATA_DIR}`} …`);
    const started = process.hrtime.bigint();
    stack = await startStack({ config, log });
    await prepare(stack.endpoints, log);
    console.log(`stack ready in ${secondsSince(started).toFixed(1)} s`);
    return await run({ config, environment, endpoints: stack.endpoints, mode: stack.mode });
  } finally {
    if (stack !== undefined) await stack.stop();
    if (!external) await rm(dataDirectory, { recursive: true, force: true });
  }
}

/** A fixed-width table: the first and last columns left-aligned, the figures right-aligned. */
/** The lines every benchmark's report starts with: the machine, then the baseline measured in the same run. */
export function printRunHeader(mode: string, baselineLine: string): void {
  console.log('');
  console.log(machineLine(mode));
  console.log(baselineLine);
}

export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === 0 || column === cells.length - 1 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

/** Ends a benchmark: clients with unref'd timers (kafkajs, pg pools) may keep the loop alive once the figures are out. */
export async function runBenchmark(main: () => Promise<void>): Promise<never> {
  try {
    await main();
    process.exit(0);
  } catch (error) {
    console.error(error);
    process.exit(1);
  }
}
