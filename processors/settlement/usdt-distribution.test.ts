// Proves that distributeUsdt shares received USDT exactly (Σ shares = received), never negatively, within one base unit of each exact proportional share, with a deterministic tie rule that makes the split independent of input order.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvariantViolation } from '../../core/errors.ts';
import { Decimal } from '../../core/money.ts';
import { distributeUsdt, type DistributionMember, type UsdtDistribution } from './usdt-distribution.ts';

function member(paymentId: string, usdNet: string): DistributionMember {
  return { paymentId, usdNet: new Decimal(usdNet) };
}

function byId(distribution: UsdtDistribution): Record<string, bigint> {
  return Object.fromEntries(distribution.shares.map((share) => [share.paymentId, share.baseUnits]));
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

describe('given/when/then examples', () => {
  it('gives the one leftover unit of 100 across 3 equal members to the smallest paymentId', () => {
    // Given three equal $10 payments in scrambled order, when 100 units arrive,
    const result = distributeUsdt(100n, [member('c', '10'), member('a', '10'), member('b', '10')]);
    // then the tie on remainder and weight falls to paymentId ascending: a gets 34.
    expect(byId(result)).toEqual({ a: 34n, b: 33n, c: 33n });
    expect(result.totalBaseUnits).toBe(100n);
    expect(result.shares.map((share) => share.paymentId)).toEqual(['c', 'a', 'b']);
    expect(result.shares.map((share) => share.exactShare)).toEqual(['100/3', '100/3', '100/3']);
    expect(result.shares.map((share) => share.roundingBaseUnits)).toEqual([0n, 1n, 0n]);
  });

  it('breaks an equal-remainder tie by the larger USD weight before the paymentId', () => {
    // Given $1 (id a) and $3 (id z), when 2 units arrive, exact shares are 0.5 and 1.5: equal remainders,
    const result = distributeUsdt(2n, [member('a', '1'), member('z', '3')]);
    // then the larger weight wins the unit although its id sorts last.
    expect(byId(result)).toEqual({ a: 0n, z: 2n });
    expect(result.shares.map((share) => share.exactShare)).toEqual(['1/2', '3/2']);
  });

  it('gives the leftover unit to the largest remainder even when its weight is smaller', () => {
    // Given $1 and $2, when 10 units arrive, exact shares are 3⅓ and 6⅔,
    const result = distributeUsdt(10n, [member('small', '1'), member('big', '2')]);
    expect(byId(result)).toEqual({ small: 3n, big: 7n });
  });

  it('shares zero received as zero for everyone, with no rounding', () => {
    const result = distributeUsdt(0n, [member('p1', '5'), member('p2', '0.00000001')]);
    expect(result.totalBaseUnits).toBe(0n);
    expect(result.shares).toEqual([
      { paymentId: 'p1', baseUnits: 0n, exactShare: '0/1', roundingBaseUnits: 0n },
      { paymentId: 'p2', baseUnits: 0n, exactShare: '0/1', roundingBaseUnits: 0n },
    ]);
  });

  it('gives a single member everything received', () => {
    const result = distributeUsdt(123_456_789n, [member('only', '7.5')]);
    expect(result.shares).toEqual([{ paymentId: 'only', baseUnits: 123_456_789n, exactShare: '123456789/1', roundingBaseUnits: 0n }]);
  });

  it('gives one dust unit across 5 members to the largest, or by paymentId when all are equal', () => {
    const unequal = distributeUsdt(1n, ['1', '2', '5', '3', '4'].map((usd, index) => member(`p${index + 1}`, usd)));
    expect(byId(unequal)).toEqual({ p1: 0n, p2: 0n, p3: 1n, p4: 0n, p5: 0n });
    const equal = distributeUsdt(1n, ['p5', 'p3', 'p1', 'p4', 'p2'].map((id) => member(id, '4')));
    expect(byId(equal)).toEqual({ p1: 1n, p2: 0n, p3: 0n, p4: 0n, p5: 0n });
  });

  it('splits a huge amount exactly across extreme USD values', () => {
    const result = distributeUsdt(10n ** 15n, [member('whale', '1000000'), member('dust', '0.00000001'), member('mid', '999999.99999999')]);
    expect(result.totalBaseUnits).toBe(10n ** 15n);
    expect(byId(result)).toEqual({ whale: 500_000_000_000_000n, dust: 5n, mid: 499_999_999_999_995n });
  });

  it('refuses malformed input with an InvariantViolation', () => {
    expect(() => distributeUsdt(-1n, [member('a', '1')])).toThrow(InvariantViolation);
    expect(() => distributeUsdt(1n, [])).toThrow(InvariantViolation);
    expect(() => distributeUsdt(1n, [member('a', '1'), member('a', '2')])).toThrow(InvariantViolation);
    expect(() => distributeUsdt(1n, [member('a', '0')])).toThrow(InvariantViolation);
    expect(() => distributeUsdt(1n, [member('a', '-1')])).toThrow(InvariantViolation);
    expect(() => distributeUsdt(1n, [member('a', '0.000000001')])).toThrow(InvariantViolation);
  });
});

// USD values from 0.00000001 to 1,000,000 with up to 8 decimals, as integer weights ×10^8; a few
// fixed values are mixed in so equal weights (and thus tie-breaks) really occur.
const weightArb = fc.oneof(fc.bigInt({ min: 1n, max: 100_000_000_000_000n }), fc.constantFrom(1n, 100_000_000n, 2_500_000_000n));
const receivedArb = fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 10n }), fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.constant(10n ** 15n));

