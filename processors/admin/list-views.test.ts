// Proves the one-word state a client row shows, most pressing first, and that the list views write
// money as exact decimal strings.
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import type { ClientListRow } from './list-store.ts';
import { clientListItemOf, clientStateOf } from './list-views.ts';

function row(overrides: Partial<ClientListRow> = {}): ClientListRow {
  return {
    client_id: '-100',
    strategy: 'threshold',
    threshold_usd: new Decimal('50'),
    payout_currency: 'xmr',
    payout_network: 'xmr',
    created_at: new Date('2026-12-01T00:00:00Z'),
    unpaid_usdt: new Decimal(0),
    unconverted_usd: new Decimal(0),
    unconverted_payments: 0,
    needs_recovery: 0,
    hold_reason: null,
    in_flight: 0,
    failed: 0,
    last_batch_id: null,
    last_state: null,
    last_created_at: null,
    last_completed_at: null,
    last_payout_hash: null,
    ...overrides,
  };
}

describe('a client row', () => {
  it.each([
    [{}, 'paid_up'],
    [{ unconverted_payments: 2, unconverted_usd: new Decimal('9.7') }, 'waiting_for_conversion'],
    [{ unpaid_usdt: new Decimal('49.999999') }, 'below_threshold'],
    [{ unpaid_usdt: new Decimal('50') }, 'payout_due'],
    [{ strategy: 'instant' as const, threshold_usd: null, unpaid_usdt: new Decimal('1') }, 'payout_due'],
    [{ unpaid_usdt: new Decimal('60'), hold_reason: 'below the exchange minimum' }, 'held'],
    [{ unpaid_usdt: new Decimal('60'), hold_reason: 'x', in_flight: 1 }, 'payout_in_flight'],
    [{ in_flight: 1, failed: 1 }, 'failed_retrying'],
    [{ failed: 1, needs_recovery: 3 }, 'needs_recovery'],
  ])('%o is %s', (overrides, state) => {
    expect(clientStateOf(row(overrides)).state).toBe(state);
  });

  it('writes amounts as exact strings and the last payout when there is one', () => {
    const item = clientListItemOf(
      row({
        unpaid_usdt: new Decimal('12.000001'),
        last_batch_id: 'payout-1',
        last_state: 'finished',
        last_created_at: new Date('2026-12-02T00:00:00Z'),
        last_completed_at: new Date('2026-12-02T00:05:00Z'),
        last_payout_hash: '0xabc',
      }),
    );
    expect(item).toMatchObject({
      threshold_usd: '50',
      unpaid_usdt: '12.000001',
      state: 'below_threshold',
      last_payout: { batch_id: 'payout-1', state: 'finished', completed_at: '2026-12-02T00:05:00.000Z', payout_hash: '0xabc' },
    });
  });
});
