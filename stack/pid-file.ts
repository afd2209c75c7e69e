// A service the stack starts runs in its own process group and outlives a parent killed with
// SIGKILL, holding its ports and data-directory locks forever. The pid file in its data directory
// is how the next start finds and stops it.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { PipelineError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { readOptional } from './read-optional.ts';
import { waitFor } from './wait-for.ts';

const killWaitMs = 5_000;

export async function writePidFile(pidFile: string, pid: number): Promise<void> {
  await writeFile(pidFile, `${pid}\n`);
}

export async function removePidFileIfOurs(pidFile: string, pid: number): Promise<void> {
  // A newer start on the same data directory may already have replaced the file.
  if ((await readOptional(pidFile))?.trim() === String(pid)) await rm(pidFile, { force: true });
}

export interface OrphanedProcess {
  pidFile: string;
  /** Names it in messages, in lower case unless a proper noun: `Kafka broker`, `schema registry`. */
  description: string;
  /**
   * Whether a command line (its NUL-separated arguments) is this data directory's service. Only
   * such a process is signalled, so a recycled pid belonging to something else survives.
   */
  isOurs: (args: readonly string[]) => boolean;
  /** How long it may take to shut down after SIGTERM before it is killed. */
  graceMs: number;
  log: Logger;
}

/** Stops the process an earlier run left behind, if the pid file names one, and removes the pid file. */
export async function stopOrphanedProcess(orphan: OrphanedProcess): Promise<void> {
  const { pidFile, description, log } = orphan;
  const recorded = Number.parseInt((await readOptional(pidFile)) ?? '', 10);
  if (!Number.isInteger(recorded) || recorded <= 0) return;
  const isStillOurs = async (): Promise<boolean> => {
    // Any read error (ENOENT, ESRCH while it exits) means the process is gone; a zombie's cmdline
    // is empty, so an exited but unreaped process reads as gone too.
    const commandLine = await readFile(`/proc/${recorded}/cmdline`, 'utf8').catch(() => '');
    return orphan.isOurs(commandLine.split('\0'));
  };
  if (await isStillOurs()) {
    log.warn({ pid: recorded, pidFile }, `A ${description} from an earlier run still uses this data directory, stopping it`);
    const signalled = (signal: NodeJS.Signals): boolean => {
      try {
        process.kill(recorded, signal);
        return true;
      } catch {
        return false;
      }
    };
    const isGone = async (): Promise<boolean> => !(await isStillOurs());
    if (signalled('SIGTERM') && !(await waitFor(isGone, orphan.graceMs))) {
      log.warn({ pid: recorded }, `Earlier ${description} ignored SIGTERM, killing it`);
      signalled('SIGKILL');
      if (!(await waitFor(isGone, killWaitMs))) {
        throw new PipelineError(`${capitalised(description)} from an earlier run (pid ${recorded}) survived SIGKILL; stop it by hand.`, {
          context: { pid: recorded, pidFile },
        });
      }
    }
  }
  await rm(pidFile, { force: true });
}

/**
 * Whether the process a pid record names still runs. Signal 0 alone is not enough: a zombie
 * answers it, and zombies linger where PID 1 does not reap.
 */
export async function isProcessAlive(pid: number): Promise<boolean> {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, it just is not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const processStat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Format: `pid (command) state …`; the command may itself contain parentheses.
    return processStat.charAt(processStat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    // No /proc (macOS): signal 0 is all there is.
    return true;
  }
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
