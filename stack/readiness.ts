// A service that dies during start-up must fail its start at once with its own output, not after
// the readiness timeout with a vague "did not answer"; and a slow one must not wait forever.
import { setTimeout as sleep } from 'node:timers/promises';
import { describeExit, type ExitState, type WatchedChild } from './child-process.ts';

/** The process exited before it was ready. */
export class EarlyExit extends Error {
  constructor(readonly state: ExitState) {
    super(`exited before it was ready (${describeExit(state)})`);
  }
}

/** The process was still running but not ready when the time ran out. */
export class NotReady extends Error {
  constructor(readonly lastProblem: unknown) {
    super(`last readiness check: ${lastProblem instanceof Error ? lastProblem.message : String(lastProblem)}`);
  }
}

/**
 * Calls `check` every `intervalMs` until it resolves to undefined (ready). Otherwise it resolves
 * to what is still wrong, for the NotReady thrown after `timeoutMs`; a rejection ends the wait
 * (for problems that never fix themselves). Throws EarlyExit as soon as the process exits.
 */
export async function pollUntilReady(
  service: Pick<WatchedChild, 'exited' | 'hasExited'>,
  check: () => Promise<unknown>,
  timing: { timeoutMs: number; intervalMs: number },
): Promise<void> {
  let settled = false;
  const deadline = Date.now() + timing.timeoutMs;

  const poll = async (): Promise<void> => {
    let problem: unknown = 'no answer yet';
    while (!settled && !service.hasExited()) {
      if (Date.now() > deadline) throw new NotReady(problem);
      problem = await check();
      if (problem === undefined) return;
      await sleep(timing.intervalMs);
    }
  };
  const earlyExit = service.exited.then((state) => {
    throw new EarlyExit(state);
  });
  try {
    await Promise.race([poll(), earlyExit]);
    // The poll loop also ends quietly when the process exits; the race may not have seen it yet.
    if (service.hasExited()) throw new EarlyExit(await service.exited);
  } finally {
    settled = true;
    earlyExit.catch(() => undefined);
  }
}
