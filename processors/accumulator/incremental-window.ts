// The accumulator's incremental check of the global window: a notification costs O(1) (its payload
// is added to the running summary, pending-summary.ts), and the full evaluation — the advisory lock,
// every pending row read FOR UPDATE, the pure decision (micro-batch-evaluation.ts) — runs only when
// the summary says a trigger may fire. Cost per notification no longer grows with what is pending.
//
// Exactly once in effect is unchanged: batches are still formed only by the full evaluation, in its
// one transaction under the global advisory lock (moving the members and writing the outbox
// together). The summary only decides WHETHER to run it, so a wrong summary can waste an evaluation
// or delay one, never form a batch twice; the proof that it never delays one is below.
//
// Why the summary never under-estimates the window (so no crossing is missed):
// - Every row that becomes pending_conversion is announced by a NOTIFY sent in the writer's own
//   transaction (router-store.ts, settlement's returned-to-pending.ts), delivered on commit only,
//   to every listening instance. Its payload is added here.
// - The summary is set from an exact read only: the aggregate query (start, listener (re)connect,
//   an undecodable payload, every resyncIntervalMs) or the remainder of a full evaluation. Arrivals
//   notified while that read ran are added on top: a row committed after the read's snapshot is
//   announced after the read began, so it is counted; one committed before and announced after is
//   counted twice — an over-estimate.
// - Rows leave pending_conversion only through a full evaluation. Ours resets the summary; another
//   instance's leaves ours stale-high, so our next check runs one full evaluation that finds less
//   (or nothing) to close and resets the summary to the exact remainder.
// - Notifications sent while our listener was disconnected are lost: the reconnect marks the
//   summary unknown (also when it happens during a read), and the next check rebuilds it.
// Holds (the exchange's range keeps due rows pending): while any stands, every check evaluates in
// full as before, so a hold is re-decided and cleared (conversion_window_holds) by the evaluation
// as soon as its reason goes away, even when that reason is a threshold raised above the sum.
// The max-wait trigger (punctuation) uses the summary's oldest received_at, which is never later
// than the true oldest for the same reasons; a threshold change is seen on the next check (the
// threshold in force is read on every check: one indexed row).
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { decimalColumn } from '../../db/column-types.ts';
import { decodeLedgerPending } from '../../db/ledger-notifications.ts';
import type { MicroBatchEvaluator, WindowEvaluation, WindowRules } from './micro-batch-evaluation.ts';
import { addArrival, emptySummary, mayFire, mergeSummaries, summaryOf, type PendingSummary } from './pending-summary.ts';
import { readThresholdInForce, type ThresholdInForce } from './pipeline-settings.ts';

/** How often the summary is rebuilt from the ledger even if nothing said it was lost: a safety net, not needed for correctness. */
export const summaryResyncIntervalMs = 60_000;

export type WindowCheck =
  | { readonly kind: 'skipped'; readonly rebuilt: boolean; readonly summary: PendingSummary; readonly threshold: ThresholdInForce; readonly now: Date }
  | { readonly kind: 'evaluated'; readonly rebuilt: boolean; readonly evaluation: WindowEvaluation };

export interface IncrementalWindow {
  /** A notification on ledger_pending, with its payload: O(1). */
  notified(payload: string | undefined): void;
  /** The listener (re)connected: notifications may have been lost, so the next check rebuilds. */
  connected(): void;
  /** One check; the caller (the coalescing window runner) never runs two at once. */
  check(): Promise<WindowCheck>;
  /** The summary as it stands (undefined: unknown until the next check rebuilds it). */
  summary(): PendingSummary | undefined;
}

export interface IncrementalWindowOptions {
  pool: DatabasePool;
  rules: WindowRules;
  now: () => Date;
  evaluate: MicroBatchEvaluator;
  /**
   * Run at the start of every check, outside any transaction: ChangeNow's range, which is cached
   * (conversion-range.ts). Every check asked it before the summary existed, so it stays fresh on
   * the notifications that are skipped, and the crossing's evaluation does not wait for ChangeNow.
   */
  refresh?: () => Promise<unknown>;
  resyncIntervalMs?: number;
}

