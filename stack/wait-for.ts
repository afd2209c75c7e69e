// A process we did not spawn (one an earlier run left behind) sends no event when it goes away,
// so the stack polls for it, always with a bound.
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `condition` until it holds or `timeoutMs` passes; checks once more at the deadline. */
export async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, intervalMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(intervalMs);
  }
  return condition();
}
