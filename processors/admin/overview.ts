// GET /api/overview as pure assembly: the figures read from the database, Kafka and the chain
// (overview-store.ts, overview-sources.ts) in, the contract's snapshot out. No I/O and no clock of
// its own, so what the console shows is tested without a stack (overview.test.ts). Money stays a
// decimal string; a figure the process could not read (Kafka or the node down) is null, never
// invented; record counts (Kafka offsets) are decimal strings because they are int64.
import { fromBaseUnits, usdtScale, ethScale, type Decimal } from '../../core/money.ts';
import type { PartitionLag } from './consumer-lag-plan.ts';

export interface WindowFigures {
  readonly pendingPayments: number;
  readonly pendingUsd: Decimal;
  readonly oldestReceivedAt: Date | null;
  /** The threshold the accumulator decides with (pipeline_settings, else MICRO_BATCH_THRESHOLD_USD). */
  readonly thresholdUsd: Decimal;
}

export interface ConversionInFlight {
  readonly batchId: string;
  readonly state: string;
  readonly exchangeStatus: string | null;
  readonly createdAt: Date;
  readonly totalUsd: Decimal;
}

export interface PayoutInFlight {
  readonly batchId: string;
  readonly clientId: string;
  readonly state: string;
  readonly exchangeStatus: string | null;
  readonly payinHash: string | null;
  readonly createdAt: Date;
  readonly sourceAmount: Decimal;
  readonly sourceCurrency: string;
}

export interface OpenAlert {
  readonly findingId: string;
  readonly kind: string;
  readonly severity: string;
  readonly firstSeenAt: Date;
  readonly subject: string;
  readonly detail: string;
}

export interface DeadLetterDepth {
  readonly topic: string;
  readonly notReplayed: string;
}

export interface HostWalletFigures {
  readonly address: string;
  readonly ethWei: bigint;
  readonly usdtBaseUnits: bigint;
  readonly lowEth: Decimal;
  readonly lowUsdt: Decimal;
}

export interface OverviewInputs {
  readonly now: Date;
  readonly maxWaitMs: number;
  readonly window: WindowFigures;
  readonly conversions: readonly ConversionInFlight[];
  readonly payouts: readonly PayoutInFlight[];
  readonly volumeToday: { readonly payments: number; readonly usd: Decimal };
  readonly alerts: readonly OpenAlert[];
  /** null: Kafka did not answer. */
  readonly lags: readonly PartitionLag[] | null;
  readonly deadLetters: readonly DeadLetterDepth[] | null;
  /** null: the host wallet is not knowable from this process (no sender yet, or the node did not answer). */
  readonly hostWallet: HostWalletFigures | null;
}

export interface Overview {
  at: string;
  micro_batch: {
    pending_usd: string;
    threshold_usd: string;
    pending_payments: number;
    oldest_pending_at: string | null;
    max_wait_seconds: number;
    flush_in_seconds: number | null;
  };
  conversions_in_flight: { batch_id: string; state: string; stage: string; since: string; amount_usd: string }[];
  payouts_in_flight: { batch_id: string; client_id: string; state: string; stage: string; since: string; amount: string; currency: string }[];
  volume_today: { payments: number; usd: string };
  open_alerts: { id: string; kind: string; severity: string; since: string; summary: string }[];
  consumer_lag: { group: string; topic: string; lag: string }[] | null;
  dead_letters: { topic: string; not_replayed: string }[] | null;
  host_wallet: { address: string; eth: string; usdt: string; low_eth: string; low_usdt: string } | null;
}

/** Where a conversion stands: the exchange's own status once it has one, else waiting for the exchange to be created. */
export function conversionStageOf(conversion: Pick<ConversionInFlight, 'state' | 'exchangeStatus'>): string {
  if (conversion.exchangeStatus !== null) return `exchange_${conversion.exchangeStatus}`;
  return conversion.state === 'requested' ? 'creating_exchange' : 'sending_to_exchange';
}

/** Where a payout stands: the exchange's status, else whether the pay-in has been sent. */
export function payoutStageOf(payout: Pick<PayoutInFlight, 'state' | 'exchangeStatus' | 'payinHash'>): string {
  if (payout.exchangeStatus !== null) return `exchange_${payout.exchangeStatus}`;
  if (payout.payinHash !== null) return 'payin_sent';
  return payout.state === 'requested' ? 'creating_exchange' : 'sending_payin';
}

