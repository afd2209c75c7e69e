// Settlement's incremental per-client window: it keeps the free unpaid total, oldest credit and
// threshold of every payout group in memory (unpaid-groups.ts), rebuilt from the database at start
// and on a listener reconnect, and updated from what the settlement_window notifications name
// (db/settlement-notifications.ts: a conversion batch whose credits were issued, a client whose
// configuration was stored), so a check with nothing due costs O(new credits) — one read of the
// notified batches' credits through their index, one probe for operator requests and due retries —
// instead of summing every free credit. The full evaluation (payout-window-evaluation.ts) runs only
// for the groups that may be due, and only when one may be or an operator request or a retry is.
//
// Exactly once in effect is unchanged: payout batches are still formed only by the full decision,
// in its one transaction under the settlement lock, which reads the chosen groups' totals and
// credits again and takes each credit with `payout_batch_id IS NULL` (an assertion fails the whole
// transaction otherwise). The state only decides WHICH groups that decision looks at, so a wrong
// state can waste a decision or delay one, never pay twice. Why it never delays one: a group is due
// when an operator asked (manual), its oldest credit reached PAYOUT_MAX_AGE, or its total reached
// its threshold (or it has none); manual requests are probed on every check and bring every group
// of their client into the decision (readChosenSummaries). For the other two, the state never says
// "not due" of a group the decision would find due, because between two exact reads it only
// over-estimates — a larger total, an earlier oldest, an unknown threshold — and mayBeDue is
// monotone in that direction:
// - Free credits appear only when a finished conversion issues them (conversion-store.ts), which
//   NOTIFYs the batch in the same transaction: delivered on commit, to every listening instance.
//   Their sum is read per group and added. A credit committed before an exact read and notified
//   after it is counted twice: an over-estimate. (A failed payout's credits are held for its retry,
//   never free again: the retry takes them itself, readDueRetries. The rebuild counts them anyway,
//   reading the credits' partial index instead of the view: an over-estimate.)
// - Free credits disappear only into a payout batch. Ours replaces the group's state with the
//   exact totals the decision read under the lock, minus what it paid (the oldest kept: earlier
//   than or equal to the truth); another instance's leaves ours stale-high, which costs one wasted
//   decision that reads the truth.
// - A threshold or strategy changes only when a client's configuration is stored (the admin API,
//   the router), which NOTIFYs the client in the same transaction; that client's groups become
//   "threshold unknown", so the next check decides them in full, which reads the threshold.
// - Age needs no notification: the groups whose oldest credit reaches PAYOUT_MAX_AGE are found by
//   a scan of the state when the earliest such time (kept never later than the truth) has passed.
// - Notifications sent while our listener was disconnected are lost: the reconnect marks the state
//   unknown (also when it happens during a read), and the next check rebuilds it; so does a payload
//   that does not decode. A failed read or decision leaves the state as it was, notifications kept.
// - Past PAYOUT_WINDOW_GROUPS_MAX groups that may be due, a check decides that many and moves them
//   behind the rest, so every one is decided within (candidates ÷ limit) checks.
// Holds (a due group below the exchange's minimum, say) stay "may be due", so they are decided on
// every check, and a hold is re-decided and cleared as soon as its reason goes away. Retries and
// operator requests are found by the probe, not by the state.
import type { DatabasePool } from 'slonik';
import { Decimal } from '../../core/money.ts';
import { decodeSettlementWindow } from '../../db/settlement-notifications.ts';
import type { ChosenGroupsEvaluator, PayoutWindowEvaluation } from './payout-window-evaluation.ts';
import { groupKeyText, type GroupKey } from './payout-window.ts';
import { readAllGroupTotals, readIssuedCredits, readWindowWork } from './payout-window-store.ts';
import { addArrival, mayBeDue, maxAgeAtMs, remainderAfter, type GroupState } from './unpaid-groups.ts';

/** How often the state is rebuilt even if nothing said it was lost: a safety net, not needed for correctness. */
export const stateResyncIntervalMs = 60_000;

export interface PayoutWindowCheck extends PayoutWindowEvaluation {
  /** skipped: nothing may be due, no request is open, no retry is due; no lock was taken. */
  readonly kind: 'skipped' | 'evaluated';
  readonly rebuilt: boolean;
  /** Free groups and their unpaid USDT as the state holds them after the check (an over-estimate). */
  readonly groups: number;
  readonly unpaidUsdt: Decimal;
}

