// Money stays the decimal string the API sent: shown as received, never parsed into a JS number.
// Only a ratio for a progress bar's width is computed, exactly, with bigint fixed point.

function scaled(text: string, scale: number): bigint {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (match === null) throw new Error(`not a decimal: ${text}`);
  const [, sign = '', whole = '0', fraction = ''] = match;
  const digits = BigInt(whole + fraction.padEnd(scale, '0').slice(0, scale));
  return sign === '-' ? -digits : digits;
}

/** part / whole as a percentage from 0 to 100 with one decimal (for a bar's width, not for money). */
export function percentOf(part: string, whole: string): number {
  const scale = 18;
  const denominator = scaled(whole, scale);
  if (denominator <= 0n) return 0;
  const permille = (scaled(part, scale) * 1000n) / denominator;
  const clamped = permille < 0n ? 0n : permille > 1000n ? 1000n : permille;
  return Number(clamped) / 10;
}

export function Money(props: { amount: string | null | undefined; currency?: string }) {
  if (props.amount === null || props.amount === undefined) return <span class="muted">—</span>;
  return (
    <span class="money">
      {props.amount}
      {props.currency === undefined ? '' : ` ${props.currency}`}
    </span>
  );
}
