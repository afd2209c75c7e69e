// The --sizes argument of the window benchmarks: the pending amounts to measure at, smallest first,
// so the table reads as growth.

export function parseSizes(text: string): number[] {
  const sizes = text.split(',').map(Number);
  if (sizes.some((size) => !Number.isInteger(size) || size < 1) || sizes.some((size, index) => index > 0 && size <= (sizes[index - 1] ?? 0))) {
    throw new Error(`--sizes must be increasing positive integers, got ${text}`);
  }
  return sizes;
}
