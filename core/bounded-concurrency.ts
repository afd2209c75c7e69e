// Work over a list with a bound on how much of it is in flight: the chain connector's node calls of
// one pass and the ChangeNow worker's commands of one run both need it.

/** Runs `work` over `items` with at most `limit` in flight, results in item order. */
export async function eachAtMost<T, R>(limit: number, items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  async function lane(): Promise<void> {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index] as T);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, () => lane()));
  return results;
}
