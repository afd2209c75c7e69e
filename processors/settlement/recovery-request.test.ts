// Proves the rules of a recovery resolution request with no I/O: each resolution with what it
// needs (an exact USDT amount for recovered, a reason for written_off), and a named problem for
// anything else.
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../core/money.ts';
import { parseRecoveryRequest } from './recovery-request.ts';
import { RequestValidationError } from '../../core/http/request-validation.ts';

function problemsOf(body: unknown): string[] {
  try {
    parseRecoveryRequest(body);
  } catch (error) {
    if (error instanceof RequestValidationError) return error.problems.map((entry) => `${entry.field}: ${entry.rule}`);
    throw error;
  }
  return [];
}

describe('parseRecoveryRequest', () => {
  it('accepts each resolution with what it needs', () => {
    expect(parseRecoveryRequest({ resolution: 'refund_received' })).toEqual({ resolution: 'refund_received', note: null });
    expect(parseRecoveryRequest({ resolution: 'recovered', usdt_amount: '25.500001', note: ' ticket 1 ' })).toEqual({ resolution: 'recovered', usdtAmount: new Decimal('25.500001'), note: 'ticket 1' });
    expect(parseRecoveryRequest({ resolution: 'written_off', note: 'exchange insolvent' })).toEqual({ resolution: 'written_off', note: 'exchange insolvent' });
  });

  it('names what is wrong', () => {
    expect(problemsOf({ resolution: 'refunded' })).toEqual(['resolution: refund_received | recovered | written_off']);
    expect(problemsOf({ resolution: 'recovered' })).toEqual(['usdt_amount: required for recovered']);
    expect(problemsOf({ resolution: 'recovered', usdt_amount: 25.5 })).toEqual(['usdt_amount: money as a decimal string']);
    expect(problemsOf({ resolution: 'recovered', usdt_amount: '1.0000001' })).toEqual(['usdt_amount: at most 6 decimal places']);
    expect(problemsOf({ resolution: 'recovered', usdt_amount: '0' })).toEqual(['usdt_amount: greater than 0']);
    expect(problemsOf({ resolution: 'refund_received', usdt_amount: '1' })).toEqual(['usdt_amount: only for recovered']);
    expect(problemsOf({ resolution: 'written_off' })).toEqual(['note: required for written_off']);
    expect(problemsOf({ resolution: 'written_off', note: '  ' })).toEqual(['note: text of 1–500 characters']);
    expect(problemsOf({ resolution: 'refund_received', who: 'me' })).toEqual(['who: unknown field']);
    expect(problemsOf([])).toEqual(['body: a JSON object']);
  });
});
