// The simulator's pricing, pure: which pairs it trades, their default ranges, and what an amount
// converts to. Like ChangeNow's standard flow, the quoted amount is net of the exchange's fee and of
// the network fee it pays to send, and it is rounded down to what the to-currency can represent.
import { Decimal } from '../../core/money.ts';
import { findSimulatedCurrency, usdPriceOf, type SimulatedCurrency } from './simulated-currencies.ts';

export interface CurrencyPair {
  readonly fromCurrency: string;
  readonly fromNetwork: string;
  readonly toCurrency: string;
  readonly toNetwork: string;
}

export interface ResolvedPair {
  readonly from: SimulatedCurrency;
  readonly to: SimulatedCurrency;
}

export function currencyPairOf(pair: ResolvedPair): CurrencyPair {
  return { fromCurrency: pair.from.currency, fromNetwork: pair.from.network, toCurrency: pair.to.currency, toNetwork: pair.to.network };
}

export interface PairRange {
  readonly minAmount: Decimal;
  /** null: no maximum. */
  readonly maxAmount: Decimal | null;
}

export interface PricingRules {
  readonly ethUsd: Decimal;
  /** The exchange's fee in percent of the converted amount, e.g. 0.5. */
  readonly feePercent: Decimal;
}

export interface Quote {
  readonly fromAmount: Decimal;
  /** What the payout address receives: converted, minus the fee and the withdrawal fee, rounded down. */
  readonly toAmount: Decimal;
  /** In the from-currency; the simulator charges none. */
  readonly depositFee: Decimal;
  /** In the to-currency. */
  readonly withdrawalFee: Decimal;
}

/** The pair, or why it is not traded: only deposits the local chain can carry are accepted. */
export function resolvePair(pair: CurrencyPair): ResolvedPair | { inactive: string } {
  const from = findSimulatedCurrency(pair.fromCurrency, pair.fromNetwork);
  const to = findSimulatedCurrency(pair.toCurrency, pair.toNetwork);
  const name = `${pair.fromCurrency}/${pair.fromNetwork} → ${pair.toCurrency}/${pair.toNetwork}`;
  if (from === undefined || to === undefined) return { inactive: `The pair ${name} is not available` };
  if (!from.payableIn) return { inactive: `The pair ${name} is not available: deposits of ${pair.fromCurrency}/${pair.fromNetwork} are not accepted` };
  if (from === to) return { inactive: `The pair ${name} is not available: both sides are the same currency` };
  return { from, to };
}

// The default range depends on the deposit currency only (overridable per pair on the control API):
// ETH between 0.001 and 100, USDT between 10 and 20,000 — the order of ChangeNow's own limits.
const defaultRanges: Readonly<Record<string, PairRange>> = {
  'eth/eth': { minAmount: new Decimal('0.001'), maxAmount: new Decimal('100') },
  'usdt/eth': { minAmount: new Decimal('10'), maxAmount: new Decimal('20000') },
};

export function defaultRangeOf(from: SimulatedCurrency): PairRange {
  return defaultRanges[`${from.currency}/${from.network}`] ?? { minAmount: new Decimal('1'), maxAmount: null };
}

export function roundDown(value: Decimal, decimals: number): Decimal {
  return value.toDecimalPlaces(decimals, Decimal.ROUND_DOWN);
}

export function quote(pair: ResolvedPair, fromAmount: Decimal, rules: PricingRules): Quote {
  const converted = fromAmount.times(usdPriceOf(pair.from, rules.ethUsd)).dividedBy(usdPriceOf(pair.to, rules.ethUsd));
  const afterFee = converted.times(new Decimal(100).minus(rules.feePercent)).dividedBy(100);
  const net = roundDown(afterFee.minus(pair.to.withdrawalFee), pair.to.decimals);
  return {
    fromAmount,
    toAmount: Decimal.max(net, 0),
    depositFee: new Decimal(0),
    withdrawalFee: pair.to.withdrawalFee,
  };
}

export type RangeCheck = { kind: 'within' } | { kind: 'below_minimum' | 'above_maximum'; message: string };

export function checkRange(range: PairRange, amount: Decimal): RangeCheck {
  if (amount.lessThan(range.minAmount)) {
    return { kind: 'below_minimum', message: `Amount ${amount.toFixed()} is less than the minimal amount ${range.minAmount.toFixed()}` };
  }
  if (range.maxAmount !== null && amount.greaterThan(range.maxAmount)) {
    return { kind: 'above_maximum', message: `Amount ${amount.toFixed()} is more than the maximal amount ${range.maxAmount.toFixed()}` };
  }
  return { kind: 'within' };
}
