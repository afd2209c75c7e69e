// A clock that moves only when a test advances it (the test driver's, and any test of a timer):
// `advance` moves the time step by step to each due timer and fires it, letting the callbacks'
// promises settle in between, so a punctuation behaves as it would in real time, without the wait.
import type { Clock } from '../clock.ts';

export interface ManualClock extends Clock {
  /** Moves the time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): Promise<void>;
  /** Timers not cancelled. */
  readonly timerCount: number;
}

interface ManualTimer {
  readonly intervalMs: number;
  dueAtMs: number;
  readonly tick: () => void;
}

/** Lets pending promise callbacks (a fired run's next steps) run before the clock moves on. */
async function settle(): Promise<void> {
  for (let round = 0; round < 10; round += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

export function createManualClock(start: Date = new Date('2026-01-01T00:00:00.000Z')): ManualClock {
  let nowMs = start.getTime();
  const timers = new Set<ManualTimer>();
  return {
    now: () => new Date(nowMs),
    every(intervalMs, tick) {
      const timer: ManualTimer = { intervalMs, dueAtMs: nowMs + intervalMs, tick };
      timers.add(timer);
      return { cancel: () => timers.delete(timer) };
    },
    async advance(ms) {
      const targetMs = nowMs + ms;
      // What was already under way (a run just released) finishes before the time moves.
      await settle();
      for (;;) {
        let next: ManualTimer | undefined;
        for (const timer of timers) if (timer.dueAtMs <= targetMs && (next === undefined || timer.dueAtMs < next.dueAtMs)) next = timer;
        if (next === undefined) break;
        nowMs = next.dueAtMs;
        next.dueAtMs += next.intervalMs;
        next.tick();
        await settle();
      }
      nowMs = targetMs;
      await settle();
    },
    get timerCount() {
      return timers.size;
    },
  };
}
