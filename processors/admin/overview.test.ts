// The overview's assembly from the figures the admin process reads: money as exact decimal
// strings, the max-wait countdown, lag summed per group and topic, unknown figures as null, and
// which differences count as a change for the event streams.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Decimal } from '../../core/money.ts';
import { assembleOverview, conversionStageOf, flushInSecondsOf, lagByGroupAndTopic, overviewChangeKey, payoutStageOf, type OverviewInputs } from './overview.ts';

const now = new Date('2026-12-03T12:00:00.000Z');

function inputs(overrides: Partial<OverviewInputs> = {}): OverviewInputs {
  return {
    now,
    maxWaitMs: 600_000,
    window: { pendingPayments: 2, pendingUsd: new Decimal('123.45000000'), oldestReceivedAt: new Date('2026-12-03T11:55:00.000Z'), thresholdUsd: new Decimal('1000') },
    conversions: [{ batchId: 'conv-1', state: 'swapping', exchangeStatus: 'exchanging', createdAt: new Date('2026-12-03T11:00:00.000Z'), totalUsd: new Decimal('1000.5') }],
    payouts: [
      { batchId: 'pay-1', clientId: '-1001', state: 'requested', exchangeStatus: null, payinHash: null, createdAt: new Date('2026-12-03T11:30:00.000Z'), sourceAmount: new Decimal('12.000001'), sourceCurrency: 'usdt' },
    ],
    volumeToday: { payments: 42, usd: new Decimal('1234.56') },
    alerts: [{ findingId: 'stuck:conv-1', kind: 'stuck_conversion', severity: 'warning', firstSeenAt: new Date('2026-12-03T11:50:00.000Z'), subject: 'conv-1', detail: 'swapping for 1 h' }],
    lags: [
      { group: 'router', topic: 'payments-received', partition: 0, lag: 3 },
      { group: 'router', topic: 'payments-received', partition: 1, lag: 4 },
      { group: 'accumulator', topic: 'payments-routed', partition: 0, lag: 0 },
    ],
    deadLetters: [
      { topic: 'payments-routed.dlq', notReplayed: '0' },
      { topic: 'payments-received.dlq', notReplayed: '2' },
    ],
    hostWallet: { address: '0xabc', ethWei: 1_500_000_000_000_000_000n, usdtBaseUnits: 1_200_000_000n, lowEth: new Decimal('0.05'), lowUsdt: new Decimal('100') },
    ...overrides,
  };
}

