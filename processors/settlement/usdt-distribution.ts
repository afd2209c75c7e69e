// Shares the USDT a finished conversion actually received across the batch's payments in
// proportion to their USD value (MISSION step 5, invariant 3), in integer USDT base units.
//
// Why everything is bigint: the shares must sum to the received amount *exactly*, and a replay
// must produce the same split bit for bit. Decimal division would round at 100 significant digits
// and a float would lose cents, so the USD values are scaled to integer weights (×10^8; they carry
// at most 8 decimals) and every share is an integer quotient plus an integer remainder.
//
// Largest-remainder method: each member first gets floor(received × w / W); the few units those
// floors leave over (fewer than the member count) go one each to the members whose dropped
// fractions were largest. That keeps every share within one base unit of its exact value.
//
// Tie rule (deterministic, independent of input order): equal remainders are ordered by the
// larger USD weight first, then by paymentId ascending in UTF-16 code-unit order (plain `<`, not
// localeCompare, whose order depends on the runtime's locale data).
import { assertInvariant } from '../../core/errors.ts';
import { toBaseUnits, usdScale, type Decimal } from '../../core/money.ts';


export interface DistributionMember {
  paymentId: string;
  usdNet: Decimal;
}

export interface DistributedShare {
  paymentId: string;
  /** The member's USDT share in base units (6 decimals). */
  baseUnits: bigint;
  /**
   * The exact proportional share in base units, received × usdNet / Σ usdNet, always written as
   * a reduced fraction "numerator/denominator" (e.g. "100/3", "34/1", "0/1"). One format for every
   * value, so a reader parses it one way and nothing about it is ever rounded.
   */
  exactShare: string;
  /** What the largest-remainder step added to the floor of the exact share: 0n or 1n. */
  roundingBaseUnits: bigint;
}

export interface UsdtDistribution {
  /** One share per member, in the order the members were given. */
  shares: DistributedShare[];
  /** Σ baseUnits — always equal to the received amount. */
  totalBaseUnits: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

function reducedFraction(numerator: bigint, denominator: bigint): string {
  const divisor = gcd(numerator, denominator);
  // gcd(0, d) = d, so a zero share prints as "0/1".
  return `${numerator / divisor}/${denominator / divisor}`;
}

function usdWeight(member: DistributionMember): bigint {
  const { paymentId, usdNet } = member;
  assertInvariant(usdNet.isFinite() && usdNet.gt(0), 'distribution member usdNet must be a positive finite amount', { paymentId, usdNet: usdNet.toString() });
  assertInvariant(usdNet.decimalPlaces() <= usdScale, `distribution member usdNet has more than ${usdScale} decimals`, { paymentId, usdNet: usdNet.toString() });
  // USD values carry at most usdScale decimals, so in units of 10^-usdScale they are exact integers.
  return toBaseUnits(usdNet, usdScale);
}

/** Splits `receivedBaseUnits` across `members` by largest remainder; pure and deterministic. */
export function distributeUsdt(receivedBaseUnits: bigint, members: readonly DistributionMember[]): UsdtDistribution {
  assertInvariant(receivedBaseUnits >= 0n, 'received USDT base units must not be negative', { receivedBaseUnits: receivedBaseUnits.toString() });
  assertInvariant(members.length > 0, 'a distribution needs at least one member');
  const seen = new Set<string>();
  for (const { paymentId } of members) {
    assertInvariant(!seen.has(paymentId), 'distribution member paymentIds must be unique', { paymentId });
    seen.add(paymentId);
  }

  const weights = members.map(usdWeight);
  const totalWeight = weights.reduce((sum, weight) => sum + weight, 0n);

  const parts = members.map((member, index) => {
    const weight = weights[index] ?? 0n;
    const numerator = receivedBaseUnits * weight;
    return { paymentId: member.paymentId, weight, numerator, floor: numerator / totalWeight, remainder: numerator % totalWeight };
  });
  const floorsTotal = parts.reduce((sum, part) => sum + part.floor, 0n);
  const leftover = receivedBaseUnits - floorsTotal;

  // Rank by remainder, then the tie rule, so the +1 units land the same way whatever the input order.
  const ranked = [...parts].sort((a, b) => {
    if (a.remainder !== b.remainder) return a.remainder > b.remainder ? -1 : 1;
    if (a.weight !== b.weight) return a.weight > b.weight ? -1 : 1;
    return a.paymentId < b.paymentId ? -1 : a.paymentId > b.paymentId ? 1 : 0;
  });
  const roundedUp = new Set(ranked.slice(0, Number(leftover)).map((part) => part.paymentId));

  const shares = parts.map((part): DistributedShare => {
    const roundingBaseUnits = roundedUp.has(part.paymentId) ? 1n : 0n;
    return { paymentId: part.paymentId, baseUnits: part.floor + roundingBaseUnits, exactShare: reducedFraction(part.numerator, totalWeight), roundingBaseUnits };
  });
  const totalBaseUnits = shares.reduce((sum, share) => sum + share.baseUnits, 0n);

  // Invariant 3 and the step-5 promises, checked on the result itself rather than trusted.
  assertInvariant(leftover >= 0n && leftover < BigInt(members.length), 'largest-remainder leftover out of range', { leftover: leftover.toString(), members: members.length });
  assertInvariant(totalBaseUnits === receivedBaseUnits, 'distributed shares do not sum to the USDT received', { totalBaseUnits: totalBaseUnits.toString(), receivedBaseUnits: receivedBaseUnits.toString() });
  shares.forEach((share, index) => {
    const part = parts[index];
    assertInvariant(part !== undefined && share.baseUnits >= 0n, 'distributed share is negative', { paymentId: share.paymentId, baseUnits: share.baseUnits.toString() });
    // |share − numerator/W| < 1  ⇔  |share × W − numerator| < W, all in integers.
    const deviation = share.baseUnits * totalWeight - part.numerator;
    assertInvariant(deviation > -totalWeight && deviation < totalWeight, 'distributed share is a full base unit or more away from its exact share', { paymentId: share.paymentId, baseUnits: share.baseUnits.toString(), exactShare: share.exactShare });
  });

  return { shares, totalBaseUnits };
}
