// The local EVM: Hardhat's node from npm, run as a child process of the stack like Kafka and
// PostgreSQL, with the local USDT deployed and minted before anyone uses it. The chain lives in
// the node's memory, so every start is a fresh chain with the same addresses (local-wallets.ts).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError, UnavailableError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { describeExit, spawnDetached, stopChild } from '../child-process.ts';
import { logTail } from '../log-tail.ts';
import { removePidFileIfOurs, stopOrphanedProcess, writePidFile } from '../pid-file.ts';
import { EarlyExit, NotReady, pollUntilReady } from '../readiness.ts';
import { assertPortFree, type RunningService } from '../service.ts';
import { deployLocalUsdt } from './deploy-local-usdt.ts';
import { localChainId } from './local-wallets.ts';
import { probeEvmChainId } from './probe-evm.ts';

export interface LocalEvmOptions {
  port: number;
  /** An empty block is mined this often (transactions are mined at once regardless). */
  blockIntervalMs: number;
  /** Holds the node's output, its pid file and Hardhat's cache. */
  dataDirectory: string;
  log: Logger;
  /** Where node_modules/hardhat is: Hardhat refuses to run from anywhere else. Default: the current directory. */
  projectDirectory?: string;
  /** How long to wait for the node to answer eth_chainId. Default 60 s. */
  readyTimeoutMs?: number;
}

export type RunningLocalEvm = RunningService & {
  rpcUrl: string;
  pid: number;
  /** The node's pid file: tests pause and resume the node through it. */
  pidFile: string;
};

const defaultReadyTimeoutMs = 60_000;
const shutdownGraceMs = 5_000;
const hardhatCli = 'node_modules/hardhat/internal/cli/cli.js';
const hardhatConfig = 'stack/evm/hardhat.config.cjs';
// A harmless Node option carrying the data directory, so a node left running by a killed parent is
// recognised as this directory's (stopOrphanedProcess, the test-stack reaper) by its command line.
const dataDirectoryMarker = '--diagnostic-dir=';

export function localEvmPidFile(dataDirectory: string): string {
  return path.join(path.resolve(dataDirectory), 'evm.pid');
}

export async function startLocalEvm(options: LocalEvmOptions): Promise<RunningLocalEvm> {
  const { port, log } = options;
  if (!Number.isInteger(options.blockIntervalMs) || options.blockIntervalMs < 1) {
    throw new PipelineError(`EVM_BLOCK_INTERVAL must be at least 1 ms, got ${options.blockIntervalMs}.`);
  }
  const dataDirectory = path.resolve(options.dataDirectory);
  const projectDirectory = path.resolve(options.projectDirectory ?? process.cwd());
  const readyTimeoutMs = options.readyTimeoutMs ?? defaultReadyTimeoutMs;
  const pidFile = localEvmPidFile(dataDirectory);
  const outputFile = path.join(dataDirectory, 'hardhat.out');
  const rpcUrl = `http://127.0.0.1:${port}`;

  await mkdir(dataDirectory, { recursive: true });
  // Before the port check: a node orphaned by a SIGKILLed parent is the usual holder of the port.
  await stopOrphanedProcess({
    pidFile,
    description: 'local EVM node',
    isOurs: (args) => args.includes(`${dataDirectoryMarker}${dataDirectory}`),
    graceMs: shutdownGraceMs,
    log,
  });
  await assertPortFree(port, 'The local EVM', 'EVM_PORT');

  const startedAt = Date.now();
  const node = await spawnDetached(
    process.execPath,
    [`${dataDirectoryMarker}${dataDirectory}`, hardhatCli, 'node', '--config', hardhatConfig, '--hostname', '127.0.0.1', '--port', String(port)],
    {
      cwd: projectDirectory,
      env: {
        ...process.env,
        HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true',
        PAYOUT_EVM_BLOCK_INTERVAL_MS: String(options.blockIntervalMs),
        PAYOUT_EVM_DATA_DIR: dataDirectory,
      },
      outputFile,
    },
  );
  const pid = node.child.pid;
  if (pid === undefined) {
    const state = await node.exited;
    throw new PipelineError(`The local EVM could not be started: ${describeExit(state)}`, { cause: state.error });
  }
  await writePidFile(pidFile, pid);
  log.info({ pid, port, dataDirectory }, 'Local EVM process started, waiting until it answers');

  let ready = false;
  let stopping: Promise<void> | undefined;
  const terminate = async (): Promise<void> => {
    // A test may have left it paused (SIGSTOP); a stopped process does not act on SIGTERM.
    if (!node.hasExited()) node.child.kill('SIGCONT');
    await stopChild(node, [{ signal: 'SIGTERM', waitMs: shutdownGraceMs }, { signal: 'SIGKILL' }], () =>
      log.warn({ pid, graceMs: shutdownGraceMs }, 'Local EVM did not shut down in time, killing it'),
    );
    await removePidFileIfOurs(pidFile, pid);
    log.info({ pid }, 'Local EVM stopped');
  };
  const stop = (): Promise<void> => (stopping ??= terminate());

  void node.exited.then(async (state) => {
    if (!ready || stopping !== undefined) return;
    const tail = await logTail(outputFile, 20).catch(() => '(output unreadable)');
    log.error({ pid, code: state.code, signal: state.signal, tail }, 'Local EVM exited unexpectedly');
  });

  try {
    await pollUntilReady(node, chainIdCheck(rpcUrl), { timeoutMs: readyTimeoutMs, intervalMs: 250 });
    await deployLocalUsdt(rpcUrl, log);
  } catch (error) {
    await stop();
    const tail = await logTail(outputFile, 30);
    if (error instanceof EarlyExit) {
      throw new PipelineError(`The local EVM exited during start-up (${describeExit(error.state)}). Its output:\n${tail}`, {
        cause: error.state.error,
        context: { dataDirectory, port },
      });
    }
    if (error instanceof NotReady) {
      throw new UnavailableError(`The local EVM did not answer on ${rpcUrl} within ${readyTimeoutMs} ms; it was stopped. Its output:\n${tail}`, {
        cause: error.lastProblem,
        context: { dataDirectory, port },
      });
    }
    throw error;
  }
  ready = true;
  log.info({ pid, rpcUrl, startupMs: Date.now() - startedAt }, 'Local EVM ready');
  return { name: 'evm', endpoint: rpcUrl, rpcUrl, pid, pidFile, stop };
}

/** For pollUntilReady: undefined once the node answers with the local chain id. */
function chainIdCheck(rpcUrl: string): () => Promise<unknown> {
  return async () => {
    try {
      const chainId = await probeEvmChainId(rpcUrl);
      if (chainId !== localChainId) {
        // Someone else's node on our port would never become ours.
        throw new PipelineError(`The node on ${rpcUrl} reports chain id ${chainId}, not the local chain's ${localChainId}`);
      }
      return undefined;
    } catch (error) {
      if (error instanceof PipelineError && !error.retriable) throw error;
      return error;
    }
  };
}
