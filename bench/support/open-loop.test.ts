import { describe, expect, it } from 'vitest';
import { percentilesOf, runOpenLoop, scheduledOffsetMs } from './open-loop.ts';

describe('open-loop load', () => {
  it('takes nearest-rank percentiles', () => {
    const samples = Array.from({ length: 1_000 }, (_, index) => 1_000 - index);
    expect(percentilesOf(samples)).toEqual({ p50: 500, p99: 990, p999: 999, max: 1_000 });
  });

  it('schedules request i at i / rate', () => {
    expect(scheduledOffsetMs(0, 1_000)).toBe(0);
    expect(scheduledOffsetMs(250, 1_000)).toBe(250);
    expect(scheduledOffsetMs(3, 200)).toBe(15);
  });

  it('counts latency from the scheduled time, so a server that stalls shows its queue (no coordinated omission)', async () => {
    // A server that answers one request at a time, 20 ms each, offered 200/s for 40 requests:
    // the queue grows by 15 ms per request, so the last answer is ~600 ms after it was due.
    let busyUntil = 0;
    const result = await runOpenLoop({
      ratePerSecond: 200,
      requests: 40,
      expectedStatus: 202,
      send: async () => {
        const now = performance.now();
        busyUntil = Math.max(busyUntil, now) + 20;
        await new Promise((resolve) => setTimeout(resolve, busyUntil - now));
        return 202;
      },
    });
    expect(result.latencyMs.max).toBeGreaterThan(500);
    expect(result.failures.size).toBe(0);
  });

  it('counts answers with another status and failed requests', async () => {
    const result = await runOpenLoop({
      ratePerSecond: 1_000,
      requests: 10,
      expectedStatus: 202,
      send: (index) => (index % 5 === 0 ? Promise.reject(new Error('refused')) : Promise.resolve(index % 2 === 0 ? 503 : 202)),
    });
    expect(Object.fromEntries(result.failures)).toEqual({ 0: 2, 503: 4 });
  });
});
