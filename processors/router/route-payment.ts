// The router's decision for one payment, with no I/O: which ledger row it becomes, and for an
// instant client the payout batch and the PayoutRequested command that go with it. The shell
// (start-router.ts) only loads the inputs and writes the outputs, so every rule about money lives
// here where tests can reach it without a stack.
import type { NewInstantPayoutBatch } from '../settlement/instant-payout-batches.ts';
import type { Decimal } from '../../core/money.ts';
import { assertInvariant } from '../../core/errors.ts';
import type { PayoutRequested } from '../../schemas/generated/records.ts';
import { effectiveWalletOf } from '../../core/client-payout-config.ts';
import { applyPlatformFee } from './platform-fee.ts';
import type { ClientPayoutRow } from '../../core/client-payout-config.ts';
import type { PaymentFacts } from './payment-rules.ts';

export type LedgerState = 'unroutable' | 'pending_conversion' | 'instant_payout';

/** A payment_ledger row as the router writes it (conversion_batch_id stays NULL). */
export interface LedgerEntry {
  readonly payment_id: string;
  readonly client_id: string;
  readonly user_id: string;
  readonly subscription_id: string;
  readonly state: LedgerState;
  readonly fee_percent: Decimal;
  readonly usd_gross: Decimal;
  readonly platform_fee_usd: Decimal;
  readonly usd_net: Decimal;
  readonly eth_gross: Decimal;
  readonly platform_fee_eth: Decimal;
  readonly eth_net: Decimal;
  readonly payout_batch_id: string | null;
  readonly paid_at: Date;
  readonly received_at: Date;
  /** When the payment got its strategy; NULL while unroutable. */
  readonly routed_at: Date | null;
}

/** A payout_batches row for one instant payment. */
/** The batch an instant payment is paid by: its shape is settlement's, which owns payout_batches. */
export type InstantPayoutBatch = NewInstantPayoutBatch;

export type RouteDecision =
  | { readonly outcome: 'unroutable'; readonly ledger: LedgerEntry }
  | { readonly outcome: 'pending_conversion'; readonly ledger: LedgerEntry }
  | { readonly outcome: 'instant_payout'; readonly ledger: LedgerEntry; readonly payoutBatch: InstantPayoutBatch; readonly command: PayoutRequested };

export type RouteOutcome = RouteDecision['outcome'];

export interface RoutePaymentInput {
  readonly payment: PaymentFacts;
  /** The client's configuration in force, or null when the client is not registered. */
  readonly client: ClientPayoutRow | null;
  readonly feePercent: Decimal;
  readonly now: Date;
  /** The payout batch id (and command id) of a payment's instant payout. */
  readonly payoutBatchIdFor: (paymentId: string) => string;
}

/**
 * The default id factory: derived from the payment, not random, so a payment can own at most one
 * instant payout batch whatever runs twice — the batch's primary key refuses a second one, and the
 * connectors, which create at most one exchange per command id, could never be asked twice.
 */
export function instantPayoutBatchIdOf(paymentId: string): string {
  return `instant-${paymentId}`;
}

export function routePayment(input: RoutePaymentInput): RouteDecision {
  const { payment, client, now } = input;
  assertInvariant(client === null || client.client_id === payment.client_id, 'a payment is routed with its own client', {
    paymentId: payment.payment_id,
    clientId: payment.client_id,
  });
  const fee = applyPlatformFee({ usdGross: payment.usd_amount, ethGross: payment.eth_amount, feePercent: input.feePercent });
  const entry = {
    payment_id: payment.payment_id,
    client_id: payment.client_id,
    user_id: payment.user_id,
    subscription_id: payment.subscription_id,
    fee_percent: fee.feePercent,
    usd_gross: fee.usd.gross,
    platform_fee_usd: fee.usd.fee,
    usd_net: fee.usd.net,
    eth_gross: fee.eth.gross,
    platform_fee_eth: fee.eth.fee,
    eth_net: fee.eth.net,
    paid_at: payment.paid_at,
    received_at: payment.received_at,
  };

  if (client === null) {
    return { outcome: 'unroutable', ledger: { ...entry, state: 'unroutable', payout_batch_id: null, routed_at: null } };
  }
  if (client.strategy === 'threshold') {
    return { outcome: 'pending_conversion', ledger: { ...entry, state: 'pending_conversion', payout_batch_id: null, routed_at: now } };
  }

  const batchId = input.payoutBatchIdFor(payment.payment_id);
  const wallet = effectiveWalletOf(client, now);
  const payoutBatch: InstantPayoutBatch = {
    batch_id: batchId,
    client_id: client.client_id,
    reason: 'instant',
    state: 'requested',
    wallet_address: wallet,
    payout_currency: client.payout_currency,
    payout_network: client.payout_network,
    source_currency: 'eth',
    source_amount: fee.eth.net,
    usd_value: fee.usd.net,
    created_at: now,
  };
  const command: PayoutRequested = {
    command_id: batchId,
    payout_batch_id: batchId,
    client_id: client.client_id,
    reason: 'INSTANT',
    from_currency: 'eth',
    from_network: 'eth',
    amount: fee.eth.net,
    usd_value: fee.usd.net,
    to_currency: client.payout_currency,
    to_network: client.payout_network,
    payout_address: wallet,
    requested_at: now,
  };
  return {
    outcome: 'instant_payout',
    ledger: { ...entry, state: 'instant_payout', payout_batch_id: batchId, routed_at: now },
    payoutBatch,
    command,
  };
}

/**
 * Routes a ledger row that waited as `unroutable` for its client to register. The fee is the one
 * recorded when the payment arrived (its own fee_percent), so routing late never changes what the
 * platform took; the decision is otherwise the same as for a fresh payment.
 */
export function routeUnroutable(input: {
  readonly entry: LedgerEntry;
  readonly client: ClientPayoutRow;
  readonly now: Date;
  readonly payoutBatchIdFor: (paymentId: string) => string;
}): RouteDecision {
  const { entry } = input;
  assertInvariant(entry.state === 'unroutable', 'only an unroutable row is routed late', { paymentId: entry.payment_id, state: entry.state });
  const decision = routePayment({
    payment: {
      payment_id: entry.payment_id,
      client_id: entry.client_id,
      user_id: entry.user_id,
      subscription_id: entry.subscription_id,
      usd_amount: entry.usd_gross,
      eth_amount: entry.eth_gross,
      paid_at: entry.paid_at,
      received_at: entry.received_at,
    },
    client: input.client,
    feePercent: entry.fee_percent,
    now: input.now,
    payoutBatchIdFor: input.payoutBatchIdFor,
  });
  assertInvariant(
    decision.ledger.platform_fee_usd.eq(entry.platform_fee_usd) && decision.ledger.platform_fee_eth.eq(entry.platform_fee_eth),
    'routing late keeps the fee recorded on arrival',
    { paymentId: entry.payment_id },
  );
  return decision;
}
