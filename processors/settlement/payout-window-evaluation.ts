// One evaluation of the per-client window, in two phases:
// 1. Without locks: read the free groups, decide with the quotes known so far, and fetch the
//    quotes (range, fee estimates) the decisions still need from ChangeNow — network calls never
//    run inside the transaction below.
// 2. In ONE transaction under the settlement lock (settlement-lock.ts): read the groups again,
//    decide again (pure, payout-window.ts) with the now-filled quote book, and write the result —
//    new payout batches with their members, their credits taken out of the window and one
//    PayoutRequested each in the outbox; the retries that are due; the holds; the operator
//    requests answered. A crash anywhere rolls all of it back and the next evaluation decides
//    again from the committed state. A group whose amount changed between the phases may need a
//    quote that is not known yet: it is simply decided by the next evaluation.
import { assertInvariant } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { DatabasePool } from 'slonik';
import { lockSettlement } from './settlement-lock.ts';
import { decideWindow, groupKeyText, type GroupDecision, type PayoutWindowRules } from './payout-window.ts';
import type { QuoteCache } from './payout-quotes.ts';
import {
  clearRetry,
  insertPayoutBatch,
  markRequestHandled,
  readDueRetries,
  readWindow,
  replaceHolds,
  sumUsdt,
  type NewPayoutBatch,
  type OpenTriggerRequest,
} from './payout-window-store.ts';

export interface PayoutWindowEvaluatorOptions {
  pool: DatabasePool;
  rules: PayoutWindowRules;
  quotes: QuoteCache;
  now: () => Date;
  newBatchId: () => string;
  log: Logger;
  /** Retries formed per evaluation at most; the rest are formed by the next ones. */
  retriesPerEvaluationMax?: number;
}

export interface PayoutWindowEvaluation {
  readonly now: Date;
  readonly decisions: readonly GroupDecision[];
  readonly created: readonly NewPayoutBatch[];
  readonly retried: readonly NewPayoutBatch[];
  readonly answeredRequests: number;
}

export type PayoutWindowEvaluator = () => Promise<PayoutWindowEvaluation>;

/** Rounds of "decide, fetch what is missing": a range first, then the fee estimates it makes necessary. */
const quoteRoundsMax = 3;

function outcomeOf(request: OpenTriggerRequest, decisions: readonly GroupDecision[], created: readonly NewPayoutBatch[]): string {
  const batches = created.filter((batch) => batch.key.clientId === request.clientId);
  const holds = decisions.filter((decision) => decision.group.key.clientId === request.clientId && decision.hold !== null);
  const parts: string[] = [];
  if (batches.length > 0) parts.push(`requested ${batches.length} payout batch(es): ${batches.map((batch) => `${batch.batchId} (${batch.sourceAmount.toFixed()} USDT)`).join(', ')}`);
  for (const decision of holds) parts.push(`held ${decision.hold?.state ?? ''}: ${decision.hold?.reason ?? ''}`);
  return parts.length === 0 ? 'nothing to pay: the client has no free unpaid credits' : parts.join('; ');
}

export function createPayoutWindowEvaluator(options: PayoutWindowEvaluatorOptions): PayoutWindowEvaluator {
  const { pool, rules, quotes, log } = options;
  const retriesMax = options.retriesPerEvaluationMax ?? 100;

  async function prefetchQuotes(): Promise<void> {
    for (let round = 0; round < quoteRoundsMax; round += 1) {
      const snapshot = await readWindow(pool);
      const needs = decideWindow(snapshot.groups, rules, quotes, options.now()).flatMap((decision) => decision.needs);
      if (needs.length === 0) return;
      await quotes.fetch(needs);
    }
  }

  return async () => {
    await prefetchQuotes();
    return pool.transaction(async (transaction) => {
      await lockSettlement(transaction);
      // Read after the lock was granted, so the max-age decision is about the credits as they are now.
      const now = options.now();
      const snapshot = await readWindow(transaction);
      const decisions = decideWindow(snapshot.groups, rules, quotes, now);
      const requestedBy = new Map(snapshot.requests.map((request) => [request.clientId, request.requestedBy]));

      const created: NewPayoutBatch[] = [];
      for (const decision of decisions) {
        if (decision.trigger === null) continue;
        for (const payout of decision.payouts) {
          const batch: NewPayoutBatch = {
            batchId: options.newBatchId(),
            key: decision.group.key,
            reason: decision.trigger,
            sourceCurrency: 'usdt',
            sourceAmount: payout.usdtAmount,
            // USDT is valued at par for the payout's USD value (and for thresholds and caps).
            usdValue: payout.usdtAmount,
            credits: payout.credits,
            requestedBy: decision.trigger === 'manual' ? (requestedBy.get(decision.group.key.clientId) ?? null) : null,
            retryOf: null,
            correlationId: `payout-window:${groupKeyText(decision.group.key)}`,
          };
          await insertPayoutBatch(transaction, batch, now);
          created.push(batch);
        }
      }

      const retried: NewPayoutBatch[] = [];
      for (const due of await readDueRetries(transaction, now, retriesMax)) {
        const isUsdt = due.sourceCurrency === 'usdt';
        if (isUsdt && due.credits.length === 0) {
          // Its credits were paid or taken some other way since it failed: nothing is left to retry.
          log.error({ alert: true, failedBatchId: due.failedBatchId }, 'a failed payout batch has no free unpaid credits left to retry; retry dropped');
          await clearRetry(transaction, due.failedBatchId);
          continue;
        }
        const amount = isUsdt ? sumUsdt(due.credits) : due.sourceAmount;
        assertInvariant(!isUsdt || amount.lte(due.sourceAmount), 'a retry never pays more than the failed batch', { failedBatchId: due.failedBatchId });
        const batch: NewPayoutBatch = {
          batchId: options.newBatchId(),
          key: due.key,
          reason: 'retry',
          sourceCurrency: due.sourceCurrency,
          sourceAmount: amount,
          usdValue: isUsdt ? amount : due.usdValue,
          credits: due.credits,
          requestedBy: due.requestedBy,
          retryOf: { batchId: due.failedBatchId, originBatchId: due.originBatchId, attempts: due.attempts },
          correlationId: `payout-retry:${due.failedBatchId}`,
        };
        await insertPayoutBatch(transaction, batch, now);
        await clearRetry(transaction, due.failedBatchId);
        retried.push(batch);
      }

      const decided = decisions.filter((decision) => decision.needs.length === 0);
      await replaceHolds(
        transaction,
        decided.map((decision) => ({ key: decision.group.key, hold: decision.hold })),
        decisions.filter((decision) => decision.needs.length > 0).map((decision) => decision.group.key),
        now,
      );

      let answeredRequests = 0;
      for (const request of snapshot.requests) {
        // A request is answered once every group of its client was decided; otherwise the next
        // evaluation (with the missing quotes fetched) answers it.
        if (decisions.some((decision) => decision.group.key.clientId === request.clientId && decision.needs.length > 0)) continue;
        await markRequestHandled(transaction, request.requestId, outcomeOf(request, decisions, created), now);
        answeredRequests += 1;
      }
      return { now, decisions, created, retried, answeredRequests };
    });
  };
}
