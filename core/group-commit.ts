// Group commit: concurrent requests that each need a durable write share one transaction. A
// request waits for the commit that carries it, and is answered with its own result.
//
// Why: one transaction per request holds a pooled connection for a round trip per statement plus
// a WAL flush, so the pool's size divided by that time caps the request rate however fast the
// CPU is. Grouping pays those costs once per batch. There is no linger timer: a batch starts as
// soon as a commit slot is free and takes everything queued by then (up to `batchSizeMax`), so
// under light load a request is committed alone and at once, and under heavy load the batches
// grow by themselves while the slots are busy.
//
// Each item's result is its own: `commit` settles items one by one, so one refused item (a
// conflicting payment) does not fail the others. When `commit` itself throws, every item of that
// batch gets the error — nothing of the batch was committed.

export type Settled<O> = { readonly ok: true; readonly value: O } | { readonly ok: false; readonly error: unknown };

export interface GroupCommitOptions<I, O> {
  /** Writes the batch in one transaction and returns one result per item, in the items' order. */
  commit: (items: readonly I[]) => Promise<readonly Settled<O>[]>;
  batchSizeMax: number;
  /** Batches committing at once: at most the connections the caller can spare. */
  inFlightMax: number;
}

export interface GroupCommit<I, O> {
  submit(item: I): Promise<O>;
  /** Resolves once nothing is queued or committing (drain on shutdown). */
  idle(): Promise<void>;
}

interface Waiting<I, O> {
  readonly item: I;
  resolve(value: O): void;
  reject(error: unknown): void;
}

export function createGroupCommit<I, O>(options: GroupCommitOptions<I, O>): GroupCommit<I, O> {
  const queue: Waiting<I, O>[] = [];
  let inFlight = 0;
  let scheduled = false;
  let idleWaiters: (() => void)[] = [];

  function settleIdle(): void {
    if (inFlight > 0 || queue.length > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  async function commitBatch(batch: readonly Waiting<I, O>[]): Promise<void> {
    try {
      const results = await options.commit(batch.map((waiting) => waiting.item));
      batch.forEach((waiting, index) => {
        const result = results[index];
        if (result === undefined) waiting.reject(new Error(`group commit returned ${results.length} results for ${batch.length} items`));
        else if (result.ok) waiting.resolve(result.value);
        else waiting.reject(result.error);
      });
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    }
  }

  function pump(): void {
    scheduled = false;
    while (inFlight < options.inFlightMax && queue.length > 0) {
      const batch = queue.splice(0, options.batchSizeMax);
      inFlight += 1;
      void commitBatch(batch).finally(() => {
        inFlight -= 1;
        pump();
        settleIdle();
      });
    }
  }

  return {
    submit(item) {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        // Deferred to the end of the current tick, so requests that arrived together share a batch.
        if (!scheduled) {
          scheduled = true;
          queueMicrotask(pump);
        }
      });
    },
    idle() {
      if (inFlight === 0 && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
