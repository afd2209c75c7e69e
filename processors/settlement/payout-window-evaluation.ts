// One evaluation of the per-client window, in two phases:
// 1. Without locks: read at most PAYOUT_WINDOW_GROUPS_MAX free groups as totals (sum, count,
//    oldest credit — never every credit row), the credits of the groups that are due, and fetch
//    the quotes (range, then the fee estimates it makes necessary) their decisions still need from
//    ChangeNow, deciding again on that same read after each round — network calls never run
//    inside the transaction below. Groups past the limit are decided by the next evaluations,
//    oldest first.
// 2. In ONE transaction under the settlement lock (settlement-lock.ts): read the totals of the
//    same groups again (and of every group of a client an operator asked to pay), the credits of
//    those due now, decide again (pure, payout-window.ts) with the filled quote book, and write the result —
//    new payout batches with their members, their credits taken out of the window and one
//    PayoutRequested each in the outbox; the retries that are due; the holds; the operator
//    requests answered. A crash anywhere rolls all of it back and the next evaluation decides
//    again from the committed state. A group whose amount changed between the phases may need a
//    quote that is not known yet: it is simply decided by the next evaluation.
import { assertInvariant } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { CommonQueryMethods, DatabasePool } from 'slonik';
import { lockSettlement } from './settlement-lock.ts';
import { decideUndue, decideWindow, groupKeyText, type GroupDecision, type GroupKey, type GroupSummary, type PayoutWindowRules } from './payout-window.ts';
import type { QuoteCache } from './payout-quotes.ts';
import {
  clearRetry,
  insertPayoutBatch,
  markRequestHandled,
  readChosenSummaries,
  readDueRetries,
  readGroupCredits,
  readWindowSummaries,
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
  /** Free groups read per evaluation at most (PAYOUT_WINDOW_GROUPS_MAX); the rest are decided by the next ones. */
  groupsPerEvaluationMax?: number;
}

/** Group keys compared as the read's rotation compares them: component by component, bytewise (COLLATE "C"). */
export function compareGroupKeys(left: GroupKey, right: GroupKey): number {
  const parts = (key: GroupKey): string[] => [key.clientId, key.walletAddress, key.payoutCurrency, key.payoutNetwork];
  const rightParts = parts(right);
  for (const [index, part] of parts(left).entries()) {
    const order = Buffer.compare(Buffer.from(part), Buffer.from(rightParts[index] ?? ''));
    if (order !== 0) return order;
  }
  return 0;
}

/**
 * Where a full page ended in the read's order: after `after` in key order, then wrapped around to
 * the start. So the end is the greatest key that wrapped, if any did, else the greatest key. The
 * operators' groups come first on every page and do not move the cursor.
 */
export function pageEndOf(groups: readonly GroupSummary[], after: GroupKey | null): GroupKey | null {
  const greatest = (keys: readonly GroupKey[]): GroupKey | null => keys.reduce<GroupKey | null>((last, key) => (last === null || compareGroupKeys(key, last) > 0 ? key : last), null);
  const rotated = groups.filter((group) => !group.manual).map((group) => group.key);
  const wrapped = after === null ? [] : rotated.filter((key) => compareGroupKeys(key, after) <= 0);
  return greatest(wrapped.length > 0 ? wrapped : rotated);
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

/** One evaluation of the given groups (phase 1 from their totals, phase 2 under the lock), and of every group an operator asked for. */
export type ChosenGroupsEvaluator = (keys: readonly GroupKey[], summaries?: readonly GroupSummary[]) => Promise<PayoutWindowEvaluation>;

export function createChosenGroupsEvaluator(options: PayoutWindowEvaluatorOptions): ChosenGroupsEvaluator {
  const { pool, rules, quotes, log } = options;
  const retriesMax = options.retriesPerEvaluationMax ?? 100;

  /** The due ones among `summaries`, with their credits; the others decided from their totals. */
  async function decide(connection: CommonQueryMethods, summaries: readonly GroupSummary[], now: Date): Promise<GroupDecision[]> {
    const undue: GroupDecision[] = [];
    const due: GroupSummary[] = [];
    for (const summary of summaries) {
      const decision = decideUndue(summary, rules, now);
      if (decision === null) due.push(summary);
      else undue.push(decision);
    }
    const decided = [...undue, ...decideWindow(await readGroupCredits(connection, due), rules, quotes, now)];
    // In key order, as the groups were read: batches are formed in the same order every time.
    return decided.sort((left, right) => {
      const [leftText, rightText] = [groupKeyText(left.group.key), groupKeyText(right.group.key)];
      return leftText < rightText ? -1 : leftText > rightText ? 1 : 0;
    });
  }

  /** Phase 1: the quotes the chosen groups need, fetched before any lock is taken. */
  async function fetchQuotes(summaries: readonly GroupSummary[]): Promise<void> {
    const now = options.now();
    const due = summaries.filter((summary) => decideUndue(summary, rules, now) === null);
    const groups = await readGroupCredits(pool, due);
    // Every round decides on the same read: what a round fetched fills the quote book the next
    // one decides with, so only the quotes change between rounds, never the groups.
    for (let round = 0; round < quoteRoundsMax; round += 1) {
      const needs = decideWindow(groups, rules, quotes, options.now()).flatMap((decision) => decision.needs);
      if (needs.length === 0) break;
      await quotes.fetch(needs);
    }
  }

  // `summaries`: the chosen groups' totals when the caller read them already (the paging window).
  return async (chosen, summaries) => {
    await fetchQuotes(summaries ?? (await readChosenSummaries(pool, chosen)).groups);
    return pool.transaction(async (transaction) => {
      await lockSettlement(transaction);
      // Read after the lock was granted, so the max-age decision is about the credits as they are now.
      const now = options.now();
      const snapshot = await readChosenSummaries(transaction, chosen);
      const decisions = await decide(transaction, snapshot.groups, now);
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
      await replaceHolds(transaction, decided.map((decision) => ({ key: decision.group.key, hold: decision.hold })), now);

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

/**
 * The window over every free group, PAYOUT_WINDOW_GROUPS_MAX at a time: each evaluation reads the
 * totals of the next page of groups (in key order from where the last full page ended, wrapping
 * around) and evaluates those. Its cost grows with the free credits (the page is chosen from all of
 * them); settlement runs the incremental window (incremental-payout-window.ts) instead, and
 * bench/payout-window-cost.ts measures this one as the path it replaced.
 */
export function createPayoutWindowEvaluator(options: PayoutWindowEvaluatorOptions): PayoutWindowEvaluator {
  const groupsMax = options.groupsPerEvaluationMax ?? 1_000;
  const evaluateChosen = createChosenGroupsEvaluator(options);
  // Where the last full page of groups ended: the next evaluation continues from there.
  let pageEnd: GroupKey | null = null;
  return async () => {
    const snapshot = await readWindowSummaries(options.pool, groupsMax, pageEnd);
    pageEnd = snapshot.groups.length >= groupsMax ? pageEndOf(snapshot.groups, pageEnd) : null;
    return evaluateChosen(
      snapshot.groups.map((summary) => summary.key),
      snapshot.groups,
    );
  };
}
