// Proves the statement's arithmetic and its CSV: rows exact, totals the exact sums, per-payout
// credits beside what the payout sent, RFC 4180 quoting.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Decimal } from '../../core/money.ts';
import { buildStatement, csvField, statementCsv, type StatementPayout, type StatementSource } from './statement.ts';

const payout: StatementPayout = {
  batchId: 'payout-1',
  state: 'finished',
  sourceCurrency: 'usdt',
  sourceAmount: new Decimal('30.000001'),
  payoutCurrency: 'xmr',
  payoutAmount: new Decimal('0.123456789012'),
  payoutHash: '0xabc',
};

function source(overrides: Partial<StatementSource> = {}): StatementSource {
  return {
    paymentId: 'p1',
    paidAt: '2026-12-01T10:00:00.000Z',
    usdGross: new Decimal('10'),
    platformFeeUsd: new Decimal('0.3'),
    usdNet: new Decimal('9.7'),
    ethNet: new Decimal('0.003233333333333333'),
    conversionBatchId: 'conv-1',
    conversionTotalUsd: new Decimal('29.1'),
    usdtCredited: new Decimal('10.000001'),
    payout,
    ...overrides,
  };
}

describe('statement', () => {
  it('shows each payment exactly, its share of the conversion, and per payout the credits beside what it sent', () => {
    const statement = buildStatement('-100', { payoutBatchId: 'payout-1', from: null, to: null }, [
      source(),
      source({ paymentId: 'p2', usdtCredited: new Decimal('20'), usdGross: new Decimal('20'), platformFeeUsd: new Decimal('0.6'), usdNet: new Decimal('19.4') }),
    ], new Date('2026-12-03T00:00:00Z'));
    expect(statement.rows[0]).toMatchObject({ usd_net: '9.7', conversion_share: '0.333333333333333333', usdt_credited: '10.000001', payout_tx_hash: '0xabc', payout_amount: '0.123456789012' });
    expect(statement.rows[1]?.conversion_share).toBe('0.666666666666666667');
    expect(statement.totals).toEqual({ payments: 2, usd_gross: '30', platform_fee_usd: '0.9', usd_net: '29.1', eth_net: '0.006466666666666666', usdt_credited: '30.000001' });
    expect(statement.payouts).toEqual([expect.objectContaining({ batch_id: 'payout-1', source_amount: '30.000001', usdt_credited: '30.000001' })]);
  });

  it('leaves the conversion and payout empty for a payment not yet converted or paid', () => {
    const statement = buildStatement('-100', { payoutBatchId: null, from: null, to: null }, [source({ conversionBatchId: null, conversionTotalUsd: null, usdtCredited: null, payout: null })], new Date());
    expect(statement.rows[0]).toMatchObject({ conversion_batch_id: null, conversion_share: null, usdt_credited: null, payout_batch_id: null });
    expect(statement.totals.usdt_credited).toBe('0');
    expect(statement.payouts).toEqual([]);
  });

  it('totals are the exact sums of the rows', () => {
    const amount = fc.bigInt({ min: 1n, max: 10n ** 20n }).map((units) => new Decimal(units.toString()).div(1e8));
    fc.assert(
      fc.property(fc.array(fc.tuple(amount, amount), { maxLength: 30 }), (pairs) => {
        const sources = pairs.map(([net, credited], index) => source({ paymentId: `p${index}`, usdNet: net, usdGross: net, platformFeeUsd: new Decimal(0), usdtCredited: credited }));
        const statement = buildStatement('-1', { payoutBatchId: null, from: null, to: null }, sources, new Date());
        const credited = pairs.reduce((total, [, value]) => total.plus(value), new Decimal(0));
        expect(statement.totals.usdt_credited).toBe(credited.toFixed());
        expect(statement.payouts[0]?.usdt_credited ?? '0').toBe(credited.toFixed());
        expect(statement.rows.reduce((total, row) => total.plus(row.usd_net), new Decimal(0)).toFixed()).toBe(statement.totals.usd_net);
      }),
    );
  });
});

describe('CSV', () => {
  it('quotes per RFC 4180 and has a header line', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    const csv = statementCsv(buildStatement('-1', { payoutBatchId: null, from: null, to: null }, [source({ paymentId: 'p,1' })], new Date()));
    const [header, line, end] = csv.split('\r\n');
    expect(header).toBe('payment_id,paid_at,usd_gross,platform_fee_usd,usd_net,eth_net,conversion_batch_id,conversion_share,usdt_credited,payout_batch_id,payout_state,payout_tx_hash,payout_currency,payout_amount');
    expect(line).toBe('"p,1",2026-12-01T10:00:00.000Z,10,0.3,9.7,0.003233333333333333,conv-1,0.333333333333333333,10.000001,payout-1,finished,0xabc,xmr,0.123456789012');
    expect(end).toBe('');
  });
});