export interface IncrementalPayoutWindow {
  /** A notification on settlement_window, with its payload: O(1), read at the next check. */
  notified(payload: string | undefined): void;
  /** The listener (re)connected: notifications may have been lost, so the next check rebuilds. */
  connected(): void;
  /** One check; the caller (the coalescing window runner) never runs two at once. */
  check(): Promise<PayoutWindowCheck>;
  /** The state of one group (undefined: not known to hold free credits), for tests. */
  group(key: GroupKey): GroupState | undefined;
}

export interface IncrementalPayoutWindowOptions {
  pool: DatabasePool;
  maxAgeMs: number;
  now: () => Date;
  evaluate: ChosenGroupsEvaluator;
  /** Groups decided per check at most (PAYOUT_WINDOW_GROUPS_MAX). */
  groupsPerEvaluationMax?: number;
  resyncIntervalMs?: number;
}

interface State {
  readonly groups: Map<string, GroupState>;
  readonly byClient: Map<string, Set<string>>;
  /** Groups that may be due, in the order they are decided (decided ones move to the end). */
  readonly candidates: Set<string>;
  unpaidUsdt: Decimal;
  /** No group outside `candidates` reaches PAYOUT_MAX_AGE before this (never later than the truth). */
  ageScanAtMs: number;
}

interface Pending {
  readonly conversionBatchIds: Set<string>;
  readonly clientIds: Set<string>;
  lost: boolean;
}

