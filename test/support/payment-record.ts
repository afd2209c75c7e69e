// A PaymentReceived record as the webhook would produce it, for tests and benchmarks that put
// payments on the topic directly (bypassing HTTP).
import { Decimal } from '../../core/money.ts';
import type { PaymentReceived } from '../../schemas/generated/records.ts';

export function paymentReceivedRecord(paymentId: string, clientId: string): PaymentReceived {
  return {
    payment_id: paymentId,
    client_id: clientId,
    user_id: '1',
    subscription_id: '1',
    order_id: `PP1|${clientId}|1|1`,
    order_description: null,
    usd_amount: new Decimal('20'),
    eth_amount: new Decimal('0.008'),
    pay_currency: 'eth',
    actually_paid: new Decimal('0.008'),
    pay_address: '0x0',
    purchase_id: null,
    paid_at: new Date('2026-11-20T00:00:00Z'),
    received_at: new Date('2026-11-20T00:00:01Z'),
  };
}
