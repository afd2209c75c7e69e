// An open-loop load generator: request i is due at start + i / rate, and its latency is measured
// from that scheduled time, not from when it was actually sent. A closed loop (N workers, each
// waiting for its answer) slows down with the server and hides exactly the queueing a payment
// provider's retries would see — coordinated omission. Here a server that falls behind shows it
// as growing latency, and a generator that falls behind (its own CPU) does too, so the figure is
// never flattered.

export interface OpenLoopResult {
  readonly offeredPerSecond: number;
  readonly sent: number;
  readonly completedPerSecond: number;
  /** Answers other than the expected status, by status (0: the request failed). */
  readonly failures: ReadonlyMap<number, number>;
  readonly latencyMs: Percentiles;
}

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** The nearest-rank value at `fraction` (0.5 is the median) of an ascending sample; NaN when it is empty. Every benchmark's percentiles. */
export function nearestRank(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ?? Number.NaN;
}

/** Nearest-rank percentiles of a sample (sorted here). */
export function percentilesOf(samples: readonly number[]): Percentiles {
  const sorted = [...samples].sort((left, right) => left - right);
  return { p50: nearestRank(sorted, 0.5), p99: nearestRank(sorted, 0.99), p999: nearestRank(sorted, 0.999), max: sorted[sorted.length - 1] ?? Number.NaN };
}

/** The time request `index` is due, in ms after the start, at `ratePerSecond`. */
export function scheduledOffsetMs(index: number, ratePerSecond: number): number {
  return (index * 1_000) / ratePerSecond;
}

export async function runOpenLoop(settings: {
  ratePerSecond: number;
  /** One request each; their count and the rate give the duration. */
  requests: number;
  send: (index: number) => Promise<number>;
  expectedStatus: number;
}): Promise<OpenLoopResult> {
  const { ratePerSecond, requests } = settings;
  const latencies: number[] = [];
  const failures = new Map<number, number>();
  const inFlight: Promise<void>[] = [];
  const start = performance.now() + 50;
  let next = 0;
  await new Promise<void>((resolve) => {
    // A 1 ms tick fires every request that is due; a late tick fires several at once, and their
    // latency still counts from their own scheduled time.
    const tick = setInterval(() => {
      const now = performance.now();
      while (next < requests && start + scheduledOffsetMs(next, ratePerSecond) <= now) {
        const scheduled = start + scheduledOffsetMs(next, ratePerSecond);
        const index = next;
        next += 1;
        inFlight.push(
          settings.send(index).then(
            (status) => {
              latencies.push(performance.now() - scheduled);
              if (status !== settings.expectedStatus) failures.set(status, (failures.get(status) ?? 0) + 1);
            },
            () => {
              latencies.push(performance.now() - scheduled);
              failures.set(0, (failures.get(0) ?? 0) + 1);
            },
          ),
        );
      }
      if (next >= requests) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  await Promise.all(inFlight);
  const seconds = (performance.now() - start) / 1_000;
  return { offeredPerSecond: ratePerSecond, sent: requests, completedPerSecond: requests / seconds, failures, latencyMs: percentilesOf(latencies) };
}
