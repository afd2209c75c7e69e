// Proves the wallet-change cooldown with an injected clock: which address is in force when, that a
// destination change waits and a repeat does not restart its wait, and what consumers are shown.
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import type { ClientConfigRequest } from './client-config.ts';
import { planApplyDue, planCancelPending, planClientChange, settleClient, type StoredClient } from './client-change.ts';
import { effectiveWalletOf, publishedPendingOf } from '../../core/client-payout-config.ts';

const hour = 3_600_000;
const cooldownMs = 24 * hour;
const t0 = new Date('2026-11-20T12:00:00.000Z');
const at = (hours: number): Date => new Date(t0.getTime() + hours * hour);

const xmrA = '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A';
const xmrB = '4AAUTuTFbdpY3hMi7QJTzZ3pzg6pyEHqp23ELXujriEd1T4q2FqXtyFXY7AUhozXuCbeiGv5u7K5JCydaZDXikvL1zKo3cU';
const xmrC = '89kwoAkpkvLKDU1MTzTk5fHYNab2aodduZAgCt1hxCXodwPZT6ZesKEDeGDqqYU34kbPgJPsR1fmV77hJJ3JuAjrRMUyB8F';
const btc = '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa';

function request(overrides: Partial<ClientConfigRequest> = {}): ClientConfigRequest {
  return { strategy: 'threshold', threshold_usd: new Decimal('250'), wallet_address: xmrA, payout_currency: 'xmr', payout_network: 'xmr', ...overrides };
}

function registered(): StoredClient {
  const plan = planClientChange({ clientId: '-100123', current: null, request: request(), now: t0, cooldownMs, actor: 'admin' });
  if (plan.kind !== 'created') throw new Error('expected a registration');
  return plan.client;
}

function change(current: StoredClient, next: ClientConfigRequest, now: Date) {
  return planClientChange({ clientId: current.client_id, current, request: next, now, cooldownMs, actor: 'ops' });
}

describe('effectiveWalletOf', () => {
  const client = { wallet_address: xmrA, pending_wallet_address: xmrB, pending_wallet_effective_at: at(24) };

  it('keeps the current wallet until the effective time, and switches exactly then', () => {
    expect(effectiveWalletOf(client, t0)).toBe(xmrA);
    expect(effectiveWalletOf(client, new Date(at(24).getTime() - 1))).toBe(xmrA);
    expect(effectiveWalletOf(client, at(24))).toBe(xmrB);
    expect(effectiveWalletOf(client, at(100))).toBe(xmrB);
  });

  it('is the current wallet when nothing is pending', () => {
    expect(effectiveWalletOf({ wallet_address: xmrA, pending_wallet_address: null, pending_wallet_effective_at: null }, at(100))).toBe(xmrA);
  });
});

