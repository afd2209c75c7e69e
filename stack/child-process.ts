// Kafka, the schema registry and PostgreSQL run as child processes of whoever started the stack.
// Their exit is watched from the moment they are spawned, because a failed start or a crash must
// surface as an error with the service's own words, and they are stopped by escalating signals,
// because one left running holds its ports and data-directory locks. The tools that prepare them
// (Maven, initdb, Kafka's storage tool) run to their end with their output kept, since it is the
// only explanation when they fail.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { open } from 'node:fs/promises';

export interface ExitState {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started (or signalled) at all. */
  error?: Error;
}

export interface WatchedChild {
  readonly child: ChildProcess;
  /** Resolves once the process is gone, or could not be started. */
  readonly exited: Promise<ExitState>;
  readonly hasExited: () => boolean;
}

/**
 * Spawns with the exit watch attached at once: a failed spawn (ENOENT: no such program) is
 * reported by an 'error' event on the next tick, which crashes the process if nobody listens yet.
 */
export function spawnWatched(command: string, args: readonly string[], options: SpawnOptions): WatchedChild {
  const child = spawn(command, args, options);
  let exitState: ExitState | undefined;
  const exited = new Promise<ExitState>((resolve) => {
    const settle = (state: ExitState): void => {
      exitState = state;
      resolve(state);
    };
    child.once('exit', (code, signal) => settle({ code, signal }));
    child.once('error', (error) => settle({ code: null, signal: null, error }));
  });
  return { child, exited, hasExited: () => exitState !== undefined };
}

/**
 * Spawns a long-running service with stdout and stderr going straight to `outputFile` (truncated),
 * not to a pipe: the service must not stall if this process stops reading. It runs in its own
 * process group, so a Ctrl-C on the terminal does not reach it directly and the caller can stop
 * the pipeline's processors before the service they use goes away.
 */
export async function spawnDetached(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; outputFile: string },
): Promise<WatchedChild> {
  const output = await open(options.outputFile, 'w');
  try {
    return spawnWatched(command, args, {
      cwd: options.cwd,
      ...(options.env === undefined ? {} : { env: options.env }),
      detached: true,
      stdio: ['ignore', output.fd, output.fd],
    });
  } finally {
    // The child holds its own copy of the descriptor.
    await output.close();
  }
}

export function describeExit(state: ExitState): string {
  if (state.error !== undefined) return state.error.message;
  return state.signal === null ? `exit code ${state.code}` : `signal ${state.signal}`;
}

export interface StopStep {
  signal: NodeJS.Signals;
  /** How long to wait for the exit before the next step; without it, wait as long as it takes. */
  waitMs?: number;
}

/**
 * Sends each step's signal until the process exits, calling `onTimeout` for each step it outlived.
 * Returns at once when it has already exited.
 */
export async function stopChild(watched: WatchedChild, steps: readonly StopStep[], onTimeout: (step: StopStep) => void): Promise<void> {
  if (watched.hasExited()) return;
  for (const step of steps) {
    watched.child.kill(step.signal);
    if (step.waitMs === undefined) {
      await watched.exited;
      return;
    }
    if (await settlesWithin(watched.exited, step.waitMs)) return;
    onTimeout(step);
  }
}

/** Whether `promise` settles within `ms`; the timer is cleared so it cannot keep the process alive. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

export interface CommandResult {
  code: number | null;
  /** stdout and stderr interleaved, as a terminal would show them (Maven prints its errors on stdout). */
  output: string;
  /** Set when the command could not be started. */
  error?: Error;
}

/** Runs a command to its end, collecting its output for error messages. */
export async function runToCompletion(command: string, args: readonly string[], options: SpawnOptions = {}, onOutput?: (chunk: string) => void): Promise<CommandResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer): void => {
      chunks.push(chunk);
      onOutput?.(chunk.toString('utf8'));
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const output = (): string => Buffer.concat(chunks).toString('utf8');
    child.once('error', (error) => resolve({ code: null, output: output(), error }));
    child.once('close', (code) => resolve({ code, output: output() }));
  });
}
