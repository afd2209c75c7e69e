// The per-client window (MISSION step 6) as a pure decision: for each group of a client's free,
// unpaid credits — one group per (client, wallet address, payout currency, payout network) — is a
// payout due, and if so which payout batches are formed now, or why the group waits.
//
// Due when: an operator asked (manual), or the oldest credit is older than PAYOUT_MAX_AGE
// (max_age), or the group reaches the client's threshold (threshold; a client now on the instant
// strategy has no threshold, so what it still holds is due at once). In that order, because the
// first two force a payout past the fee floor.
// Then, for a pair that goes through an exchange, against ChangeNow's range for USDT → the
// client's currency:
// - split into batches of at most min(PAYOUT_MAX_SWAP_USD, the pair's maximum) (payout-split.ts);
// - a batch below the pair's minimum waits (below_exchange_minimum);
// - a lone credit above the pair's maximum cannot be paid by any exchange and waits for an
//   operator (above_exchange_maximum);
// - unless forced, a batch whose estimated fees exceed PAYOUT_FEE_FLOOR_PERCENT of it waits
//   (fee_floor_not_met).
// A pair whose currency already is the pool's USDT on eth pays by direct transfer
// (core/payout-route.ts, the same rule the ChangeNow connector follows): no exchange is asked for a
// range or a fee — it has no such pair — so no exchange minimum or maximum applies, only the split
// at PAYOUT_MAX_SWAP_USD; the fee floor weighs the transfer's gas, valued in USDT (transferFee).
// Quotes come from a QuoteBook the caller filled beforehand: a missing quote is returned as a need
// and the group is decided again once it is known, so no network call happens while the window's
// transaction holds its locks. USDT is valued at par with USD for thresholds and caps.
// Whether a group is due needs only its totals (GroupSummary: sum, oldest credit, threshold, an
// operator's request), so the caller reads the credits of the due groups only (decideUndue).
import { assertInvariant } from '../../core/errors.ts';
import { Decimal, usdtScale } from '../../core/money.ts';
import { payoutRouteOf } from '../../core/payout-route.ts';
import type { CurrencyPair, ExchangeRange } from '../../connectors/changenow/changenow-client.ts';
import { splitCredits, type CreditBatch } from './payout-split.ts';

export interface PayoutWindowRules {
  readonly maxAgeMs: number;
  readonly maxSwapUsdt: Decimal;
  readonly feeFloorPercent: Decimal;
}

export interface GroupKey {
  readonly clientId: string;
  readonly walletAddress: string;
  readonly payoutCurrency: string;
  readonly payoutNetwork: string;
}

export interface WindowCredit {
  readonly creditId: string;
  readonly usdtAmount: Decimal;
  readonly creditedAt: Date;
}

export interface WindowGroup {
  readonly key: GroupKey;
  /** Oldest first (credited_at, then credit id). */
  readonly credits: readonly WindowCredit[];
  /** null: the client has no threshold (instant strategy now), so any amount is due. */
  readonly thresholdUsd: Decimal | null;
  /** An operator asked to pay this client now. */
  readonly manual: boolean;
}

/** A group's totals, read before any of its credits: enough to tell whether it is due. */
export interface GroupSummary {
  readonly key: GroupKey;
  readonly unpaidUsdt: Decimal;
  readonly creditCount: number;
  readonly oldestCreditedAt: Date;
  /** null: the client has no threshold (instant strategy now), so any amount is due. */
  readonly thresholdUsd: Decimal | null;
  /** An operator asked to pay this client now. */
  readonly manual: boolean;
}

export type PayoutTrigger = 'manual' | 'max_age' | 'threshold';
export type HoldState = 'below_exchange_minimum' | 'above_exchange_maximum' | 'fee_floor_not_met' | 'quote_unavailable';

export interface Hold {
  readonly state: HoldState;
  readonly reason: string;
  /** What the hold keeps back. */
  readonly unpaidUsdt: Decimal;
  readonly minimumUsdt: Decimal | null;
  readonly maximumUsdt: Decimal | null;
  readonly estimatedFeeUsdt: Decimal | null;
  readonly feeFloorPercent: Decimal | null;
}

export interface PlannedPayout {
  readonly credits: readonly WindowCredit[];
  readonly usdtAmount: Decimal;
}

export type Quote<T> = { readonly kind: 'known'; readonly value: T } | { readonly kind: 'unavailable'; readonly error: string };

export interface QuoteBook {
  range(pair: CurrencyPair): Quote<ExchangeRange> | undefined;
  /** Estimated exchange and network fees of swapping `amountUsdt`, in USDT. */
  fee(pair: CurrencyPair, amountUsdt: Decimal): Quote<Decimal> | undefined;
  /** Estimated network fee (gas) of one direct transfer of the pair's source asset, in USDT, whatever the amount. */
  transferFee(pair: CurrencyPair): Quote<Decimal> | undefined;
}