describe('planClientChange', () => {
  it('registers a new client with its wallet at once', () => {
    const client = registered();
    expect(client).toMatchObject({ revision: 1, wallet_address: xmrA, pending: null });
  });

  it('leaves the same config unchanged, with the same revision', () => {
    const client = registered();
    expect(change(client, request({ threshold_usd: new Decimal('250.000') }), at(1))).toMatchObject({ kind: 'unchanged', client: { revision: 1 } });
  });

  it('applies a threshold or strategy change at once', () => {
    const client = registered();
    const plan = change(client, request({ threshold_usd: new Decimal('500') }), at(1));
    expect(plan).toMatchObject({ kind: 'updated', events: ['threshold_changed'], client: { revision: 2, pending: null } });
    expect(plan.client.threshold_usd?.toFixed()).toBe('500');
    expect(change(client, request({ strategy: 'instant', threshold_usd: null }), at(1))).toMatchObject({
      kind: 'updated',
      events: ['strategy_changed', 'threshold_changed'],
      client: { strategy: 'instant', threshold_usd: null },
    });
  });

  it('holds a new wallet for the cooldown', () => {
    const plan = change(registered(), request({ wallet_address: xmrB }), at(1));
    expect(plan).toMatchObject({ kind: 'updated', events: ['destination_change_requested'], client: { wallet_address: xmrA, revision: 2 } });
    expect(plan.client.pending).toMatchObject({ wallet_address: xmrB, requested_by: 'ops', effective_at: at(25) });
  });

  it('does not restart the cooldown when the same new wallet is sent again', () => {
    const pending = change(registered(), request({ wallet_address: xmrB }), at(1)).client;
    expect(change(pending, request({ wallet_address: xmrB }), at(5))).toMatchObject({ kind: 'unchanged', client: { pending: { effective_at: at(25) } } });
  });

  it('keeps a pending wallet when a PUT repeats the wallet in force (cancelling is its own request)', () => {
    const pending = change(registered(), request({ wallet_address: xmrB }), at(1)).client;
    const plan = change(pending, request({ threshold_usd: new Decimal('300') }), at(2));
    expect(plan).toMatchObject({ kind: 'updated', events: ['threshold_changed'], client: { pending: { wallet_address: xmrB } } });
  });

  it('replaces a pending wallet by a third one with a new cooldown', () => {
    const pending = change(registered(), request({ wallet_address: xmrB }), at(1)).client;
    expect(change(pending, request({ wallet_address: xmrC }), at(3)).client.pending).toMatchObject({ wallet_address: xmrC, effective_at: at(27) });
  });

  it('holds a currency change with its wallet, as one destination', () => {
    const plan = change(registered(), request({ wallet_address: btc, payout_currency: 'btc', payout_network: 'btc' }), at(1));
    expect(plan.client).toMatchObject({ wallet_address: xmrA, payout_currency: 'xmr', pending: { wallet_address: btc, payout_currency: 'btc' } });
  });

  it('folds a due pending wallet in before comparing', () => {
    const pending = change(registered(), request({ wallet_address: xmrB }), at(1)).client;
    expect(change(pending, request({ wallet_address: xmrB }), at(30))).toMatchObject({ kind: 'unchanged', client: { wallet_address: xmrB, pending: null } });
    const plan = change(pending, request({ wallet_address: xmrB, threshold_usd: new Decimal('600') }), at(30));
    expect(plan).toMatchObject({ kind: 'updated', events: ['pending_destination_applied', 'threshold_changed'], client: { wallet_address: xmrB, pending: null, revision: 3 } });
  });

  it('takes a new wallet at once when the cooldown is configured to zero', () => {
    const plan = planClientChange({ clientId: '1', current: registered(), request: request({ wallet_address: xmrB }), now: at(1), cooldownMs: 0, actor: 'ops' });
    expect(plan).toMatchObject({ kind: 'updated', events: ['destination_changed'], client: { wallet_address: xmrB, pending: null } });
  });
});

describe('cancelling and applying a pending destination', () => {
  const pending = change(registered(), request({ wallet_address: xmrB }), at(1)).client;

  it('cancels before the effective time', () => {
    expect(planCancelPending(pending, at(24))).toMatchObject({ kind: 'cancelled', cancelled: { wallet_address: xmrB }, client: { pending: null, wallet_address: xmrA, revision: 3 } });
  });

  it('refuses to cancel once the change took effect', () => {
    expect(planCancelPending(pending, at(25))).toMatchObject({ kind: 'already_effective', client: { wallet_address: xmrB } });
  });

  it('says when nothing is pending', () => {
    expect(planCancelPending(registered(), at(1))).toEqual({ kind: 'nothing_pending' });
  });

  it('applies a due change as a new revision, and nothing before', () => {
    expect(planApplyDue(pending, at(24))).toBeNull();
    expect(planApplyDue(pending, at(25))).toMatchObject({ wallet_address: xmrB, pending: null, revision: 3 });
    expect(settleClient(pending, at(25)).applied).toBe(true);
  });
});

describe('publishedPendingOf', () => {
  it('shows consumers a wallet change on the same pair with its effective time', () => {
    const pending = change(registered(), request({ wallet_address: xmrB }), at(1)).client;
    expect(publishedPendingOf(pending, pending.pending)).toEqual({ pending_wallet_address: xmrB, pending_wallet_effective_at: at(25) });
  });

  it('hides a change of pair, which the admin applies when due, so no consumer pairs a BTC address with XMR', () => {
    const pending = change(registered(), request({ wallet_address: btc, payout_currency: 'btc', payout_network: 'btc' }), at(1)).client;
    expect(publishedPendingOf(pending, pending.pending)).toEqual({ pending_wallet_address: null, pending_wallet_effective_at: null });
  });
});
