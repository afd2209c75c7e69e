// Rules for the runtime micro-batch threshold, as pure functions: which values may be put in
// force, and which of two changes is the newer one. The admin API validates before publishing;
// the accumulator checks again on consumption, because a record can also be re-produced by hand.
// Its scale is the ledger's USD scale, that of the Avro decimal(28, 8) a batch's threshold is sent in.
import { usdScale, type Decimal } from '../../core/money.ts';

export interface ThresholdProblem {
  readonly rule: 'threshold-positive' | 'threshold-ceiling' | 'threshold-scale';
  readonly message: string;
}

export function thresholdProblemOf(thresholdUsd: Decimal, ceilingUsd: Decimal): ThresholdProblem | undefined {
  if (!thresholdUsd.isFinite() || !thresholdUsd.greaterThan(0)) {
    return { rule: 'threshold-positive', message: `the micro-batch threshold must be a positive amount, got ${thresholdUsd.toFixed()}` };
  }
  if (thresholdUsd.greaterThan(ceilingUsd)) {
    return { rule: 'threshold-ceiling', message: `the micro-batch threshold ${thresholdUsd.toFixed()} is above the ceiling ${ceilingUsd.toFixed()}` };
  }
  if (thresholdUsd.decimalPlaces() > usdScale) {
    return { rule: 'threshold-scale', message: `the micro-batch threshold ${thresholdUsd.toFixed()} has more than ${usdScale} decimals` };
  }
  return undefined;
}

export interface ThresholdChange {
  readonly changeId: string;
  readonly changedAt: Date;
}

/**
 * Orders changes by changed_at, then change_id (by code unit, as PostgreSQL's "C" collation), so
 * the newest change wins whatever order the changes are consumed in — a compacted topic replayed
 * from its start, or two admin instances publishing at once, never roll a newer value back.
 */
export function isNewerChange(candidate: ThresholdChange, inForce: ThresholdChange): boolean {
  const byTime = candidate.changedAt.getTime() - inForce.changedAt.getTime();
  if (byTime !== 0) return byTime > 0;
  return candidate.changeId > inForce.changeId;
}