describe('assembleOverview', () => {
  it('answers the contract with money as decimal strings', () => {
    expect(assembleOverview(inputs())).toEqual({
      at: '2026-12-03T12:00:00.000Z',
      micro_batch: { pending_usd: '123.45', threshold_usd: '1000', pending_payments: 2, oldest_pending_at: '2026-12-03T11:55:00.000Z', max_wait_seconds: 600, flush_in_seconds: 300 },
      conversions_in_flight: [{ batch_id: 'conv-1', state: 'swapping', stage: 'exchange_exchanging', since: '2026-12-03T11:00:00.000Z', amount_usd: '1000.5' }],
      payouts_in_flight: [{ batch_id: 'pay-1', client_id: '-1001', state: 'requested', stage: 'creating_exchange', since: '2026-12-03T11:30:00.000Z', amount: '12.000001', currency: 'usdt' }],
      volume_today: { payments: 42, usd: '1234.56' },
      open_alerts: [{ id: 'stuck:conv-1', kind: 'stuck_conversion', severity: 'warning', since: '2026-12-03T11:50:00.000Z', summary: 'conv-1: swapping for 1 h' }],
      consumer_lag: [
        { group: 'accumulator', topic: 'payments-routed', lag: '0' },
        { group: 'router', topic: 'payments-received', lag: '7' },
      ],
      dead_letters: [
        { topic: 'payments-received.dlq', not_replayed: '2' },
        { topic: 'payments-routed.dlq', not_replayed: '0' },
      ],
      host_wallet: { address: '0xabc', eth: '1.5', usdt: '1200', low_eth: '0.05', low_usdt: '100' },
    });
  });

  it('says null for what it could not read, and nothing pending has no countdown', () => {
    const overview = assembleOverview(
      inputs({ lags: null, deadLetters: null, hostWallet: null, window: { pendingPayments: 0, pendingUsd: new Decimal(0), oldestReceivedAt: null, thresholdUsd: new Decimal('1000') } }),
    );
    expect(overview.consumer_lag).toBeNull();
    expect(overview.dead_letters).toBeNull();
    expect(overview.host_wallet).toBeNull();
    expect(overview.micro_batch).toMatchObject({ pending_usd: '0', oldest_pending_at: null, flush_in_seconds: null });
  });

  it('keeps every wei and USDT base unit of the host wallet', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.bigInt({ min: 0n, max: 10n ** 20n }), (ethWei, usdtBaseUnits) => {
        const wallet = assembleOverview(inputs({ hostWallet: { address: '0xabc', ethWei, usdtBaseUnits, lowEth: new Decimal(1), lowUsdt: new Decimal(1) } })).host_wallet;
        expect(new Decimal(wallet?.eth ?? 'NaN').times(new Decimal(10).pow(18)).toFixed()).toBe(ethWei.toString());
        expect(new Decimal(wallet?.usdt ?? 'NaN').times(new Decimal(10).pow(6)).toFixed()).toBe(usdtBaseUnits.toString());
      }),
    );
  });
});

describe('flushInSecondsOf', () => {
  it('counts down to the max-wait flush, rounding up, and stays at 0 once due', () => {
    const oldest = new Date(now.getTime() - 10_500);
    expect(flushInSecondsOf(oldest, 20_000, now)).toBe(10);
    expect(flushInSecondsOf(oldest, 10_000, now)).toBe(0);
    expect(flushInSecondsOf(new Date(now.getTime() - 1), 20_000, now)).toBe(20);
    expect(flushInSecondsOf(null, 20_000, now)).toBeNull();
  });
});

describe('stages', () => {
  it('name where a conversion or payout stands', () => {
    expect(conversionStageOf({ state: 'requested', exchangeStatus: null })).toBe('creating_exchange');
    expect(conversionStageOf({ state: 'swapping', exchangeStatus: null })).toBe('sending_to_exchange');
    expect(payoutStageOf({ state: 'swapping', exchangeStatus: null, payinHash: '0x1' })).toBe('payin_sent');
    expect(payoutStageOf({ state: 'swapping', exchangeStatus: 'sending', payinHash: '0x1' })).toBe('exchange_sending');
  });
});

describe('lagByGroupAndTopic', () => {
  it('sums partitions exactly, beyond a JS number', () => {
    const lags = [
      { group: 'g', topic: 't', partition: 0, lag: Number.MAX_SAFE_INTEGER },
      { group: 'g', topic: 't', partition: 1, lag: Number.MAX_SAFE_INTEGER },
    ];
    expect(lagByGroupAndTopic(lags)).toEqual([{ group: 'g', topic: 't', lag: (2n * BigInt(Number.MAX_SAFE_INTEGER)).toString() }]);
  });
});

describe('overviewChangeKey', () => {
  it('ignores the clock alone, and sees any figure that moved', () => {
    const base = assembleOverview(inputs());
    const later = assembleOverview(inputs({ now: new Date(now.getTime() + 2_000) }));
    expect(later.micro_batch.flush_in_seconds).not.toBe(base.micro_batch.flush_in_seconds);
    expect(overviewChangeKey(later)).toBe(overviewChangeKey(base));
    const paid = assembleOverview(inputs({ volumeToday: { payments: 43, usd: new Decimal('1244.56') } }));
    expect(overviewChangeKey(paid)).not.toBe(overviewChangeKey(base));
  });
});