export function createIncrementalPayoutWindow(options: IncrementalPayoutWindowOptions): IncrementalPayoutWindow {
  const { pool, maxAgeMs } = options;
  const groupsMax = options.groupsPerEvaluationMax ?? 1_000;
  const resyncIntervalMs = options.resyncIntervalMs ?? stateResyncIntervalMs;
  let state: State | undefined;
  let exactAtMs = 0;
  // What the notifications named since the last check took them; `lost`: the state cannot be trusted.
  let pending: Pending = { conversionBatchIds: new Set(), clientIds: new Set(), lost: true };

  function emptyState(): State {
    return { groups: new Map(), byClient: new Map(), candidates: new Set(), unpaidUsdt: new Decimal(0), ageScanAtMs: Number.POSITIVE_INFINITY };
  }

  /** Puts a group's new state (undefined: no free credits) and whether it may be due. */
  function put(target: State, text: string, next: GroupState | undefined, now: Date): void {
    const previous = target.groups.get(text);
    if (previous !== undefined) target.unpaidUsdt = target.unpaidUsdt.minus(previous.unpaidUsdt);
    target.candidates.delete(text);
    if (next === undefined) {
      target.groups.delete(text);
      if (previous !== undefined) target.byClient.get(previous.key.clientId)?.delete(text);
      return;
    }
    target.groups.set(text, next);
    target.unpaidUsdt = target.unpaidUsdt.plus(next.unpaidUsdt);
    const clientGroups = target.byClient.get(next.key.clientId) ?? new Set<string>();
    clientGroups.add(text);
    target.byClient.set(next.key.clientId, clientGroups);
    if (mayBeDue(next, maxAgeMs, now)) target.candidates.add(text);
    else target.ageScanAtMs = Math.min(target.ageScanAtMs, maxAgeAtMs(next, maxAgeMs));
  }

  /** The groups that reached PAYOUT_MAX_AGE since the last scan become candidates: only once the earliest may have. */
  function scanAges(target: State, now: Date): void {
    if (now.getTime() < target.ageScanAtMs) return;
    target.ageScanAtMs = Number.POSITIVE_INFINITY;
    for (const [text, group] of target.groups) {
      if (target.candidates.has(text)) continue;
      if (mayBeDue(group, maxAgeMs, now)) target.candidates.add(text);
      else target.ageScanAtMs = Math.min(target.ageScanAtMs, maxAgeAtMs(group, maxAgeMs));
    }
  }

  async function rebuild(): Promise<State> {
    // Whatever was notified before this read began committed before its snapshot: it is in the read.
    pending = { conversionBatchIds: new Set(), clientIds: new Set(), lost: false };
    const startedAtMs = options.now().getTime();
    let totals;
    try {
      totals = await readAllGroupTotals(pool);
    } catch (error) {
      // The notifications dropped above are in no state now: the next check must read again.
      pending.lost = true;
      throw error;
    }
    const now = options.now();
    const rebuilt = emptyState();
    for (const total of totals) put(rebuilt, groupKeyText(total.key), addArrival(undefined, total), now);
    exactAtMs = startedAtMs;
    return rebuilt;
  }

  /** Adds what the notifications named since the last check; they stay pending if the read fails. */
  async function applyPending(target: State): Promise<void> {
    const taken = pending;
    if (taken.conversionBatchIds.size === 0 && taken.clientIds.size === 0) return;
    pending = { conversionBatchIds: new Set(), clientIds: new Set(), lost: taken.lost };
    try {
      const arrivals = await readIssuedCredits(pool, [...taken.conversionBatchIds]);
      const now = options.now();
      for (const arrival of arrivals) {
        const text = groupKeyText(arrival.key);
        put(target, text, addArrival(target.groups.get(text), arrival), now);
      }
      for (const clientId of taken.clientIds) {
        for (const text of target.byClient.get(clientId) ?? []) {
          const group = target.groups.get(text);
          if (group !== undefined) put(target, text, { ...group, thresholdUsd: undefined }, now);
        }
      }
    } catch (error) {
      for (const id of taken.conversionBatchIds) pending.conversionBatchIds.add(id);
      for (const id of taken.clientIds) pending.clientIds.add(id);
      throw error;
    }
  }

  /** The decision's exact reads replace the state of every group it looked at; a chosen group it did not find has no free credits left. */
  function settle(target: State, chosen: readonly string[], evaluation: PayoutWindowEvaluation): void {
    const decided = new Set<string>();
    for (const decision of evaluation.decisions) {
      const text = groupKeyText(decision.group.key);
      decided.add(text);
      let paidUsdt = new Decimal(0);
      let paidCredits = 0;
      for (const payout of decision.payouts) {
        paidUsdt = paidUsdt.plus(payout.usdtAmount);
        paidCredits += payout.credits.length;
      }
      // Moved behind the others when still a candidate (put deletes, then adds at the end).
      put(target, text, remainderAfter(decision.group, { usdt: paidUsdt, credits: paidCredits }), evaluation.now);
    }
    for (const text of chosen) if (!decided.has(text)) put(target, text, undefined, evaluation.now);
  }

  function checkOf(kind: PayoutWindowCheck['kind'], rebuilt: boolean, evaluation: PayoutWindowEvaluation, current: State): PayoutWindowCheck {
    return { ...evaluation, kind, rebuilt, groups: current.groups.size, unpaidUsdt: current.unpaidUsdt };
  }

  return {
    notified(payload) {
      const notice = decodeSettlementWindow(payload);
      if (notice.kind === 'unknown') pending.lost = true;
      else if (notice.kind === 'credits') pending.conversionBatchIds.add(notice.conversionBatchId);
      else pending.clientIds.add(notice.clientId);
    },
    connected() {
      pending.lost = true;
    },
    group: (key) => state?.groups.get(groupKeyText(key)),
    async check() {
      let rebuilt = false;
      if (state === undefined || pending.lost || options.now().getTime() - exactAtMs >= resyncIntervalMs) {
        // A reconnect during this read sets pending.lost again: the reconnect requests another
        // check, which reads again; this one decides on what the read found.
        state = await rebuild();
        rebuilt = true;
      }
      const current = state;
      await applyPending(current);
      const now = options.now();
      scanAges(current, now);
      const work = await readWindowWork(pool, now);
      if (current.candidates.size === 0 && !work.openRequests && !work.retriesDue) {
        return checkOf('skipped', rebuilt, { now, decisions: [], created: [], retried: [], answeredRequests: 0 }, current);
      }
      const chosen = [...current.candidates].slice(0, groupsMax);
      const keys = chosen.flatMap((text) => {
        const group = current.groups.get(text);
        return group === undefined ? [] : [group.key];
      });
      const evaluation = await options.evaluate(keys);
      // A notification lost meanwhile set pending.lost: the next check rebuilds, whatever settle does.
      settle(current, chosen, evaluation);
      return checkOf('evaluated', rebuilt, evaluation, current);
    },
  };
}
