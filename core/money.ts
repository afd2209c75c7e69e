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
