// What a finished conversion credits (MISSION step 5), with no I/O: the USDT actually received is
// split over the batch's members by largest remainder (usdt-distribution.ts), and each share
// becomes one credit under the payout destination its client has in force when it is credited.
// The shell (conversion-store.ts) loads the inputs and writes the credits in one transaction.
import { assertInvariant } from '../../core/errors.ts';
import { Decimal, fromBaseUnits, toBaseUnits, usdtDetailScale, usdtScale } from '../../core/money.ts';
import { distributeUsdt } from './usdt-distribution.ts';

// USDT amounts are carried as bigint base units (usdtScale) between the exchange and the credits;
// usdt_credits.rounding_applied has usdtDetailScale decimals.

export interface ConversionMember {
  readonly paymentId: string;
  readonly clientId: string;
  readonly usdNet: Decimal;
}

export interface CreditDestination {
  readonly walletAddress: string;
  readonly payoutCurrency: string;
  readonly payoutNetwork: string;
}

export interface PlannedCredit {
  readonly creditId: string;
  readonly paymentId: string;
  readonly clientId: string;
  readonly usdtAmount: Decimal;
  /** "numerator/denominator" in base units, as usdt-distribution.ts writes it. */
  readonly exactShare: string;
  /** usdtAmount − exact share, in USDT, rounded half-even to usdtDetailScale (18) decimals. */
  readonly roundingApplied: Decimal;
  readonly destination: CreditDestination;
}

/** A credit's id is derived from its payment: a payment can be credited once, whatever runs twice. */
export function creditIdOf(paymentId: string): string {
  return `credit-${paymentId}`;
}

/** Exact USDT → base units; undefined when the amount is negative or has more than 6 decimals. */
export function usdtBaseUnitsOf(amount: Decimal): bigint | undefined {
  if (!amount.isFinite() || amount.isNegative() || amount.decimalPlaces() > usdtScale) return undefined;
  return toBaseUnits(amount, usdtScale);
}

export function usdtOfBaseUnits(baseUnits: bigint): Decimal {
  return fromBaseUnits(baseUnits, usdtScale);
}

function roundingOf(baseUnits: bigint, exactShare: string): Decimal {
  const [numerator, denominator] = exactShare.split('/');
  assertInvariant(numerator !== undefined && denominator !== undefined, 'an exact share is a fraction', { exactShare });
  const deviation = baseUnits * BigInt(denominator) - BigInt(numerator);
  return fromBaseUnits(deviation, usdtScale).div(new Decimal(denominator)).toDecimalPlaces(usdtDetailScale);
}

export interface PlanCreditsInput {
  readonly receivedBaseUnits: bigint;
  readonly members: readonly ConversionMember[];
  readonly destinationOf: (clientId: string) => CreditDestination;
}

/** One credit per member; the credits sum to exactly the USDT received. */
export function planCredits(input: PlanCreditsInput): PlannedCredit[] {
  const { receivedBaseUnits, members } = input;
  assertInvariant(receivedBaseUnits > 0n, 'only a conversion that received USDT is credited', { receivedBaseUnits: receivedBaseUnits.toString() });
  const distribution = distributeUsdt(
    receivedBaseUnits,
    members.map((member) => ({ paymentId: member.paymentId, usdNet: member.usdNet })),
  );
  const credits = distribution.shares.map((share, index): PlannedCredit => {
    const member = members[index];
    assertInvariant(member !== undefined && member.paymentId === share.paymentId, 'shares come back in member order');
    return {
      creditId: creditIdOf(member.paymentId),
      paymentId: member.paymentId,
      clientId: member.clientId,
      usdtAmount: usdtOfBaseUnits(share.baseUnits),
      exactShare: share.exactShare,
      roundingApplied: roundingOf(share.baseUnits, share.exactShare),
      destination: input.destinationOf(member.clientId),
    };
  });
  const total = credits.reduce((sum, credit) => sum.plus(credit.usdtAmount), new Decimal(0));
  assertInvariant(total.eq(usdtOfBaseUnits(receivedBaseUnits)), 'credits sum to the USDT received', { total: total.toFixed() });
  return credits;
}
