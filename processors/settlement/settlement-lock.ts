// One advisory lock serialises everything settlement decides over credits and payout batches: the
// swap-event handler's chunks and the per-client window's evaluations, across all settlement
// instances. Both read "which credits are free" and change it; with the lock each decision sees
// the result of the previous one, whatever instance made it. Transaction-scoped, so a crash or a
// rollback releases it; it blocks rather than tries, so a woken evaluation waits its turn.
import type { DatabaseTransactionConnection } from 'slonik';
import { lockForTransaction, settlementLock } from '../../db/advisory-locks.ts';

export async function lockSettlement(transaction: DatabaseTransactionConnection): Promise<void> {
  await lockForTransaction(transaction, settlementLock());
}
