import { describe, expect, it } from 'vitest';
import { createGroupCommit, type Settled } from './group-commit.ts';

/** A commit that records its batches and answers after `delayMs`. */
function recordingCommit(delayMs: number) {
  const batches: number[][] = [];
  let concurrent = 0;
  let concurrentMax = 0;
  const commit = async (items: readonly number[]): Promise<Settled<string>[]> => {
    batches.push([...items]);
    concurrent += 1;
    concurrentMax = Math.max(concurrentMax, concurrent);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    concurrent -= 1;
    return items.map((item) => (item % 7 === 0 ? { ok: false, error: new Error(`refused ${item}`) } : { ok: true, value: `done ${item}` }));
  };
  return { commit, batches, concurrentMax: () => concurrentMax };
}

describe('group commit', () => {
  it('answers each item with its own result, one refused item failing only itself', async () => {
    const { commit } = recordingCommit(5);
    const group = createGroupCommit({ commit, batchSizeMax: 100, inFlightMax: 2 });
    const results = await Promise.allSettled([1, 7, 8].map((item) => group.submit(item)));
    expect(results.map((result) => (result.status === 'fulfilled' ? result.value : String(result.reason)))).toEqual(['done 1', 'Error: refused 7', 'done 8']);
  });

  it('commits a lone request at once, alone', async () => {
    const { commit, batches } = recordingCommit(1);
    const group = createGroupCommit({ commit, batchSizeMax: 100, inFlightMax: 2 });
    expect(await group.submit(3)).toBe('done 3');
    expect(batches).toEqual([[3]]);
  });

  it('groups what arrives while the commit slots are busy, never more than batchSizeMax or inFlightMax', async () => {
    const { commit, batches, concurrentMax } = recordingCommit(10);
    const group = createGroupCommit({ commit, batchSizeMax: 50, inFlightMax: 2 });
    const items = Array.from({ length: 400 }, (_, index) => index + 1);
    const answers = await Promise.allSettled(items.map((item) => group.submit(item)));
    expect(answers.filter((answer) => answer.status === 'fulfilled')).toHaveLength(400 - Math.floor(400 / 7));
    expect(batches.flat().sort((left, right) => left - right)).toEqual(items);
    expect(Math.max(...batches.map((batch) => batch.length))).toBeLessThanOrEqual(50);
    expect(batches.length).toBeLessThan(20);
    expect(concurrentMax()).toBeLessThanOrEqual(2);
  });

  it('fails every item of a batch whose commit throws, and goes on with the next batch', async () => {
    let calls = 0;
    const group = createGroupCommit<number, number>({
      commit: (items) => {
        calls += 1;
        return calls === 1 ? Promise.reject(new Error('database down')) : Promise.resolve(items.map((value) => ({ ok: true, value })));
      },
      batchSizeMax: 10,
      inFlightMax: 1,
    });
    const first = await Promise.allSettled([group.submit(1), group.submit(2)]);
    expect(first.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(await group.submit(3)).toBe(3);
  });

  it('is idle once everything queued has committed', async () => {
    const { commit } = recordingCommit(5);
    const group = createGroupCommit({ commit, batchSizeMax: 2, inFlightMax: 1 });
    const answered: number[] = [];
    for (const item of [1, 2, 3, 4, 5]) void group.submit(item).then(() => answered.push(item));
    await group.idle();
    await Promise.resolve();
    expect(answered.sort()).toEqual([1, 2, 3, 4, 5]);
  });
});
