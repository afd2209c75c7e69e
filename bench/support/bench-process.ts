// A processor run the way production runs it — `cli run <name>` as its own OS process — on the
// bench stack, so the load generator in the bench's process does not share its event loop.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { endpointsAsEnvironment } from '../../stack/endpoints.ts';
import { findFreePort } from '../../stack/service.ts';
import { waitUntilReady } from '../../test/support/processor-process.ts';
import type { BenchStack } from './bench-stack.ts';

export interface BenchProcess {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts `cli run <name>`. With BENCH_CPU_PROFILE_DIR set, the process writes a V8 CPU profile
 * there when it exits (open it in Chrome DevTools or speedscope) — where the time of a stage goes.
 */
export async function startBenchProcess(stack: BenchStack, name: string, portVariable: string, extra: Record<string, string> = {}): Promise<BenchProcess> {
  const port = await findFreePort();
  const profileDirectory = process.env['BENCH_CPU_PROFILE_DIR'];
  const profile = profileDirectory === undefined || profileDirectory === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDirectory, name)}`];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'cli/main.ts', 'run', name], {
    env: { ...stack.environment, ...endpointsAsEnvironment(stack.endpoints), LOG_LEVEL: 'warn', ...extra, [portVariable]: String(port) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitUntilReady(url, 120_000);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  return { url, stop };
}