const summaryRow = z.object({
  pending_payments: z.number().int(),
  pending_usd: decimalColumn,
  oldest_received_at: z.date().nullable(),
  holds_standing: z.boolean(),
});

interface LedgerSummary {
  readonly summary: PendingSummary;
  readonly holdsStanding: boolean;
}

/** The exact summary from the ledger in one aggregate query (the partial index payment_ledger_pending), and whether a hold stands. */
export async function readPendingSummary(pool: DatabasePool): Promise<LedgerSummary> {
  const row = await pool.one(sql.type(summaryRow)`
    SELECT count(*)::int4 AS pending_payments, coalesce(sum(usd_net), 0) AS pending_usd, min(received_at) AS oldest_received_at,
           EXISTS (SELECT 1 FROM conversion_window_holds) AS holds_standing
    FROM payment_ledger WHERE state = 'pending_conversion'`);
  return { summary: { count: row.pending_payments, usdNet: row.pending_usd, oldestReceivedAt: row.oldest_received_at }, holdsStanding: row.holds_standing };
}

export function createIncrementalWindow(options: IncrementalWindowOptions): IncrementalWindow {
  const { pool, rules } = options;
  const resyncIntervalMs = options.resyncIntervalMs ?? summaryResyncIntervalMs;
  let known: PendingSummary | undefined;
  let exactAtMs = 0;
  let holdsStanding = true;
  // While an exact read runs: what was announced since it began, and whether anything was lost.
  let reading: { arrivals: PendingSummary; lost: boolean } | undefined;

  function lost(): void {
    known = undefined;
    if (reading !== undefined) reading.lost = true;
  }

  /** Runs an exact read; the summary becomes its result plus what was announced meanwhile. */
  async function exactly<T>(read: () => Promise<T>, summaryFrom: (result: T) => PendingSummary): Promise<T> {
    const startedAtMs = options.now().getTime();
    const current = { arrivals: emptySummary, lost: false };
    reading = current;
    try {
      const result = await read();
      if (current.lost) known = undefined;
      else {
        known = mergeSummaries(summaryFrom(result), current.arrivals);
        exactAtMs = startedAtMs;
      }
      return result;
    } finally {
      // On failure the summary stays what it was, arrivals added: never lower than before.
      reading = undefined;
    }
  }

  return {
    notified(payload) {
      const notice = decodeLedgerPending(payload);
      if (notice.kind === 'unknown') {
        lost();
        return;
      }
      if (known !== undefined) known = addArrival(known, notice.arrival);
      if (reading !== undefined) reading.arrivals = addArrival(reading.arrivals, notice.arrival);
    },
    connected: lost,
    summary: () => known,
    async check() {
      await options.refresh?.();
      let rebuilt = false;
      if (known === undefined || options.now().getTime() - exactAtMs >= resyncIntervalMs) {
        const read = await exactly(() => readPendingSummary(pool), (result) => result.summary);
        holdsStanding = read.holdsStanding;
        rebuilt = true;
      }
      const threshold = await readThresholdInForce(pool, rules);
      const now = options.now();
      // Unknown again (a reconnect during the rebuild): evaluate in full rather than trust nothing.
      if (!holdsStanding && known !== undefined && !mayFire(known, { thresholdUsd: threshold.thresholdUsd, maxWaitMs: rules.maxWaitMs, now })) {
        return { kind: 'skipped', rebuilt, summary: known, threshold, now };
      }
      const evaluation = await exactly(options.evaluate, (result) => summaryOf(result.remaining));
      holdsStanding = evaluation.holds.length > 0;
      return { kind: 'evaluated', rebuilt, evaluation };
    },
  };
}
