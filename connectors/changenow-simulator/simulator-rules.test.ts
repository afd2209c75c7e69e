// Proves the simulator's pure rules: the steps an exchange takes after its deposit for every planned
// outcome, and that faults and outcomes set on the control API apply exactly as often as asked, to
// the requests and exchanges they name, and are gone after a reset.
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import { lifecycleAfterDeposit, type LifecycleStep } from './simulated-exchange.ts';
import { createSimulatorControls } from './simulator-controls.ts';

function statusesOf(steps: readonly LifecycleStep[]): string[] {
  return steps.filter((step) => step.kind !== 'wait').map((step) => (step.kind === 'status' ? step.status : step.kind));
}

describe('lifecycleAfterDeposit', () => {
  const stepDelayMs = 300;

  it('finishes with a payout after confirming, exchanging and sending', () => {
    const steps = lifecycleAfterDeposit({ plannedOutcome: null, depositProblem: null, stepDelayMs });
    expect(statusesOf(steps)).toEqual(['confirming', 'exchanging', 'sending', 'payout']);
    expect(steps.filter((step) => step.kind === 'wait')).toEqual([
      { kind: 'wait', ms: 300 },
      { kind: 'wait', ms: 300 },
      { kind: 'wait', ms: 300 },
    ]);
  });

  it('holds in verifying for the planned time, then finishes', () => {
    const steps = lifecycleAfterDeposit({ plannedOutcome: { outcome: 'verifying', reason: null, verifyingMs: 5_000 }, depositProblem: null, stepDelayMs });
    expect(statusesOf(steps)).toEqual(['confirming', 'verifying', 'exchanging', 'sending', 'payout']);
    expect(steps).toContainEqual({ kind: 'wait', ms: 5_000 });
  });

  it('fails or refunds as planned, with the reason given or a default', () => {
    const failed = lifecycleAfterDeposit({ plannedOutcome: { outcome: 'failed', reason: 'AML check', verifyingMs: 0 }, depositProblem: null, stepDelayMs });
    expect(failed.at(-1)).toEqual({ kind: 'fail', reason: 'AML check' });
    expect(statusesOf(failed)).not.toContain('payout');
    const refunded = lifecycleAfterDeposit({ plannedOutcome: { outcome: 'refunded', reason: null, verifyingMs: 0 }, depositProblem: null, stepDelayMs });
    expect(refunded.at(-1)).toEqual({ kind: 'refund', reason: 'refunded on request (simulator outcome)' });
  });

  it('refunds a deposit it cannot exchange, whatever was planned', () => {
    const steps = lifecycleAfterDeposit({ plannedOutcome: { outcome: 'failed', reason: null, verifyingMs: 0 }, depositProblem: 'deposit out of range', stepDelayMs });
    expect(steps.at(-1)).toEqual({ kind: 'refund', reason: 'deposit out of range' });
  });
});

describe('simulator controls', () => {
  it('applies a status fault to exactly `count` matching requests, in the order faults were set', () => {
    const controls = createSimulatorControls();
    controls.addFault({ kind: 'status', status: 429, path: '/v2/exchange/by-id' }, 2);
    controls.addFault({ kind: 'status', status: 503, path: null }, 1);
    expect(controls.takeFault('GET', '/v2/exchange/range')).toEqual({ kind: 'status', status: 503, path: null });
    expect(controls.takeFault('GET', '/v2/exchange/range')).toBeUndefined();
    expect(controls.takeFault('GET', '/v2/exchange/by-id')?.kind).toBe('status');
    expect(controls.takeFault('GET', '/v2/exchange/by-id')?.kind).toBe('status');
    expect(controls.takeFault('GET', '/v2/exchange/by-id')).toBeUndefined();
  });

  it('applies timeout-after-create only to POST /v2/exchange', () => {
    const controls = createSimulatorControls();
    controls.addFault({ kind: 'timeout-after-create', hangMs: 1_000 }, 1);
    expect(controls.takeFault('GET', '/v2/exchange')).toBeUndefined();
    expect(controls.takeFault('GET', '/v2/exchange/by-id')).toBeUndefined();
    expect(controls.takeFault('POST', '/v2/exchange')?.kind).toBe('timeout-after-create');
    expect(controls.takeFault('POST', '/v2/exchange')).toBeUndefined();
  });

  it('gives a planned outcome to the next matching exchange only, matching addresses in any case', () => {
    const controls = createSimulatorControls();
    const payoutAddress = '0x9F4D8a2c6b3e1f7A5D0C2b8E4f6a1C3D5e7f9A0b';
    controls.addOutcome({ match: { payoutAddress: payoutAddress.toLowerCase(), toCurrency: 'usdt' }, outcome: 'refunded', reason: null, verifyingMs: 0 });
    const fromAmount = new Decimal('0.5');
    expect(controls.takeOutcome({ userId: 'a', payoutAddress, toCurrency: 'xmr', fromAmount })).toBeNull();
    expect(controls.takeOutcome({ userId: 'b', payoutAddress, toCurrency: 'usdt', fromAmount })?.outcome).toBe('refunded');
    expect(controls.takeOutcome({ userId: 'c', payoutAddress, toCurrency: 'usdt', fromAmount })).toBeNull();
  });

  it('aims a planned outcome at an exact amount sent, however it is written', () => {
    const controls = createSimulatorControls();
    const facts = { userId: null, payoutAddress: '0x0', toCurrency: 'usdt' };
    controls.addOutcome({ match: { fromAmount: new Decimal('0.0097') }, outcome: 'failed', reason: null, verifyingMs: 0 });
    expect(controls.takeOutcome({ ...facts, fromAmount: new Decimal('0.2433') })).toBeNull();
    expect(controls.takeOutcome({ ...facts, fromAmount: new Decimal('0.009700') })?.outcome).toBe('failed');
    expect(controls.takeOutcome({ ...facts, fromAmount: new Decimal('0.0097') })).toBeNull();
  });

  it('overrides a pair range, and a reset clears faults, outcomes and ranges', () => {
    const controls = createSimulatorControls();
    const pair = { fromCurrency: 'usdt', fromNetwork: 'eth', toCurrency: 'xmr', toNetwork: 'xmr' };
    controls.setRange(pair, { minAmount: new Decimal('25'), maxAmount: null });
    controls.addFault({ kind: 'delay', delayMs: 10, path: null }, 5);
    controls.addOutcome({ match: {}, outcome: 'failed', reason: null, verifyingMs: 0 });
    expect(controls.rangeOverride(pair)?.minAmount.toFixed()).toBe('25');
    expect(controls.rangeOverride({ ...pair, toCurrency: 'btc', toNetwork: 'btc' })).toBeUndefined();
    controls.clear();
    expect(controls.rangeOverride(pair)).toBeUndefined();
    expect(controls.takeFault('GET', '/v2/exchange/range')).toBeUndefined();
    expect(controls.takeOutcome({ userId: null, payoutAddress: '0x0', toCurrency: 'usdt', fromAmount: new Decimal('1') })).toBeNull();
  });
});
