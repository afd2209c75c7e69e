// Proves the coalescing runner never runs the evaluation twice at once, turns a burst of requests
// into at most one running plus one queued run, and answers every request with a run that started
// after it.
import { describe, expect, it } from 'vitest';
import { createCoalescingRunner } from './coalescing-runner.ts';

function controllableJob() {
  const releases: (() => void)[] = [];
  let running = 0;
  let overlapMax = 0;
  let starts = 0;
  const run = (): Promise<void> => {
    starts += 1;
    running += 1;
    overlapMax = Math.max(overlapMax, running);
    return new Promise<void>((resolve) => {
      releases.push(() => {
        running -= 1;
        resolve();
      });
    });
  };
  return {
    run,
    get starts() {
      return starts;
    },
    get overlapMax() {
      return overlapMax;
    },
    async releaseNext(): Promise<void> {
      releases.shift()?.();
      // Let the runner's promise chain start the queued run, if any.
      for (let turn = 0; turn < 5; turn += 1) await Promise.resolve();
    },
  };
}

describe('a coalescing runner', () => {
  it('turns a burst of requests during a run into exactly one more run', async () => {
    const job = controllableJob();
    const runner = createCoalescingRunner(job.run);
    const first = runner.request();
    const burst = Array.from({ length: 100 }, () => runner.request());
    expect(job.starts).toBe(1);
    await job.releaseNext();
    await first;
    expect(job.starts).toBe(2);
    await job.releaseNext();
    await Promise.all(burst);
    expect(job.starts).toBe(2);
    expect(job.overlapMax).toBe(1);
  });

  it('answers a request made while a run is in progress only after a later run finishes', async () => {
    const job = controllableJob();
    const runner = createCoalescingRunner(job.run);
    void runner.request();
    let answered = false;
    const late = runner.request().then(() => {
      answered = true;
    });
    await job.releaseNext();
    expect(answered).toBe(false);
    await job.releaseNext();
    await late;
    expect(answered).toBe(true);
  });

  it('keeps serving after a run fails', async () => {
    let calls = 0;
    const runner = createCoalescingRunner(() => {
      calls += 1;
      return calls === 1 ? Promise.reject(new Error('database down')) : Promise.resolve();
    });
    const failing = runner.request();
    const queued = runner.request();
    await expect(failing).rejects.toThrow('database down');
    await queued;
    await runner.request();
    expect(calls).toBe(3);
    await runner.idle();
  });

  it('is idle once everything requested has run', async () => {
    const job = controllableJob();
    const runner = createCoalescingRunner(job.run);
    void runner.request();
    void runner.request();
    let idle = false;
    const waiting = runner.idle().then(() => {
      idle = true;
    });
    await job.releaseNext();
    expect(idle).toBe(false);
    await job.releaseNext();
    await waiting;
    expect(idle).toBe(true);
  });
});