export type QuoteNeed =
  | { readonly kind: 'range'; readonly pair: CurrencyPair }
  | { readonly kind: 'fee'; readonly pair: CurrencyPair; readonly amountUsdt: Decimal }
  | { readonly kind: 'transfer_fee'; readonly pair: CurrencyPair };

export interface GroupDecision {
  readonly group: GroupSummary;
  readonly unpaidUsdt: Decimal;
  readonly trigger: PayoutTrigger | null;
  /** Batches to form now. */
  readonly payouts: readonly PlannedPayout[];
  /** Why the group (or what is left of it after `payouts`) waits although it is due. */
  readonly hold: Hold | null;
  /** Quotes to fetch before this group can be decided; nothing is paid until they are known. */
  readonly needs: readonly QuoteNeed[];
  /** How much more the group needs to reach the threshold; null when it is due. */
  readonly amountMissingUsdt: Decimal | null;
}

export function payoutPairOf(key: GroupKey): CurrencyPair {
  return { fromCurrency: 'usdt', fromNetwork: 'eth', toCurrency: key.payoutCurrency, toNetwork: key.payoutNetwork };
}

export function groupKeyText(key: GroupKey): string {
  return `${key.clientId}|${key.walletAddress}|${key.payoutCurrency}|${key.payoutNetwork}`;
}

function sumOf(credits: readonly WindowCredit[]): Decimal {
  return credits.reduce((sum, credit) => sum.plus(credit.usdtAmount), new Decimal(0));
}

/** The totals of a group whose credits are known (oldest first). */
export function summaryOf(group: WindowGroup): GroupSummary {
  const [oldest] = group.credits;
  assertInvariant(oldest !== undefined, 'a window group has credits', { group: groupKeyText(group.key) });
  return {
    key: group.key,
    unpaidUsdt: sumOf(group.credits),
    creditCount: group.credits.length,
    oldestCreditedAt: oldest.creditedAt,
    thresholdUsd: group.thresholdUsd,
    manual: group.manual,
  };
}

export function triggerOf(summary: GroupSummary, rules: PayoutWindowRules, now: Date): PayoutTrigger | null {
  if (summary.manual) return 'manual';
  if (now.getTime() - summary.oldestCreditedAt.getTime() >= rules.maxAgeMs) return 'max_age';
  if (summary.thresholdUsd === null || summary.unpaidUsdt.gte(summary.thresholdUsd)) return 'threshold';
  return null;
}

function undueDecision(summary: GroupSummary): GroupDecision {
  const missing = summary.thresholdUsd === null ? new Decimal(0) : summary.thresholdUsd.minus(summary.unpaidUsdt);
  return { group: summary, unpaidUsdt: summary.unpaidUsdt, trigger: null, payouts: [], hold: null, needs: [], amountMissingUsdt: missing };
}

/**
 * The decision about a group that is not due, from its totals alone; null when it is due, whose
 * decision needs its credits (decideGroup) to split them into batches.
 */
export function decideUndue(summary: GroupSummary, rules: PayoutWindowRules, now: Date): GroupDecision | null {
  return triggerOf(summary, rules, now) === null ? undueDecision(summary) : null;
}

function hold(state: HoldState, reason: string, unpaidUsdt: Decimal, details: Partial<Omit<Hold, 'state' | 'reason' | 'unpaidUsdt'>> = {}): Hold {
  return {
    state,
    reason,
    unpaidUsdt,
    minimumUsdt: details.minimumUsdt ?? null,
    maximumUsdt: details.maximumUsdt ?? null,
    estimatedFeeUsdt: details.estimatedFeeUsdt ?? null,
    feeFloorPercent: details.feeFloorPercent ?? null,
  };
}

type BatchVerdict = { readonly kind: 'pay' } | { readonly kind: 'hold'; readonly hold: Hold } | { readonly kind: 'need'; readonly need: QuoteNeed };

/** The estimated fee of paying `amount` on the pair's route: the exchange's estimate, or a direct transfer's gas (`range` null). */
function feeOf(pair: CurrencyPair, direct: boolean, amount: Decimal, quotes: QuoteBook): { readonly quote: Quote<Decimal> | undefined; readonly need: QuoteNeed; readonly source: string } {
  if (direct) return { quote: quotes.transferFee(pair), need: { kind: 'transfer_fee', pair }, source: 'no gas cost estimate for the direct transfer' };
  return { quote: quotes.fee(pair, amount), need: { kind: 'fee', pair, amountUsdt: amount }, source: 'no fee estimate from the exchange' };
}

