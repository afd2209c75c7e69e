// Builds NOWPayments IPN bodies the way NOWPayments sends them (amounts as JSON numbers) and posts
// them signed, so tests exercise the webhook exactly through its HTTP interface.
import { randomInt } from 'node:crypto';
import { LosslessNumber, parse, stringify } from 'lossless-json';
import { signIpn } from '../../processors/webhook/ipn-signature.ts';
import { formatOrderId } from '../../processors/webhook/order-id.ts';

export const testIpnSecret = 'test-ipn-secret-0123456789';

let sequence = 0;

/** A payment id no other test in this run uses (NOWPayments ids are 10–11 digits). */
export function uniquePaymentId(): string {
  sequence += 1;
  return `${randomInt(1_000_000, 9_999_999)}${String(sequence).padStart(4, '0')}`;
}

export function uniqueClientId(): string {
  return `-100${randomInt(1_000_000_000, 9_999_999_999)}`;
}

const number = (text: string): LosslessNumber => new LosslessNumber(text);

export interface IpnFields {
  [field: string]: unknown;
}

/** A finished $50 payment that yielded 0.021087 ETH, with a fresh payment id and client id. */
export function finishedIpn(overrides: IpnFields = {}): IpnFields {
  const fields: IpnFields = {
    payment_id: number(uniquePaymentId()),
    invoice_id: number('4522625843'),
    payment_status: 'finished',
    pay_address: '0x9F4d8A2c6b3E1f7a5D0c2B8e4F6a1C3d5E7f9A0b',
    price_amount: number('50'),
    price_currency: 'usd',
    pay_amount: number('0.0213'),
    actually_paid: number('0.0213'),
    actually_paid_at_fiat: number('0'),
    pay_currency: 'eth',
    order_id: formatOrderId({ clientId: uniqueClientId(), userId: '6271402111', subscriptionId: '42' }),
    order_description: 'Monthly subscription',
    purchase_id: number('5837122679'),
    outcome_amount: number('0.021087'),
    outcome_currency: 'eth',
    payin_extra_id: null,
    fee: { currency: 'eth', depositFee: number('0'), withdrawalFee: number('0.0002'), serviceFee: number('0.0001') },
    created_at: '2026-11-20T14:22:54.942Z',
    updated_at: '2026-11-20T14:23:06.244Z',
  };
  for (const [field, value] of Object.entries(overrides)) {
    if (value === undefined) delete fields[field];
    else fields[field] = value;
  }
  return fields;
}

export { number as jsonNumber };

export function ipnText(fields: IpnFields): string {
  return stringify(fields) ?? '';
}

export function paymentIdOf(fields: IpnFields): string {
  return String(fields['payment_id']);
}

export function clientIdOf(fields: IpnFields): string {
  return String(fields['order_id']).split('|')[1] ?? '';
}

export interface PostOptions {
  secret?: string;
  /** An explicit header value, or null to send none. */
  signature?: string | null;
  contentType?: string;
  correlationId?: string;
  /** Sign this text instead of the one sent (a tampered body). */
  signedText?: string;
}

export async function postIpnText(baseUrl: string, bodyText: string, options: PostOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json' };
  if (options.signature !== null) {
    headers['x-nowpayments-sig'] = options.signature ?? signIpn(parse(options.signedText ?? bodyText), options.secret ?? testIpnSecret);
  }
  if (options.correlationId !== undefined) headers['x-correlation-id'] = options.correlationId;
  return fetch(`${baseUrl}/webhooks/nowpayments`, { method: 'POST', headers, body: bodyText });
}

export function postIpn(baseUrl: string, fields: IpnFields, options: PostOptions = {}): Promise<Response> {
  return postIpnText(baseUrl, ipnText(fields), options);
}
