// Finds the records of a chunk that can never be applied (poison), so the good ones are applied and
// the partition moves on instead of re-reading the same chunk forever. Pure: the caller's `apply`
// does the I/O (one transaction per call, rolled back whole when it reports an error), so the
// algorithm is proved by a property test with no database.
//
// Bisection: apply the whole group; if it fails, apply each half, recursively; a single record that
// fails alone is poison. Why this keeps "exactly once" for the good records: every record is in
// exactly one group that is applied successfully (a failed apply committed nothing, and a group is
// split only after it failed), and the groups are applied left to right, so the good records'
// order is kept. With k poison records among n, the applies are at most 1 + 2·k·⌈log2 n⌉ and
// never more than 2n − 1 (a full binary tree over n leaves).

export type ApplyOutcome<E> = { readonly ok: true } | { readonly ok: false; readonly error: E };

/** Applies the records in one transaction; an error result means nothing of it committed. Throws only for what must not be isolated (an outage): the throw ends the isolation. */
export type ApplyGroup<R, E> = (records: readonly R[]) => Promise<ApplyOutcome<E>>;

export interface PoisonRecord<R, E> {
  readonly record: R;
  readonly error: E;
}

export interface IsolationResult<R, E> {
  /** The groups that committed, in the order they were applied. */
  readonly appliedGroups: readonly (readonly R[])[];
  /** Records that failed alone, in their order in the chunk. */
  readonly poison: readonly PoisonRecord<R, E>[];
  readonly applyCount: number;
}

/** The most applies bisection can need for n records of which poisonCount are poison. */
export function applyCountMax(recordCount: number, poisonCount: number): number {
  if (recordCount === 0) return 0;
  const depth = Math.ceil(Math.log2(recordCount));
  return Math.min(2 * recordCount - 1, 1 + 2 * poisonCount * depth);
}

export async function applyIsolatingPoison<R, E>(records: readonly R[], apply: ApplyGroup<R, E>): Promise<IsolationResult<R, E>> {
  const appliedGroups: R[][] = [];
  const poison: PoisonRecord<R, E>[] = [];
  let applyCount = 0;

  async function applyGroup(group: readonly R[]): Promise<void> {
    applyCount += 1;
    const outcome = await apply(group);
    if (outcome.ok) {
      appliedGroups.push([...group]);
      return;
    }
    const [only] = group;
    if (group.length === 1 && only !== undefined) {
      poison.push({ record: only, error: outcome.error });
      return;
    }
    const middle = Math.ceil(group.length / 2);
    await applyGroup(group.slice(0, middle));
    await applyGroup(group.slice(middle));
  }

  if (records.length > 0) await applyGroup(records);
  return { appliedGroups, poison, applyCount };
}
