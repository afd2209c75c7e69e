// The clock every processor runs on: the time it writes and the timers of its punctuation, its
// retention and its windows' time triggers. Production uses the system clock; tests inject a manual
// one (core/processing/manual-clock.ts) and advance it instead of sleeping in real time.

export interface ClockTimer {
  cancel(): void;
}

export interface Clock {
  readonly now: () => Date;
  /** Calls `tick` every `intervalMs` until the timer is cancelled. */
  readonly every: (intervalMs: number, tick: () => void) => ClockTimer;
}

export const systemClock: Clock = {
  now: () => new Date(),
  every: (intervalMs, tick) => {
    const timer = setInterval(tick, intervalMs);
    return { cancel: () => clearInterval(timer) };
  },
};

/** The system clock, or its timers with another notion of now (a test's offset clock). */
export function clockOf(now?: () => Date): Clock {
  return now === undefined ? systemClock : { now, every: systemClock.every };
}