function membersArb(maxLength: number) {
  return fc
    .uniqueArray(fc.record({ paymentId: fc.string({ maxLength: 6 }), weight: weightArb }), { minLength: 1, maxLength, selector: (entry) => entry.paymentId })
    .map((entries) => entries.map(({ paymentId, weight }) => ({ paymentId, weight, usdNet: new Decimal(weight.toString()).div(100_000_000) })));
}

function scenarioArb(maxLength: number) {
  return fc.tuple(receivedArb, membersArb(maxLength)).chain(([received, members]) =>
    fc.shuffledSubarray(members, { minLength: members.length, maxLength: members.length }).map((shuffled) => ({ received, members, shuffled })),
  );
}

function checkScenario({ received, members, shuffled }: { received: bigint; members: { paymentId: string; weight: bigint; usdNet: Decimal }[]; shuffled: typeof members }): void {
  const result = distributeUsdt(received, members);
  const totalWeight = members.reduce((sum, entry) => sum + entry.weight, 0n);

  // Sum exact.
  expect(result.totalBaseUnits).toBe(received);
  expect(result.shares.reduce((sum, share) => sum + share.baseUnits, 0n)).toBe(received);
  result.shares.forEach((share, index) => {
    const entry = members[index];
    if (entry === undefined) throw new Error('share without member');
    expect(share.paymentId).toBe(entry.paymentId);
    // None negative; the rounding is 0 or 1 above the floor.
    expect(share.baseUnits >= 0n).toBe(true);
    expect([0n, 1n]).toContain(share.roundingBaseUnits);
    // Within one unit of exact: |share × W − received × w| < W, recomputed independently.
    const deviation = share.baseUnits * totalWeight - received * entry.weight;
    expect(deviation > -totalWeight && deviation < totalWeight).toBe(true);
    // The recorded exact share is the reduced fraction received × w / W.
    const [numerator, denominator] = share.exactShare.split('/').map((part) => BigInt(part));
    if (numerator === undefined || denominator === undefined) throw new Error(`bad exactShare ${share.exactShare}`);
    expect(numerator * totalWeight).toBe(received * entry.weight * denominator);
    expect(gcd(numerator, denominator)).toBe(1n);
  });

  // Deterministic and independent of input order.
  expect(distributeUsdt(received, members)).toEqual(result);
  expect(byId(distributeUsdt(received, shuffled))).toEqual(byId(result));
}

describe('properties over random batches', () => {
  it('holds for up to 50 members, dust to huge amounts', () => {
    fc.assert(fc.property(scenarioArb(50), checkScenario), { numRuns: 100 });
  });

  it('holds for thousands of members (up to 3000)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1000, max: 3000 }).chain((size) =>
          fc.tuple(receivedArb, fc.array(weightArb, { minLength: size, maxLength: size })).chain(([received, weights]) => {
            const members = weights.map((weight, index) => ({ paymentId: `pay-${index}`, weight, usdNet: new Decimal(weight.toString()).div(100_000_000) }));
            return fc.shuffledSubarray(members, { minLength: members.length, maxLength: members.length }).map((shuffled) => ({ received, members, shuffled }));
          }),
        ),
        checkScenario,
      ),
      { numRuns: 10 },
    );
  });

  it('holds for dust: fewer base units than members, so most shares are zero and none is negative', () => {
    fc.assert(
      fc.property(
        membersArb(200).filter((members) => members.length >= 2),
        fc.nat(),
        (members, seed) => {
          const received = BigInt(seed % members.length);
          checkScenario({ received, members, shuffled: [...members].reverse() });
          // Each share is at most one unit above its floor, and the floors of dust are mostly zero.
          expect(distributeUsdt(received, members).shares.every((share) => share.baseUnits <= received)).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('holds for huge amounts far past 2^53 base units', () => {
    const hugeArb = fc.bigInt({ min: 2n ** 53n, max: 10n ** 24n });
    fc.assert(fc.property(fc.tuple(hugeArb, membersArb(30)), ([received, members]) => checkScenario({ received, members, shuffled: [...members].reverse() })), { numRuns: 100 });
  });
});
