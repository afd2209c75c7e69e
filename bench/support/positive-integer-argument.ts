// A benchmark's count argument (--payments, --seconds, --clients …): a positive integer, or the
// run stops before it starts, naming the option and what it got.

export function positiveIntegerArgument(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${text}`);
  return value;
}
