// One advisory lock serialises everything settlement decides over credits and payout batches: the
// swap-event handler's chunks and the per-client window's evaluations, across all settlement
// instances. Both read "which credits are free" and change it; with the lock each decision sees
// the result of the previous one, whatever instance made it. Transaction-scoped, so a crash or a
// rollback releases it; it blocks rather than tries, so a woken evaluation waits its turn.
import { createHash } from 'node:crypto';
import { sql, type DatabaseTransactionConnection } from 'slonik';

export const settlementLockKey = BigInt.asIntN(64, BigInt(`0x${createHash('sha256').update('payout-pipeline:settlement').digest('hex').slice(0, 16)}`));

export async function lockSettlement(transaction: DatabaseTransactionConnection): Promise<void> {
  await transaction.query(sql.unsafe`SELECT pg_advisory_xact_lock(${settlementLockKey.toString()}::bigint)`);
}
