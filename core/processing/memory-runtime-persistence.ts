// The runtime's writes in memory, for the test driver (test-driver.ts): the same contract as the
// PostgreSQL implementation (runtime-persistence.contract.ts proves both), with no database.
// Transactions run one at a time on a copy of the state that replaces it on commit and is dropped
// when the work throws; a processor's in-memory store joins the rollback through `onRollback`.
import type { DeadLetter, OutboxRecord } from './outbox.ts';
import type { RuntimePersistence, RuntimeWrites } from './runtime-persistence.ts';

/** The driver's transaction, handed to a processor's `openStore` in place of a slonik transaction. */
export interface MemoryTransaction {
  /** Undoes a write of the processor's own in-memory store if this transaction rolls back. */
  onRollback(undo: () => void): void;
}

/** A row of the in-memory outbox: an outgoing record or a dead letter, as committed. */
export type MemoryOutboxRow = { readonly kind: 'record'; readonly record: OutboxRecord } | { readonly kind: 'dead-letter'; readonly letter: DeadLetter };

export interface MemoryRuntimePersistence extends RuntimePersistence<MemoryTransaction> {
  /** The committed outbox, in commit order. */
  readonly outbox: readonly MemoryOutboxRow[];
  /** The committed inbox claims of `consumer`. */
  claimsOf(consumer: string): ReadonlySet<string>;
  /** Transactions committed and rolled back so far. */
  readonly commits: number;
  readonly rollbacks: number;
}

interface State {
  readonly inbox: Map<string, Set<string>>;
  readonly outbox: MemoryOutboxRow[];
}

function copyOf(state: State): State {
  return { inbox: new Map([...state.inbox].map(([consumer, ids]) => [consumer, new Set(ids)])), outbox: [...state.outbox] };
}

export function createMemoryRuntimePersistence(): MemoryRuntimePersistence {
  let committed: State = { inbox: new Map(), outbox: [] };
  let tail: Promise<unknown> = Promise.resolve();
  let commits = 0;
  let rollbacks = 0;

  async function run<T>(work: (writes: RuntimeWrites, transaction: MemoryTransaction) => Promise<T>): Promise<T> {
    const working = copyOf(committed);
    const undos: (() => void)[] = [];
    const inboxOf = (consumer: string): Set<string> => {
      let ids = working.inbox.get(consumer);
      if (ids === undefined) {
        ids = new Set();
        working.inbox.set(consumer, ids);
      }
      return ids;
    };
    const writes: RuntimeWrites = {
      claim(consumer, claims) {
        const ids = inboxOf(consumer);
        const fresh = new Set<string>();
        for (const { messageId } of claims) {
          if (ids.has(messageId)) continue;
          ids.add(messageId);
          fresh.add(messageId);
        }
        return Promise.resolve(fresh);
      },
      releaseClaims(consumer, messageIds) {
        const ids = inboxOf(consumer);
        for (const id of messageIds) ids.delete(id);
        return Promise.resolve();
      },
      insertOutboxRecords(records) {
        for (const record of records) working.outbox.push({ kind: 'record', record });
        return Promise.resolve();
      },
      insertDeadLetters(letters) {
        for (const letter of letters) working.outbox.push({ kind: 'dead-letter', letter });
        return Promise.resolve();
      },
    };
    try {
      const result = await work(writes, { onRollback: (undo) => undos.push(undo) });
      committed = working;
      commits += 1;
      return result;
    } catch (error) {
      for (const undo of undos.reverse()) undo();
      rollbacks += 1;
      throw error;
    }
  }

  return {
    transaction<T>(work: (writes: RuntimeWrites, transaction: MemoryTransaction) => Promise<T>): Promise<T> {
      // One transaction at a time: the serial order PostgreSQL's row locks give claims of one id.
      const result = tail.then(() => run(work));
      tail = result.catch(() => undefined);
      return result;
    },
    get outbox() {
      return committed.outbox;
    },
    claimsOf: (consumer) => new Set(committed.inbox.get(consumer)),
    get commits() {
      return commits;
    },
    get rollbacks() {
      return rollbacks;
    },
  };
}