/** Seconds until the oldest pending payment closes a batch by MAX_WAIT (0 when already due); null when nothing is pending. */
export function flushInSecondsOf(oldestReceivedAt: Date | null, maxWaitMs: number, now: Date): number | null {
  if (oldestReceivedAt === null) return null;
  const remainingMs = oldestReceivedAt.getTime() + maxWaitMs - now.getTime();
  return remainingMs <= 0 ? 0 : Math.ceil(remainingMs / 1_000);
}

/** Per group and topic, the sum of its partitions' lag, sorted by group then topic. */
export function lagByGroupAndTopic(lags: readonly PartitionLag[]): { group: string; topic: string; lag: string }[] {
  const sums = new Map<string, { group: string; topic: string; lag: bigint }>();
  for (const lag of lags) {
    const key = JSON.stringify([lag.group, lag.topic]);
    const entry = sums.get(key) ?? { group: lag.group, topic: lag.topic, lag: 0n };
    entry.lag += BigInt(lag.lag);
    sums.set(key, entry);
  }
  return [...sums.values()]
    .sort((a, b) => (a.group === b.group ? compareText(a.topic, b.topic) : compareText(a.group, b.group)))
    .map((entry) => ({ group: entry.group, topic: entry.topic, lag: entry.lag.toString() }));
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function assembleOverview(inputs: OverviewInputs): Overview {
  const { window } = inputs;
  return {
    at: inputs.now.toISOString(),
    micro_batch: {
      pending_usd: window.pendingUsd.toFixed(),
      threshold_usd: window.thresholdUsd.toFixed(),
      pending_payments: window.pendingPayments,
      oldest_pending_at: window.oldestReceivedAt?.toISOString() ?? null,
      max_wait_seconds: Math.floor(inputs.maxWaitMs / 1_000),
      flush_in_seconds: flushInSecondsOf(window.oldestReceivedAt, inputs.maxWaitMs, inputs.now),
    },
    conversions_in_flight: inputs.conversions.map((conversion) => ({
      batch_id: conversion.batchId,
      state: conversion.state,
      stage: conversionStageOf(conversion),
      since: conversion.createdAt.toISOString(),
      amount_usd: conversion.totalUsd.toFixed(),
    })),
    payouts_in_flight: inputs.payouts.map((payout) => ({
      batch_id: payout.batchId,
      client_id: payout.clientId,
      state: payout.state,
      stage: payoutStageOf(payout),
      since: payout.createdAt.toISOString(),
      amount: payout.sourceAmount.toFixed(),
      currency: payout.sourceCurrency,
    })),
    volume_today: { payments: inputs.volumeToday.payments, usd: inputs.volumeToday.usd.toFixed() },
    open_alerts: inputs.alerts.map((alert) => ({
      id: alert.findingId,
      kind: alert.kind,
      severity: alert.severity,
      since: alert.firstSeenAt.toISOString(),
      summary: `${alert.subject}: ${alert.detail}`,
    })),
    consumer_lag: inputs.lags === null ? null : lagByGroupAndTopic(inputs.lags),
    dead_letters: inputs.deadLetters === null ? null : [...inputs.deadLetters].sort((a, b) => compareText(a.topic, b.topic)).map((depth) => ({ topic: depth.topic, not_replayed: depth.notReplayed })),
    host_wallet:
      inputs.hostWallet === null
        ? null
        : {
            address: inputs.hostWallet.address,
            eth: fromBaseUnits(inputs.hostWallet.ethWei, ethScale).toFixed(),
            usdt: fromBaseUnits(inputs.hostWallet.usdtBaseUnits, usdtScale).toFixed(),
            low_eth: inputs.hostWallet.lowEth.toFixed(),
            low_usdt: inputs.hostWallet.lowUsdt.toFixed(),
          },
  };
}

/**
 * What decides whether a stream sends a new `overview` event: the snapshot without `at` and
 * `flush_in_seconds`, which move with the clock alone (the console counts the flush down itself
 * from oldest_pending_at and max_wait_seconds). Anything else that differs is a change.
 */
export function overviewChangeKey(overview: Overview): string {
  return JSON.stringify({ ...overview, at: null, micro_batch: { ...overview.micro_batch, flush_in_seconds: null } });
}
