// The platform fee, in exact decimals. It is taken from both sides of a payment: the USD value
// (what the client's share is computed on) and the ETH received (what is converted or paid out).
// Each side is rounded once, half-to-even, to the scale its ledger column holds, and the net is
// the exact difference, so net + fee = gross holds to the last digit and no amount ever needs a
// second rounding downstream.
import { Decimal, ethScale, usdScale } from '../../core/money.ts';
import { InvariantViolation, PipelineError } from '../../core/errors.ts';

/** payment_ledger's NUMERIC(28, 8) and NUMERIC(38, 18) (usdScale, ethScale): 20 integer digits on both sides. */
export const integerDigitsMax = 20;
/** payment_ledger.fee_percent is NUMERIC(9, 6) with 0 ≤ percent < 100. */
export const feePercentScale = 6;

export interface FeeSplit {
  readonly gross: Decimal;
  readonly fee: Decimal;
  readonly net: Decimal;
}

export interface PlatformFee {
  readonly feePercent: Decimal;
  readonly usd: FeeSplit;
  readonly eth: FeeSplit;
}

const hundredth = new Decimal('0.01');

/**
 * The fee on one amount with no checks, so validation can ask whether a payment can carry the fee
 * before `applyPlatformFee` asserts that it does. Exact before rounding: a 38-digit amount times an
 * 8-digit percent stays far inside the 100 significant digits of core/money.ts.
 */
export function splitFee(gross: Decimal, feePercent: Decimal, scale: number): FeeSplit {
  // Times 0.01 rather than divided by 100: the same exact product, without decimal.js' long
  // division, which was most of the router's fee cost (bench/pipeline-throughput.ts).
  const fee = gross.times(feePercent).times(hundredth).toDecimalPlaces(scale, Decimal.ROUND_HALF_EVEN);
  return { gross, fee, net: gross.minus(fee) };
}

export function isValidFeePercent(feePercent: Decimal): boolean {
  return feePercent.isFinite() && feePercent.gte(0) && feePercent.lt(100) && feePercent.decimalPlaces() <= feePercentScale;
}

/** Reads PLATFORM_FEE_PERCENT once at start-up; a value the ledger cannot hold stops the process. */
export function parseFeePercent(text: string): Decimal {
  let feePercent: Decimal;
  try {
    feePercent = new Decimal(text);
  } catch (error) {
    throw new PipelineError(`PLATFORM_FEE_PERCENT "${text}" is not a decimal`, { cause: error });
  }
  if (!isValidFeePercent(feePercent)) {
    throw new PipelineError(`PLATFORM_FEE_PERCENT must be at least 0, below 100, with at most ${feePercentScale} decimals; got "${text}"`, {
      context: { feePercent: text },
    });
  }
  return feePercent;
}

/** Throws the broken rule with the amounts involved; built only on a violation. */
function violated(rule: string, side: 'usd' | 'eth', gross: Decimal, feePercent: Decimal, amounts: Record<string, Decimal> = {}): never {
  const context: Record<string, string> = { side, gross: gross.toFixed(), feePercent: feePercent.toFixed() };
  for (const [name, amount] of Object.entries(amounts)) context[name] = amount.toFixed();
  throw new InvariantViolation(rule, context);
}

// Runs for every payment the router writes: no closure or context is made unless a check fails.
function checkedSplit(side: 'usd' | 'eth', gross: Decimal, feePercent: Decimal, scale: number): FeeSplit {
  if (!gross.isFinite() || !gross.gt(0)) violated('a gross amount is positive', side, gross, feePercent);
  if (gross.decimalPlaces() > scale) violated(`a ${side} gross amount has at most ${scale} decimals`, side, gross, feePercent);
  const split = splitFee(gross, feePercent, scale);
  if (split.fee.lt(0)) violated('a platform fee is never negative', side, gross, feePercent, { fee: split.fee });
  if (!split.net.gt(0)) violated('a net amount is positive', side, gross, feePercent, { net: split.net });
  if (!split.net.plus(split.fee).eq(gross)) violated('net + fee = gross, exactly', side, gross, feePercent, { fee: split.fee, net: split.net });
  return split;
}

/**
 * The fee on both sides of a payment. Crashes (InvariantViolation) on anything the ledger's CHECKs
 * would refuse: callers validate input first (see payment-rules.ts), so a crash here is a bug.
 */
export function applyPlatformFee(input: { usdGross: Decimal; ethGross: Decimal; feePercent: Decimal }): PlatformFee {
  const { feePercent } = input;
  if (!isValidFeePercent(feePercent)) throw new InvariantViolation('a fee percent the ledger can hold', { feePercent: feePercent.toFixed() });
  return {
    feePercent,
    usd: checkedSplit('usd', input.usdGross, feePercent, usdScale),
    eth: checkedSplit('eth', input.ethGross, feePercent, ethScale),
  };
}
