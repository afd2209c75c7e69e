// A finished IPN becomes the PaymentReceived record the rest of the pipeline consumes.
import type { PaymentReceived } from '../../schemas/generated/records.ts';
import { assertInvariant } from '../../core/errors.ts';
import type { IpnNotification } from './ipn-notification.ts';

export function toPaymentReceived(notification: IpnNotification, receivedAt: Date): PaymentReceived {
  assertInvariant(notification.paymentStatus === 'finished', 'only finished payments become records', {
    paymentId: notification.paymentId,
  });
  assertInvariant(notification.outcomeAmount !== null && notification.actuallyPaid !== null, 'settled amounts present');
  return {
    payment_id: notification.paymentId,
    client_id: notification.order.clientId,
    user_id: notification.order.userId,
    subscription_id: notification.order.subscriptionId,
    order_id: notification.orderId,
    order_description: notification.orderDescription,
    usd_amount: notification.priceAmount,
    eth_amount: notification.outcomeAmount,
    pay_currency: notification.payCurrency,
    actually_paid: notification.actuallyPaid,
    pay_address: notification.payAddress,
    purchase_id: notification.purchaseId,
    paid_at: notification.updatedAt,
    received_at: receivedAt,
  };
}
