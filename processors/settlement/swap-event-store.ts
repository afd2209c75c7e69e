// The swap-event handler's store (settlement-handler.ts): the conversion and payout statements it
// needs, over one chunk's transaction. The runtime builds it with `openSwapEventStore`, so the
// handler never holds the raw transaction and everything it writes commits with the inbox claims.
import type { DatabaseTransactionConnection } from 'slonik';
import type { Decimal } from '../../core/money.ts';
import type { PlannedCredit } from './conversion-credits.ts';
import {
  distributeConversion,
  lockConversionBatch,
  recordConversionFailed,
  recordConversionNeedsRecovery,
  recordConversionProgress,
  type ConversionOutcome,
  type LockedConversionBatch,
} from './conversion-store.ts';
import { lockPayoutBatch, recordPayoutFailed, recordPayoutFinished, recordPayoutProgress, type LockedPayoutBatch, type PayoutExchangeFacts, type PayoutFinished } from './payout-store.ts';
import type { RetrySchedule } from './payout-retry.ts';
import { lockSettlement } from './settlement-lock.ts';

export interface SwapEventStore {
  /** Serialises the chunk with the window's evaluations (settlement-lock.ts). */
  lockSettlement(): Promise<void>;
  lockConversionBatch(batchId: string): Promise<LockedConversionBatch | null>;
  /** The batch's credits planned and recorded, the batch finished (conversion-store.ts). */
  distributeConversion(batch: LockedConversionBatch, outcome: ConversionOutcome, receivedBaseUnits: bigint, now: Date): Promise<{ readonly credits: readonly PlannedCredit[] }>;
  recordConversionProgress(outcome: ConversionOutcome): Promise<void>;
  recordConversionFailed(outcome: ConversionOutcome & { readonly reason: string; readonly usdtReceived: Decimal | null }, now: Date): Promise<number>;
  recordConversionNeedsRecovery(outcome: ConversionOutcome & { readonly reason: string }, now: Date): Promise<number>;
  lockPayoutBatch(batchId: string): Promise<LockedPayoutBatch | null>;
  recordPayoutProgress(batch: LockedPayoutBatch, facts: PayoutExchangeFacts): Promise<void>;
  recordPayoutFinished(batch: LockedPayoutBatch, finished: PayoutFinished, now: Date): Promise<{ credits: number; payments: number }>;
  recordPayoutFailed(batch: LockedPayoutBatch, failure: PayoutExchangeFacts & { readonly reason: string; readonly schedule: RetrySchedule }, now: Date): Promise<number>;
}

export function openSwapEventStore(transaction: DatabaseTransactionConnection): SwapEventStore {
  return {
    lockSettlement: () => lockSettlement(transaction),
    lockConversionBatch: (batchId) => lockConversionBatch(transaction, batchId),
    distributeConversion: (batch, outcome, receivedBaseUnits, now) => distributeConversion(transaction, batch, outcome, receivedBaseUnits, now),
    recordConversionProgress: (outcome) => recordConversionProgress(transaction, outcome),
    recordConversionFailed: (outcome, now) => recordConversionFailed(transaction, outcome, now),
    recordConversionNeedsRecovery: (outcome, now) => recordConversionNeedsRecovery(transaction, outcome, now),
    lockPayoutBatch: (batchId) => lockPayoutBatch(transaction, batchId),
    recordPayoutProgress: (batch, facts) => recordPayoutProgress(transaction, batch, facts),
    recordPayoutFinished: (batch, finished, now) => recordPayoutFinished(transaction, batch, finished, now),
    recordPayoutFailed: (batch, failure, now) => recordPayoutFailed(transaction, batch, failure, now),
  };
}
