// The ChangeNow v2 simulator (connectors/changenow-simulator/) as a child process of the stack,
// started after the local EVM it watches and pays out on, and stopped before it. Its own process,
// like every other service of the stack, so the pipeline's processes reach it over HTTP only and
// a SIGKILLed parent leaves a pid file behind for the next start to clean up.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError, UnavailableError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { describeExit, spawnDetached, stopChild } from '../child-process.ts';
import { logTail } from '../log-tail.ts';
import { removePidFileIfOurs, stopOrphanedProcess, writePidFile } from '../pid-file.ts';
import { EarlyExit, NotReady, pollUntilReady } from '../readiness.ts';
import { assertPortFree, type RunningService } from '../service.ts';

export interface SimulatorProcessOptions {
  port: number;
  /** Holds its output and pid file. */
  dataDirectory: string;
  /** Passed to the simulator as its environment (see connectors/changenow-simulator/main.ts). */
  environment: Readonly<Record<string, string>>;
  log: Logger;
  /** Where connectors/ and node_modules/ are. Default: the current directory. */
  projectDirectory?: string;
  /** Default 30 s. */
  readyTimeoutMs?: number;
}

export type RunningSimulatorProcess = RunningService & { url: string; pid: number };

const shutdownGraceMs = 10_000;
const entryPoint = 'connectors/changenow-simulator/main.ts';
// Carries the data directory on the command line, so an orphan is recognised as this stack's.
const dataDirectoryMarker = '--diagnostic-dir=';

export function simulatorPidFile(dataDirectory: string): string {
  return path.join(path.resolve(dataDirectory), 'changenow-simulator.pid');
}

export async function startSimulatorProcess(options: SimulatorProcessOptions): Promise<RunningSimulatorProcess> {
  const { port, log } = options;
  const dataDirectory = path.resolve(options.dataDirectory);
  const pidFile = simulatorPidFile(dataDirectory);
  const outputFile = path.join(dataDirectory, 'changenow-simulator.out');
  const url = `http://127.0.0.1:${port}`;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;

  await mkdir(dataDirectory, { recursive: true });
  await stopOrphanedProcess({
    pidFile,
    description: 'ChangeNow simulator',
    isOurs: (args) => args.includes(`${dataDirectoryMarker}${dataDirectory}`),
    graceMs: shutdownGraceMs,
    log,
  });
  await assertPortFree(port, 'The ChangeNow simulator', 'CHANGENOW_SIMULATOR_PORT');

  const simulator = await spawnDetached(process.execPath, [`${dataDirectoryMarker}${dataDirectory}`, '--import', 'tsx', entryPoint], {
    cwd: path.resolve(options.projectDirectory ?? process.cwd()),
    env: { ...process.env, ...options.environment, CHANGENOW_SIMULATOR_PORT: String(port) },
    outputFile,
  });
  const pid = simulator.child.pid;
  if (pid === undefined) {
    const state = await simulator.exited;
    throw new PipelineError(`The ChangeNow simulator could not be started: ${describeExit(state)}`, { cause: state.error });
  }
  await writePidFile(pidFile, pid);

  let ready = false;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await stopChild(simulator, [{ signal: 'SIGTERM', waitMs: shutdownGraceMs }, { signal: 'SIGKILL' }], () =>
        log.warn({ pid }, 'ChangeNow simulator did not shut down in time, killing it'),
      );
      await removePidFileIfOurs(pidFile, pid);
    })());

  void simulator.exited.then(async (state) => {
    if (!ready || stopping !== undefined) return;
    log.error({ pid, code: state.code, signal: state.signal, tail: await logTail(outputFile, 20).catch(() => '') }, 'ChangeNow simulator exited unexpectedly');
  });

  try {
    await pollUntilReady(simulator, healthCheck(`${url}/health`), { timeoutMs: readyTimeoutMs, intervalMs: 200 });
  } catch (error) {
    await stop();
    const tail = await logTail(outputFile, 30);
    if (error instanceof EarlyExit) {
      throw new PipelineError(`The ChangeNow simulator exited during start-up (${describeExit(error.state)}). Its output:\n${tail}`, { context: { port } });
    }
    if (error instanceof NotReady) {
      throw new UnavailableError(`The ChangeNow simulator did not answer on ${url} within ${readyTimeoutMs} ms; it was stopped. Its output:\n${tail}`, {
        cause: error.lastProblem,
        context: { port },
      });
    }
    throw error;
  }
  ready = true;
  log.info({ pid, url }, 'ChangeNow simulator ready');
  return { name: 'changenow-simulator', endpoint: url, url, pid, stop };
}

function healthCheck(url: string): () => Promise<unknown> {
  return async () => {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      return response.ok ? undefined : `HTTP ${response.status}`;
    } catch (error) {
      return error;
    }
  };
}
