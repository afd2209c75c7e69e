// The rules a PaymentReceived must keep before the router writes it to the ledger. The webhook
// enforces them at the door, but a record can also come from an operator re-producing one by hand
// or from a future producer; a record that breaks one becomes a dead letter with the rule named,
// because a CHECK violation or a fee assertion inside the chunk's transaction would fail the chunk
// again and again — a stuck partition.
import { Decimal, ethScale, usdScale } from '../../core/money.ts';
import type { PaymentReceived } from '../../schemas/generated/records.ts';
// The clients table's CHECK: a payment under any other client id could never be routed.
import { clientIdPattern } from '../../core/client-payout-config.ts';
import { integerDigitsMax, splitFee } from './platform-fee.ts';

export interface RuleViolation {
  readonly field: string;
  readonly rule: string;
  readonly reason: string;
}

/** What routing needs of a payment; a whole PaymentReceived fits. */
export type PaymentFacts = Pick<
  PaymentReceived,
  'payment_id' | 'client_id' | 'user_id' | 'subscription_id' | 'usd_amount' | 'eth_amount' | 'paid_at' | 'received_at'
>;

const paymentIdPattern = /^[0-9]{1,30}$/;
/** The smallest positive amount with more than integerDigitsMax integer digits. */
const integerLimit = new Decimal(10).pow(integerDigitsMax);

function amountViolation(field: string, amount: Decimal, scale: number, feePercent: Decimal): RuleViolation | null {
  if (!amount.isFinite() || amount.lte(0)) {
    return { field, rule: 'positive', reason: `${field} must be positive, got ${amount.toFixed()}` };
  }
  if (amount.decimalPlaces() > scale) {
    return { field, rule: 'scale', reason: `${field} has ${amount.decimalPlaces()} decimals; the ledger holds ${scale}` };
  }
  if (amount.gte(integerLimit)) {
    return { field, rule: 'precision', reason: `${field} has more than ${integerDigitsMax} integer digits; the ledger cannot hold it` };
  }
  if (splitFee(amount, feePercent, scale).net.lte(0)) {
    return { field, rule: 'net-positive', reason: `${field} ${amount.toFixed()} is too small to carry a ${feePercent.toFixed()}% platform fee` };
  }
  return null;
}

function isValidDate(value: Date): boolean {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/** The first rule the payment breaks, or null when the ledger can take it as it is. */
export function paymentViolation(payment: PaymentFacts, feePercent: Decimal): RuleViolation | null {
  if (!paymentIdPattern.test(payment.payment_id)) {
    return { field: 'payment_id', rule: 'payment-id', reason: `payment_id "${payment.payment_id}" is not 1–30 digits` };
  }
  if (!clientIdPattern.test(payment.client_id)) {
    return { field: 'client_id', rule: 'client-id', reason: `client_id "${payment.client_id}" can never be a registered client` };
  }
  if (payment.user_id === '' || payment.subscription_id === '') {
    return { field: payment.user_id === '' ? 'user_id' : 'subscription_id', rule: 'present', reason: 'user_id and subscription_id are required' };
  }
  const usd = amountViolation('usd_amount', payment.usd_amount, usdScale, feePercent);
  if (usd !== null) return usd;
  const eth = amountViolation('eth_amount', payment.eth_amount, ethScale, feePercent);
  if (eth !== null) return eth;
  if (!isValidDate(payment.paid_at)) return { field: 'paid_at', rule: 'timestamp', reason: 'paid_at is not a valid time' };
  if (!isValidDate(payment.received_at)) return { field: 'received_at', rule: 'timestamp', reason: 'received_at is not a valid time' };
  return null;
}
