// slonik's sql tag accepts only primitives (string, number, bigint, boolean, Buffer, null, arrays of
// them) and throws on a Decimal object. A number would lose digits, so a Decimal is sent as its exact
// plain-digit text with an explicit ::numeric cast: PostgreSQL then parses it as numeric whatever
// the placeholder's context, and never through float8.
import { sql, type FragmentSqlToken } from 'slonik';
import { InvariantViolation } from '../core/errors.ts';
import { isDecimal, type Decimal } from '../core/money.ts';

export function decimalValue(value: Decimal): FragmentSqlToken {
  if (!isDecimal(value) || !value.isFinite()) {
    // NaN or ±Infinity is never an amount of money; PostgreSQL would store it without complaint.
    throw new InvariantViolation('decimalValue needs a finite Decimal', { value: String(value) });
  }
  return sql.fragment`${value.toFixed()}::numeric`;
}

/** The exact text of a finite Decimal, for an array parameter (`sql.array(..., 'numeric')`). */
export function decimalText(value: Decimal): string {
  if (!isDecimal(value) || !value.isFinite()) {
    throw new InvariantViolation('decimalText needs a finite Decimal', { value: String(value) });
  }
  return value.toFixed();
}
