// The window's view of ChangeNow: ranges and fee estimates for USDT → a client's currency, fetched
// before an evaluation (never inside its transaction) and kept for a while, so a window evaluated
// every second asks ChangeNow at most once per pair (and per amount) per TTL. A failed quote is
// remembered too, for a shorter time: the group shows quote_unavailable instead of waiting in
// silence, and ChangeNow is not hammered while it is down.
//
// The fee estimate is ChangeNow's deposit fee (in USDT) plus its withdrawal fee (in the client's
// currency) valued at the quote's own rate. ChangeNow's margin is inside that rate and cannot be
// told apart from the market price; it is a fixed share of any amount, so waiting cannot reduce
// it — the floor is about the fixed network fees that make small payouts wasteful.
//
// A direct payout (core/payout-route.ts) asks ChangeNow nothing: its fee is the transfer's gas,
// valued in USDT by the transfer-fee source (transfer-fee.ts), cached per pair like the others.
import type { Decimal } from '../../core/money.ts';
import type { Logger } from '../../core/logger.ts';
import type { ChangeNowClient, CurrencyPair, ExchangeEstimate, ExchangeRange } from '../../connectors/changenow/changenow-client.ts';
import type { Quote, QuoteBook, QuoteNeed } from './payout-window.ts';
import type { TransferFeeSource } from './transfer-fee-source.ts';

export type PayoutQuoteSource = Pick<ChangeNowClient, 'range' | 'estimate'>;

export interface QuoteCacheOptions {
  source: PayoutQuoteSource;
  transferFees: TransferFeeSource;
  log: Logger;
  now: () => Date;
  ttlMs?: number;
  failureTtlMs?: number;
  /** Entries kept at most; the oldest go first. */
  entriesMax?: number;
  /**
   * True once the process drains: fetch stops before its next call. What it did not fetch stays a
   * need, so the evaluation decides those groups later (after the restart) and the drain is not
   * held up by a queue of quotes under the shared ChangeNow rate budget.
   */
  stopped?: () => boolean;
}

export interface QuoteCache extends QuoteBook {
  /** Fetches what is missing (at most a few at a time); never throws: a failure becomes an unavailable quote. */
  fetch(needs: readonly QuoteNeed[]): Promise<void>;
}

interface Entry<T> {
  readonly quote: Quote<T>;
  readonly expiresAtMs: number;
}

export function feeOfEstimate(estimate: ExchangeEstimate): Decimal {
  const beforeWithdrawal = estimate.toAmount.plus(estimate.withdrawalFee);
  if (beforeWithdrawal.lte(0)) return estimate.fromAmount;
  const usdtPerUnit = estimate.fromAmount.minus(estimate.depositFee).div(beforeWithdrawal);
  return estimate.depositFee.plus(estimate.withdrawalFee.times(usdtPerUnit));
}

function pairText(pair: CurrencyPair): string {
  return `${pair.fromCurrency}/${pair.fromNetwork}->${pair.toCurrency}/${pair.toNetwork}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function createQuoteCache(options: QuoteCacheOptions): QuoteCache {
  const { source, log, now } = options;
  const ttlMs = options.ttlMs ?? 60_000;
  const failureTtlMs = options.failureTtlMs ?? 15_000;
  const entriesMax = options.entriesMax ?? 10_000;
  const ranges = new Map<string, Entry<ExchangeRange>>();
  const fees = new Map<string, Entry<Decimal>>();
  const transferFees = new Map<string, Entry<Decimal>>();

  function read<T>(entries: Map<string, Entry<T>>, key: string): Quote<T> | undefined {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= now().getTime()) {
      entries.delete(key);
      return undefined;
    }
    return entry.quote;
  }

  function write<T>(entries: Map<string, Entry<T>>, key: string, quote: Quote<T>): void {
    entries.delete(key);
    entries.set(key, { quote, expiresAtMs: now().getTime() + (quote.kind === 'known' ? ttlMs : failureTtlMs) });
    // Maps iterate in insertion order: the first key is the oldest entry.
    while (entries.size > entriesMax) {
      const oldest = entries.keys().next();
      if (oldest.done === true) break;
      entries.delete(oldest.value);
    }
  }

  const feeKey = (pair: CurrencyPair, amount: Decimal): string => `${pairText(pair)}@${amount.toFixed()}`;

  async function fetchOne(need: QuoteNeed): Promise<void> {
    if (need.kind === 'range') {
      const key = pairText(need.pair);
      if (read(ranges, key) !== undefined) return;
      try {
        write(ranges, key, { kind: 'known', value: await source.range(need.pair) });
      } catch (error) {
        log.warn({ err: error, pair: key }, 'no exchange range for a payout pair');
        write(ranges, key, { kind: 'unavailable', error: errorText(error) });
      }
      return;
    }
    if (need.kind === 'transfer_fee') {
      const key = pairText(need.pair);
      if (read(transferFees, key) !== undefined) return;
      try {
        write(transferFees, key, { kind: 'known', value: await options.transferFees(need.pair) });
      } catch (error) {
        log.warn({ err: error, pair: key }, 'no gas cost estimate for a direct payout');
        write(transferFees, key, { kind: 'unavailable', error: errorText(error) });
      }
      return;
    }
    const key = feeKey(need.pair, need.amountUsdt);
    if (read(fees, key) !== undefined) return;
    try {
      const estimate = await source.estimate({ ...need.pair, fromAmount: need.amountUsdt });
      write(fees, key, { kind: 'known', value: feeOfEstimate(estimate) });
    } catch (error) {
      log.warn({ err: error, pair: pairText(need.pair), amountUsdt: need.amountUsdt.toFixed() }, 'no fee estimate for a payout');
      write(fees, key, { kind: 'unavailable', error: errorText(error) });
    }
  }

  return {
    range: (pair) => read(ranges, pairText(pair)),
    fee: (pair, amount) => read(fees, feeKey(pair, amount)),
    transferFee: (pair) => read(transferFees, pairText(pair)),
    async fetch(needs) {
      // Sequential: the client's rate limiter spaces the calls anyway, and a burst of groups due at
      // once must not use up ChangeNow's limit that the connector needs for exchanges.
      for (const need of needs) {
        if (options.stopped?.() === true) return;
        await fetchOne(need);
      }
    },
  };
}
