// The only Decimal the project uses. decimal.js' defaults round every result to 20 significant
// digits — a sum of ETH amounts with 18 decimals already needs more — and print small or large
// values in exponent notation that SQL NUMERIC and Avro fixtures would misread. This clone keeps
// 100 significant digits, rounds half-to-even only where code asks to round, and always prints
// plain digits. ESLint forbids importing 'decimal.js' anywhere else.
import { Decimal as DecimalJs } from 'decimal.js';

export const Decimal = DecimalJs.clone({
  precision: 100,
  rounding: DecimalJs.ROUND_HALF_EVEN,
  toExpNeg: -1_000,
  toExpPos: 1_000,
});
export type Decimal = DecimalJs;

/** Matches a plain non-negative decimal literal: digits, optionally a point and more digits. */
export const plainDecimalPattern = /^(0|[1-9]\d*)(\.\d+)?$/;

export function decimalPlacesOf(value: Decimal): number {
  return value.decimalPlaces();
}

export function isDecimal(value: unknown): value is Decimal {
  return DecimalJs.isDecimal(value);
}

// Every scale money is carried in, by name; nothing else in the project writes these numbers.
/** USD amounts: NUMERIC(28, 8) columns and the Avro decimal(28, 8) they are published in. */
export const usdScale = 8;
/** ETH amounts: wei, the asset's on-chain decimals; NUMERIC(38, 18) columns. */
export const ethScale = 18;
/** USDT amounts: the ERC-20 token's on-chain decimals (10^-6); NUMERIC(38, 6) columns. */
export const usdtScale = 6;
/**
 * USDT values that are not amounts anyone is paid — rounding remainders, fee estimates — kept in
 * NUMERIC(38, 18) columns (usdt_credits.rounding_applied, payout_group_holds' estimates).
 */
export const usdtDetailScale = 18;
/** Gas prices are configured in gwei: 10^9 wei. */
export const gweiScale = 9;

/** On-chain decimals of the assets the pipeline moves: wei for ETH, 10^-6 for USDT (ERC-20). */
export const assetDecimals = { ETH: ethScale, USDT: usdtScale } as const;

/**
 * An amount in base units (wei, 10^-6 USDT). Refuses an amount with more decimals than the asset
 * has instead of rounding: a silently rounded transfer would not match the books.
 */
export function toBaseUnits(amount: Decimal, decimals: number): bigint {
  if (amount.isNegative()) throw new RangeError(`negative amount ${amount.toFixed()}`);
  if (amount.decimalPlaces() > decimals) {
    throw new RangeError(`${amount.toFixed()} has more than ${decimals} decimal places`);
  }
  return BigInt(amount.times(new Decimal(10).pow(decimals)).toFixed(0));
}

/** The exact amount of `baseUnits` of an asset with `decimals` decimals (never rounded). */
export function fromBaseUnits(baseUnits: bigint, decimals: number): Decimal {
  return new Decimal(baseUnits.toString()).div(new Decimal(10).pow(decimals));
}
