// A client's statement (a payout reconciliation report): every payment with its fee, its USD and
// ETH, its share of the conversion, the USDT it was credited and the payout that carried it, plus
// totals and, per payout, the sum of its rows' credits beside what the payout sent. Pure: rows in,
// JSON or CSV out. Every amount is exact (Decimal in, decimal string out); the share of a
// conversion is the one derived figure, rounded half-even to 18 decimals.
import { Decimal } from '../../core/money.ts';
import type { StatementBody, StatementRow } from './api-schemas.ts';

export const conversionShareScale = 18;

/** One payment as the statement store reads it. */
export interface StatementSource {
  readonly paymentId: string;
  readonly paidAt: string;
  readonly usdGross: Decimal;
  readonly platformFeeUsd: Decimal;
  readonly usdNet: Decimal;
  readonly ethNet: Decimal;
  readonly conversionBatchId: string | null;
  readonly conversionTotalUsd: Decimal | null;
  readonly usdtCredited: Decimal | null;
  readonly payout: StatementPayout | null;
}

export interface StatementPayout {
  readonly batchId: string;
  readonly state: 'requested' | 'swapping' | 'finished' | 'failed';
  readonly sourceCurrency: string;
  readonly sourceAmount: Decimal;
  readonly payoutCurrency: string;
  readonly payoutAmount: Decimal | null;
  readonly payoutHash: string | null;
}

export interface StatementPeriod {
  readonly payoutBatchId: string | null;
  readonly from: string | null;
  readonly to: string | null;
}

function rowOf(source: StatementSource): StatementRow {
  const share =
    source.conversionTotalUsd === null || source.conversionBatchId === null
      ? null
      : source.usdNet.div(source.conversionTotalUsd).toDecimalPlaces(conversionShareScale, Decimal.ROUND_HALF_EVEN).toFixed();
  return {
    payment_id: source.paymentId,
    paid_at: source.paidAt,
    usd_gross: source.usdGross.toFixed(),
    platform_fee_usd: source.platformFeeUsd.toFixed(),
    usd_net: source.usdNet.toFixed(),
    eth_net: source.ethNet.toFixed(),
    conversion_batch_id: source.conversionBatchId,
    conversion_share: share,
    usdt_credited: source.usdtCredited?.toFixed() ?? null,
    payout_batch_id: source.payout?.batchId ?? null,
    payout_state: source.payout?.state ?? null,
    payout_tx_hash: source.payout?.payoutHash ?? null,
    payout_currency: source.payout?.payoutCurrency ?? null,
    payout_amount: source.payout?.payoutAmount?.toFixed() ?? null,
  };
}

function sum(values: readonly Decimal[]): Decimal {
  return values.reduce((total, value) => total.plus(value), new Decimal(0));
}

export function buildStatement(clientId: string, period: StatementPeriod, sources: readonly StatementSource[], generatedAt: Date): StatementBody {
  const payouts = new Map<string, { payout: StatementPayout; credited: Decimal }>();
  for (const source of sources) {
    if (source.payout === null) continue;
    const entry = payouts.get(source.payout.batchId) ?? { payout: source.payout, credited: new Decimal(0) };
    payouts.set(source.payout.batchId, { ...entry, credited: entry.credited.plus(source.usdtCredited ?? 0) });
  }
  return {
    client_id: clientId,
    period: { payout_batch_id: period.payoutBatchId, from: period.from, to: period.to },
    generated_at: generatedAt.toISOString(),
    rows: sources.map(rowOf),
    totals: {
      payments: sources.length,
      usd_gross: sum(sources.map((source) => source.usdGross)).toFixed(),
      platform_fee_usd: sum(sources.map((source) => source.platformFeeUsd)).toFixed(),
      usd_net: sum(sources.map((source) => source.usdNet)).toFixed(),
      eth_net: sum(sources.map((source) => source.ethNet)).toFixed(),
      usdt_credited: sum(sources.flatMap((source) => (source.usdtCredited === null ? [] : [source.usdtCredited]))).toFixed(),
    },
    payouts: [...payouts.values()].map(({ payout, credited }) => ({
      batch_id: payout.batchId,
      state: payout.state,
      source_currency: payout.sourceCurrency,
      source_amount: payout.sourceAmount.toFixed(),
      usdt_credited: credited.toFixed(),
      payout_currency: payout.payoutCurrency,
      payout_amount: payout.payoutAmount?.toFixed() ?? null,
      payout_tx_hash: payout.payoutHash,
    })),
  };
}

export const statementCsvColumns = [
  'payment_id',
  'paid_at',
  'usd_gross',
  'platform_fee_usd',
  'usd_net',
  'eth_net',
  'conversion_batch_id',
  'conversion_share',
  'usdt_credited',
  'payout_batch_id',
  'payout_state',
  'payout_tx_hash',
  'payout_currency',
  'payout_amount',
] as const satisfies readonly (keyof StatementRow)[];

/** RFC 4180: a field with a comma, quote, CR or LF is quoted and its quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * The rows as RFC 4180 CSV (CRLF line ends, a header line; an empty field for null). A field that
 * a spreadsheet would run as a formula (=, +, -, @ first) is not rewritten: amounts are plain
 * decimals and ids come from the pipeline, and an accountant's tools must read the exact values.
 */
export function statementCsv(statement: StatementBody): string {
  const lines = [statementCsvColumns.join(',')];
  for (const row of statement.rows) {
    lines.push(statementCsvColumns.map((column) => csvField(String(row[column] ?? ''))).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
