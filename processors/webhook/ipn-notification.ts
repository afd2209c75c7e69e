// Validation of a NOWPayments IPN body into a typed notification. Pure: no I/O, no clock.
// Amounts arrive as JSON numbers or strings; both are read from their exact text (the body was
// parsed with lossless-json), never through a JS number. Every rejection names the field and rule.
import { z } from 'zod';
import { isLosslessNumber } from 'lossless-json';
import { Decimal, plainDecimalPattern } from '../../core/money.ts';
import { ValidationError } from '../../core/errors.ts';
import { parseOrderId, orderIdFormat, type OrderReference } from './order-id.ts';

export const paymentStatuses = [
  'waiting',
  'confirming',
  'confirmed',
  'sending',
  'partially_paid',
  'finished',
  'failed',
  'refunded',
  'expired',
] as const;
export type PaymentStatus = (typeof paymentStatuses)[number];

export interface IpnNotification {
  paymentId: string;
  paymentStatus: PaymentStatus;
  payAddress: string;
  priceAmount: Decimal;
  priceCurrency: 'usd';
  payAmount: Decimal | null;
  actuallyPaid: Decimal | null;
  payCurrency: string;
  orderId: string;
  order: OrderReference;
  orderDescription: string | null;
  purchaseId: string | null;
  outcomeAmount: Decimal | null;
  outcomeCurrency: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface IpnLimits {
  /** Largest price_amount accepted; anything above is treated as a mistake, not a payment. */
  usdAmountMax: Decimal;
}

/** Decimal places the Avro records and NUMERIC columns hold; more would have to be rounded. */
export const usdScale = 8;
export const cryptoScale = 18;

function textOfNumber(value: unknown): unknown {
  return isLosslessNumber(value) ? value.value : value;
}

function decimalField(scale: number) {
  return z.preprocess(
    textOfNumber,
    z
      .string({ invalid_type_error: 'must be a decimal number or string' })
      .regex(plainDecimalPattern, 'must be a plain non-negative decimal (digits, optional point)')
      .transform((text) => new Decimal(text))
      .refine((value) => value.decimalPlaces() <= scale, `at most ${scale} decimal places`),
  );
}

const idField = z.preprocess(
  textOfNumber,
  z.string({ invalid_type_error: 'must be a number or string' }).regex(/^[0-9]{1,20}$/, 'must be 1–20 digits'),
);

const tickerField = z
  .string()
  .transform((text) => text.toLowerCase())
  .pipe(z.string().regex(/^[a-z0-9]{2,15}$/, 'must be a currency ticker (2–15 letters or digits)'));

const timestampField = z.preprocess(
  textOfNumber,
  z
    .string({ invalid_type_error: 'must be an ISO-8601 timestamp or epoch milliseconds' })
    .transform((text) => (/^[0-9]{1,15}$/.test(text) ? new Date(Number(text)) : new Date(text)))
    .refine((date) => !Number.isNaN(date.getTime()), 'must be an ISO-8601 timestamp or epoch milliseconds'),
);

const optionalText = (maxLength: number) => z.string().max(maxLength, `at most ${maxLength} characters`).nullish();

const ipnBodySchema = z
  .object({
    payment_id: idField,
    payment_status: z.enum(paymentStatuses, {
      errorMap: () => ({ message: `must be one of ${paymentStatuses.join(', ')}` }),
    }),
    pay_address: z.string().min(1, 'must not be empty').max(200, 'at most 200 characters'),
    price_amount: decimalField(usdScale),
    price_currency: z
      .string()
      .transform((text) => text.toLowerCase())
      .pipe(z.literal('usd', { errorMap: () => ({ message: 'must be usd (prices are set in USD)' }) })),
    pay_amount: decimalField(cryptoScale).nullish(),
    actually_paid: decimalField(cryptoScale).nullish(),
    pay_currency: tickerField,
    order_id: z.string().max(100, 'at most 100 characters'),
    order_description: optionalText(500),
    purchase_id: z.preprocess(textOfNumber, optionalText(64)),
    outcome_amount: decimalField(cryptoScale).nullish(),
    outcome_currency: tickerField.nullish(),
    created_at: timestampField,
    updated_at: timestampField,
  })
  // NOWPayments adds fields over time (fee, invoice_id, …): unknown fields are allowed and ignored.
  .passthrough();

export interface ValidationProblem {
  field: string;
  rule: string;
}

export class IpnValidationError extends ValidationError {
  readonly problems: readonly ValidationProblem[];

  constructor(problems: readonly ValidationProblem[]) {
    const first = problems[0] ?? { field: 'body', rule: 'must be an IPN object' };
    super(first.field, first.rule, problems.map((problem) => `${problem.field}: ${problem.rule}`).join('; '));
    this.problems = problems;
  }
}

function problem(field: string, rule: string): IpnValidationError {
  return new IpnValidationError([{ field, rule }]);
}

export function validateIpn(body: unknown, limits: IpnLimits): IpnNotification {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw problem('body', 'must be a JSON object');
  }
  const parsed = ipnBodySchema.safeParse(body);
  if (!parsed.success) {
    throw new IpnValidationError(
      parsed.error.issues.map((issue) => ({
        field: issue.path.join('.') || 'body',
        rule: issue.code === 'invalid_type' && issue.received === 'undefined' ? 'is required' : issue.message,
      })),
    );
  }
  const fields = parsed.data;

  let order: OrderReference;
  try {
    order = parseOrderId(fields.order_id);
  } catch {
    throw problem('order_id', `must have the format ${orderIdFormat}`);
  }
  if (fields.price_amount.isZero()) throw problem('price_amount', 'must be greater than 0');
  if (fields.price_amount.greaterThan(limits.usdAmountMax)) {
    throw problem('price_amount', `must be at most ${limits.usdAmountMax.toString()} USD`);
  }

  const notification: IpnNotification = {
    paymentId: fields.payment_id,
    paymentStatus: fields.payment_status,
    payAddress: fields.pay_address,
    priceAmount: fields.price_amount,
    priceCurrency: 'usd',
    payAmount: fields.pay_amount ?? null,
    actuallyPaid: fields.actually_paid ?? null,
    payCurrency: fields.pay_currency,
    orderId: fields.order_id,
    order,
    orderDescription: fields.order_description ?? null,
    purchaseId: fields.purchase_id ?? null,
    outcomeAmount: fields.outcome_amount ?? null,
    outcomeCurrency: fields.outcome_currency ?? null,
    createdAt: fields.created_at,
    updatedAt: fields.updated_at,
  };
  if (notification.paymentStatus === 'finished') assertSettled(notification);
  return notification;
}

/** A finished payment moves money, so the amounts that are optional before it become mandatory. */
function assertSettled(notification: IpnNotification): void {
  if (notification.outcomeAmount === null || notification.outcomeAmount.isZero()) {
    throw problem('outcome_amount', 'must be greater than 0 for a finished payment');
  }
  if (notification.outcomeCurrency !== 'eth') {
    throw problem('outcome_currency', 'must be eth for a finished payment (the platform settles in ETH)');
  }
  if (notification.actuallyPaid === null || notification.actuallyPaid.isZero()) {
    throw problem('actually_paid', 'must be greater than 0 for a finished payment');
  }
}
