// The window's view of ChangeNow: its range for ETH → USDT, asked before an evaluation (never inside
// its transaction) and kept for a while, so a window evaluated on every ledger commit asks ChangeNow
// at most once per TTL. A failure is remembered for a shorter time, so a ChangeNow that is down is
// not asked on every evaluation; meanwhile the range is unknown and batches are cut by the member
// cap alone (the connector still checks the range before it creates an exchange).
import type { Logger } from '../../core/logger.ts';
import type { ChangeNowClient, CurrencyPair } from '../../connectors/changenow/changenow-client.ts';
import type { ConversionRange } from './micro-batch-window.ts';

/** What every conversion swaps: the batch's ETH into USDT, both on Ethereum. */
export const conversionPair: CurrencyPair = { fromCurrency: 'eth', fromNetwork: 'eth', toCurrency: 'usdt', toNetwork: 'eth' };

export interface ConversionRangeOptions {
  source: Pick<ChangeNowClient, 'range'>;
  log: Logger;
  now: () => Date;
  ttlMs: number;
  failureTtlMs?: number;
}

/** Resolves the range as known now; undefined while ChangeNow does not answer. Never throws. */
export function createConversionRange(options: ConversionRangeOptions): () => Promise<ConversionRange | undefined> {
  const failureTtlMs = options.failureTtlMs ?? 15_000;
  let known: { range: ConversionRange | undefined; expiresAtMs: number } | undefined;
  return async () => {
    const nowMs = options.now().getTime();
    if (known !== undefined && known.expiresAtMs > nowMs) return known.range;
    try {
      const range = await options.source.range(conversionPair);
      known = { range: { minEth: range.minAmount, maxEth: range.maxAmount }, expiresAtMs: nowMs + options.ttlMs };
    } catch (error) {
      options.log.warn({ err: error }, 'no ETH → USDT range from ChangeNow: batches are cut by the member cap alone');
      known = { range: undefined, expiresAtMs: nowMs + failureTtlMs };
    }
    return known.range;
  };
}
