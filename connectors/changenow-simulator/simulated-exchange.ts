// One exchange as the simulator keeps it, the API view of it (GET /v2/exchange/by-id), and — pure —
// the steps it goes through once its deposit has arrived.
//
// ChangeNow's lifecycle: `new` on creation, `waiting` for the deposit, `confirming` once it is seen
// on chain, `exchanging`, `sending`, then `finished` with the amount sent and its hash. Off the
// happy path: `failed` (nothing is sent), `refunded` (the deposit goes back, to the refund address
// or else to the sender), and `verifying` (held for a check, then it carries on).
import type { Decimal } from '../../core/money.ts';
import type { ResolvedPair } from './exchange-quote.ts';

export const exchangeStatuses = ['new', 'waiting', 'confirming', 'exchanging', 'sending', 'finished', 'failed', 'refunded', 'verifying'] as const;
export type ExchangeStatus = (typeof exchangeStatuses)[number];

export function isTerminal(status: ExchangeStatus): boolean {
  return status === 'finished' || status === 'failed' || status === 'refunded';
}

export type PlannedOutcomeKind = 'failed' | 'refunded' | 'verifying';

export interface PlannedOutcome {
  readonly outcome: PlannedOutcomeKind;
  readonly reason: string | null;
  /** How long `verifying` lasts before the exchange carries on. */
  readonly verifyingMs: number;
}

export interface SimulatedExchange {
  readonly id: string;
  readonly pair: ResolvedPair;
  status: ExchangeStatus;
  readonly expectedAmountFrom: Decimal;
  readonly expectedAmountTo: Decimal;
  amountFrom: Decimal | null;
  amountTo: Decimal | null;
  readonly payinAddress: string;
  readonly payoutAddress: string;
  readonly refundAddress: string | null;
  readonly userId: string | null;
  readonly payload: Readonly<Record<string, unknown>> | null;
  readonly createdAt: Date;
  updatedAt: Date;
  depositReceivedAt: Date | null;
  payinHash: string | null;
  /** Who paid in: where a refund goes when no refund address was given. */
  payinSender: string | null;
  payoutHash: string | null;
  refundHash: string | null;
  refundAmount: Decimal | null;
  /** Deposits in blocks after this one count; an older transfer to a reused address never does. */
  readonly depositAfterBlock: number;
  readonly plannedOutcome: PlannedOutcome | null;
  /** Why it failed or was refunded, for the control API's records. */
  endReason: string | null;
  /** Every status it took, in order, so tests can assert the whole path. */
  readonly statusHistory: ExchangeStatus[];
}

/** The exchange exactly as GET /v2/exchange/by-id and GET /v2/exchanges show it. */
export function exchangeView(exchange: SimulatedExchange): Record<string, unknown> {
  return {
    id: exchange.id,
    status: exchange.status,
    actionsAvailable: false,
    fromCurrency: exchange.pair.from.currency,
    fromNetwork: exchange.pair.from.network,
    toCurrency: exchange.pair.to.currency,
    toNetwork: exchange.pair.to.network,
    expectedAmountFrom: exchange.expectedAmountFrom,
    expectedAmountTo: exchange.expectedAmountTo,
    amountFrom: exchange.amountFrom,
    amountTo: exchange.amountTo,
    payinAddress: exchange.payinAddress,
    payoutAddress: exchange.payoutAddress,
    payinExtraId: null,
    payoutExtraId: null,
    refundAddress: exchange.refundAddress,
    refundExtraId: null,
    createdAt: exchange.createdAt.toISOString(),
    updatedAt: exchange.updatedAt.toISOString(),
    depositReceivedAt: exchange.depositReceivedAt?.toISOString() ?? null,
    payinHash: exchange.payinHash,
    payoutHash: exchange.payoutHash,
    refundHash: exchange.refundHash,
    refundAmount: exchange.refundAmount,
    userId: exchange.userId,
    payload: exchange.payload,
  };
}

/** The simulator's own record for tests: the API view plus what it planned, its path and why it ended. */
export function exchangeRecordView(exchange: SimulatedExchange): Record<string, unknown> {
  return {
    ...exchangeView(exchange),
    payinSender: exchange.payinSender,
    plannedOutcome: exchange.plannedOutcome,
    endReason: exchange.endReason,
    statusHistory: exchange.statusHistory,
  };
}

export type LifecycleStep =
  | { readonly kind: 'status'; readonly status: ExchangeStatus }
  | { readonly kind: 'wait'; readonly ms: number }
  /** Send amountTo to the payout address, then `finished`. */
  | { readonly kind: 'payout' }
  /** Send the deposit back, then `refunded`. */
  | { readonly kind: 'refund'; readonly reason: string }
  | { readonly kind: 'fail'; readonly reason: string };

export interface DepositFacts {
  readonly plannedOutcome: PlannedOutcome | null;
  /** Why the deposit cannot be exchanged (below the minimum, converts to nothing); null if it can. */
  readonly depositProblem: string | null;
  readonly stepDelayMs: number;
}

/** What happens after the deposit was seen, in order; `confirming` is set when it is seen. */
export function lifecycleAfterDeposit(facts: DepositFacts): LifecycleStep[] {
  const step: LifecycleStep = { kind: 'wait', ms: facts.stepDelayMs };
  const planned = facts.plannedOutcome;
  const steps: LifecycleStep[] = [{ kind: 'status', status: 'confirming' }, step];
  if (planned?.outcome === 'verifying') steps.push({ kind: 'status', status: 'verifying' }, { kind: 'wait', ms: planned.verifyingMs });
  steps.push({ kind: 'status', status: 'exchanging' }, step);
  if (facts.depositProblem !== null) return [...steps, { kind: 'refund', reason: facts.depositProblem }];
  if (planned?.outcome === 'failed') return [...steps, { kind: 'fail', reason: planned.reason ?? 'failed on request (simulator outcome)' }];
  if (planned?.outcome === 'refunded') return [...steps, { kind: 'refund', reason: planned.reason ?? 'refunded on request (simulator outcome)' }];
  return [...steps, { kind: 'status', status: 'sending' }, step, { kind: 'payout' }];
}