/** `range` null: a direct transfer, which no exchange limits. */
function judgeBatch(batch: CreditBatch<WindowCredit>, range: ExchangeRange | null, forced: boolean, pair: CurrencyPair, rules: PayoutWindowRules, quotes: QuoteBook): BatchVerdict {
  const amount = batch.usdtAmount;
  if (range !== null && amount.lt(range.minAmount)) {
    return {
      kind: 'hold',
      hold: hold('below_exchange_minimum', `${amount.toFixed()} USDT is below the exchange minimum of ${range.minAmount.toFixed()} USDT for ${pair.toCurrency}/${pair.toNetwork}`, amount, {
        minimumUsdt: range.minAmount,
      }),
    };
  }
  if (range !== null && range.maxAmount !== null && amount.gt(range.maxAmount)) {
    // Only a lone credit can exceed the cap after the split: no exchange can take it whole.
    return {
      kind: 'hold',
      hold: hold('above_exchange_maximum', `a single credit of ${amount.toFixed()} USDT exceeds the exchange maximum of ${range.maxAmount.toFixed()} USDT; an operator must pay it`, amount, {
        maximumUsdt: range.maxAmount,
      }),
    };
  }
  // Forced payouts skip the fee floor, so an unknown fee (exchange estimate or gas) never holds them.
  if (forced) return { kind: 'pay' };
  const { quote: fee, need, source } = feeOf(pair, range === null, amount, quotes);
  if (fee === undefined) return { kind: 'need', need };
  if (fee.kind === 'unavailable') return { kind: 'hold', hold: hold('quote_unavailable', `${source}: ${fee.error}`, amount) };
  // fee / amount > floor% ⇔ fee × 100 > floor × amount, without a division.
  if (fee.value.times(100).gt(rules.feeFloorPercent.times(amount))) {
    const percent = fee.value.times(100).div(amount).toDecimalPlaces(4);
    return {
      kind: 'hold',
      hold: hold(
        'fee_floor_not_met',
        `estimated fees of ${fee.value.toDecimalPlaces(usdtScale).toFixed()} USDT are ${percent.toFixed()}% of ${amount.toFixed()} USDT, above the ${rules.feeFloorPercent.toFixed()}% floor`,
        amount,
        { estimatedFeeUsdt: fee.value, feeFloorPercent: rules.feeFloorPercent },
      ),
    };
  }
  return { kind: 'pay' };
}

export function decideGroup(group: WindowGroup, rules: PayoutWindowRules, quotes: QuoteBook, now: Date): GroupDecision {
  const summary = summaryOf(group);
  const unpaid = summary.unpaidUsdt;
  const trigger = triggerOf(summary, rules, now);
  if (trigger === null) return undueDecision(summary);
  const base = { group: summary, unpaidUsdt: unpaid, trigger };
  const pair = payoutPairOf(group.key);
  const forced = trigger !== 'threshold';
  if (payoutRouteOf(pair) === 'direct') return decideBatches(base, group, null, rules.maxSwapUsdt, forced, pair, rules, quotes);
  const range = quotes.range(pair);
  if (range === undefined) return { ...base, payouts: [], hold: null, needs: [{ kind: 'range', pair }], amountMissingUsdt: null };
  if (range.kind === 'unavailable') {
    return { ...base, payouts: [], hold: hold('quote_unavailable', `no exchange range for ${pair.toCurrency}/${pair.toNetwork}: ${range.error}`, unpaid), needs: [], amountMissingUsdt: null };
  }
  const cap = range.value.maxAmount !== null && range.value.maxAmount.lt(rules.maxSwapUsdt) ? range.value.maxAmount : rules.maxSwapUsdt;
  return decideBatches(base, group, range.value, cap, forced, pair, rules, quotes);
}

function decideBatches(
  base: Pick<GroupDecision, 'group' | 'unpaidUsdt' | 'trigger'>,
  group: WindowGroup,
  range: ExchangeRange | null,
  cap: Decimal,
  forced: boolean,
  pair: CurrencyPair,
  rules: PayoutWindowRules,
  quotes: QuoteBook,
): GroupDecision {
  const payouts: PlannedPayout[] = [];
  const holds: Hold[] = [];
  const needs: QuoteNeed[] = [];
  for (const batch of splitCredits(group.credits, cap)) {
    const verdict = judgeBatch(batch, range, forced, pair, rules, quotes);
    if (verdict.kind === 'pay') payouts.push({ credits: batch.credits, usdtAmount: batch.usdtAmount });
    else if (verdict.kind === 'need') needs.push(verdict.need);
    else holds.push(verdict.hold);
  }
  if (needs.length > 0) return { ...base, payouts: [], hold: null, needs, amountMissingUsdt: null };
  const [firstHold] = holds;
  const heldUsdt = holds.reduce((sum, held) => sum.plus(held.unpaidUsdt), new Decimal(0));
  return { ...base, payouts, hold: firstHold === undefined ? null : { ...firstHold, unpaidUsdt: heldUsdt }, needs: [], amountMissingUsdt: null };
}

export function decideWindow(groups: readonly WindowGroup[], rules: PayoutWindowRules, quotes: QuoteBook, now: Date): GroupDecision[] {
  return groups.map((group) => decideGroup(group, rules, quotes, now));
}
