// The subscription bot creates every NOWPayments invoice with an order_id that says who is paid
// and for what, in one format, version-tagged so it can evolve:
//
//   PP1|<client_id>|<user_id>|<subscription_id>
//
//   client_id        the merchant's Telegram channel id: optional minus sign, 1–14 digits
//   user_id          the paying Telegram user id: 1–20 digits
//   subscription_id  the subscription paid for: 1–20 digits
//
// Anything else is rejected: a payment we cannot attribute must be fixed at the source, not guessed.
import { ValidationError } from '../../core/errors.ts';

export interface OrderReference {
  clientId: string;
  userId: string;
  subscriptionId: string;
}

const orderIdPattern = /^PP1\|(-?[0-9]{1,14})\|([0-9]{1,20})\|([0-9]{1,20})$/;

export const orderIdFormat = 'PP1|<client_id>|<user_id>|<subscription_id>';

export function parseOrderId(orderId: string): OrderReference {
  const match = orderIdPattern.exec(orderId);
  if (match === null) {
    throw new ValidationError('order_id', `format ${orderIdFormat}`, `order_id must look like ${orderIdFormat}`);
  }
  const [, clientId, userId, subscriptionId] = match as unknown as [string, string, string, string];
  return { clientId, userId, subscriptionId };
}

export function formatOrderId(reference: OrderReference): string {
  return `PP1|${reference.clientId}|${reference.userId}|${reference.subscriptionId}`;
}
