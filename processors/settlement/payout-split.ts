// Splits a group of credits into payout batches of at most `capUsdt` each (PAYOUT_MAX_SWAP_USD, or
// the pair's maximum when lower). Credits are never cut in two: a credit is in at most one live
// payout batch, so a batch is a set of whole credits, kept in the group's order (oldest first).
// The batches aim at equal sizes (total / ceil(total / cap)) rather than filling each to the cap,
// so a split never leaves a tiny last batch below the exchange's minimum when it can be avoided.
// A single credit larger than the cap is a batch of its own; the caller decides whether the pair
// can take it.
import { assertInvariant } from '../../core/errors.ts';
import { Decimal } from '../../core/money.ts';

export interface SplittableCredit {
  readonly creditId: string;
  readonly usdtAmount: Decimal;
}

export interface CreditBatch<C extends SplittableCredit> {
  readonly credits: readonly C[];
  readonly usdtAmount: Decimal;
}

function sumOf(credits: readonly SplittableCredit[]): Decimal {
  return credits.reduce((sum, credit) => sum.plus(credit.usdtAmount), new Decimal(0));
}

export function splitCredits<C extends SplittableCredit>(credits: readonly C[], capUsdt: Decimal): CreditBatch<C>[] {
  assertInvariant(capUsdt.gt(0), 'a payout cap is positive', { capUsdt: capUsdt.toFixed() });
  if (credits.length === 0) return [];
  const total = sumOf(credits);
  if (total.lte(capUsdt)) return [{ credits: [...credits], usdtAmount: total }];
  const target = total.div(total.div(capUsdt).ceil());
  const batches: CreditBatch<C>[] = [];
  let current: C[] = [];
  let currentSum = new Decimal(0);
  for (const credit of credits) {
    if (current.length > 0 && (currentSum.plus(credit.usdtAmount).gt(capUsdt) || currentSum.gte(target))) {
      batches.push({ credits: current, usdtAmount: currentSum });
      current = [];
      currentSum = new Decimal(0);
    }
    current.push(credit);
    currentSum = currentSum.plus(credit.usdtAmount);
  }
  batches.push({ credits: current, usdtAmount: currentSum });
  assertInvariant(sumOf(batches.flatMap((batch) => batch.credits)).eq(total), 'a split keeps every credit exactly once');
  return batches;
}
