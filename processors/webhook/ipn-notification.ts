// Validation of a NOWPayments IPN body into a typed notification. Pure: no I/O; the clock is an
// argument. Amounts arrive as JSON numbers or strings; both are read from their exact text (the
// body was parsed with lossless-json), never through a JS number. Every rejection names the field
// and rule. Each accepted field fits the narrowest place it is stored downstream — the Avro
// PaymentReceived record, whose decimal bounds are read from its schema, and PostgreSQL's
// timestamptz and text — so an accepted IPN can never fail later in the producer or the router.
import { z } from 'zod';
import { isLosslessNumber } from 'lossless-json';
import type avro from 'avsc';
import { Decimal, plainDecimalPattern } from '../../core/money.ts';
import { assertInvariant, ValidationError } from '../../core/errors.ts';
import { DecimalType, parseAvroSchema } from '../../schemas/logical-types.ts';
import { paymentReceivedSchema } from '../../schemas/generated/records.ts';
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
  /** Earliest created_at / updated_at accepted (NOWPayments and ETH payments did not exist before). */
  timestampEarliest: Date;
  /** How far past the receiver's clock a timestamp may be (clock skew), in milliseconds. */
  timestampFutureToleranceMs: number;
}

/** The defaults of IPN_TIMESTAMP_EARLIEST and IPN_TIMESTAMP_FUTURE_TOLERANCE. */
export const defaultTimestampEarliest = '2009-01-01T00:00:00Z';

// The amount bounds come from the one definition of the record the IPN becomes: the decimal types
// of schemas/avro/payment-received.avsc (its NUMERIC columns in PostgreSQL mirror them).
const paymentReceivedType = parseAvroSchema(paymentReceivedSchema) as avro.types.RecordType;

function decimalTypeOf(field: string): DecimalType {
  const type = paymentReceivedType.field(field)?.type;
  assertInvariant(type instanceof DecimalType, `PaymentReceived.${field} is an Avro decimal`, { field });
  return type;
}

const usdAmountType = decimalTypeOf('usd_amount');
const ethAmountType = decimalTypeOf('eth_amount');
const actuallyPaidType = decimalTypeOf('actually_paid');

function textOfNumber(value: unknown): unknown {
  return isLosslessNumber(value) ? value.value : value;
}

/** A plain non-negative decimal that the given Avro decimal holds exactly, without rounding. */
function decimalField(type: DecimalType) {
  const integerDigitsMax = type.precision - type.scale;
  return z.preprocess(
    textOfNumber,
    z
      .string({ invalid_type_error: 'must be a decimal number or string' })
      .regex(plainDecimalPattern, 'must be a plain non-negative decimal (digits, optional point)')
      .transform((text) => new Decimal(text))
      .refine((value) => value.decimalPlaces() <= type.scale, `at most ${type.scale} decimal places`)
      .refine((value) => value.isZero() || value.e + 1 <= integerDigitsMax, `at most ${integerDigitsMax} digits before the decimal point`),
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

const timestampRule = 'must be an ISO-8601 date-time with a zone (2026-11-20T14:23:06.244Z) or epoch milliseconds';
const isoTimestampPattern = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(Z|[+-][0-9]{2}:[0-9]{2})$/;

/**
 * Strict ISO-8601 (RFC 3339: a date, a time and a zone) or epoch milliseconds of up to 13 digits.
 * Every component is range-checked and the date must exist: `Date` itself would take "-1" as a
 * year 2001 and roll 30 February over into March.
 */
export function parseIpnTimestamp(text: string): Date | null {
  if (/^[0-9]{1,13}$/.test(text)) return new Date(Number(text));
  const match = isoTimestampPattern.exec(text);
  if (match === null) return null;
  const [, year, month, day, hour, minute, second, fraction = '', zone = 'Z'] = match.map((part: string | undefined) => part ?? '');
  const [y, mo, d, h, mi, s] = [year, month, day, hour, minute, second].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  if (d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) return null;
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const [zoneHours, zoneMinutes] = zone.slice(1).split(':').map(Number) as [number, number];
    if (zoneHours > 23 || zoneMinutes > 59) return null;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (zoneHours * 60 + zoneMinutes);
  }
  const utc = new Date(Date.UTC(y, mo - 1, d, h, mi, s, Number(fraction.padEnd(3, '0').slice(0, 3))));
  // Date.UTC maps years 0–99 onto 1900–1999; the window below refuses those years anyway, but the
  // date built must be the one written.
  utc.setUTCFullYear(y, mo - 1, d);
  return new Date(utc.getTime() - offsetMinutes * 60_000);
}

/** Parses only: the window depends on the receiver's clock and is checked after the schema (see validateIpn). */
const timestampField = z.preprocess(
  textOfNumber,
  z
    .string({ invalid_type_error: timestampRule })
    .max(40, timestampRule)
    .transform((text, context) => {
      const date = parseIpnTimestamp(text);
      if (date === null) {
        context.addIssue({ code: z.ZodIssueCode.custom, message: timestampRule });
        return z.NEVER;
      }
      return date;
    }),
);

const timestampFields = ['created_at', 'updated_at'] as const;

// PostgreSQL text cannot hold U+0000, and a lone UTF-16 surrogate has no UTF-8 form: either would
// be silently changed or refused further down, so neither is accepted in a text we keep.
const unpairedSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const storableRule = 'must not contain U+0000 or unpaired surrogates';
const storableText = (maxLength: number) =>
  z
    .string()
    .max(maxLength, `at most ${maxLength} characters`)
    .refine((text) => !text.includes('\u0000') && !unpairedSurrogate.test(text), storableRule);

const optionalText = (maxLength: number) => storableText(maxLength).nullish();

// Built once: the schema holds no per-request state (the timestamps' window is checked after it),
// and building a zod schema per request cost more CPU than validating with it.
const ipnBodySchema = z
  .object({
    payment_id: idField,
    payment_status: z.enum(paymentStatuses, {
      errorMap: () => ({ message: `must be one of ${paymentStatuses.join(', ')}` }),
    }),
    pay_address: storableText(200).pipe(z.string().min(1, 'must not be empty')),
    price_amount: decimalField(usdAmountType),
    price_currency: z
      .string()
      .transform((text) => text.toLowerCase())
      .pipe(z.literal('usd', { errorMap: () => ({ message: 'must be usd (prices are set in USD)' }) })),
    // pay_amount is in no record; it is held to the same bounds as the amount paid it describes.
    pay_amount: decimalField(actuallyPaidType).nullish(),
    actually_paid: decimalField(actuallyPaidType).nullish(),
    pay_currency: tickerField,
    order_id: z.string().max(100, 'at most 100 characters'),
    order_description: optionalText(500),
    purchase_id: z.preprocess(textOfNumber, optionalText(64)),
    outcome_amount: decimalField(ethAmountType).nullish(),
    outcome_currency: tickerField.nullish(),
    created_at: timestampField,
    updated_at: timestampField,
  })
  // NOWPayments adds fields over time (fee, invoice_id, …): unknown fields are allowed and ignored.
  .passthrough();

const schemaFieldOrder: ReadonlyMap<string, number> = new Map(Object.keys(ipnBodySchema.shape).map((field, index) => [field, index]));

/**
 * The timestamps that parse but lie outside [earliest, now + tolerance], as problems. `parsed` is
 * the schema's output when the whole body passed it (no timestamp is parsed twice on the hot path).
 */
function timestampWindowProblems(body: object, parsed: Partial<Record<(typeof timestampFields)[number], Date>> | undefined, limits: IpnLimits, now: Date): ValidationProblem[] {
  const earliest = limits.timestampEarliest;
  const latest = new Date(now.getTime() + limits.timestampFutureToleranceMs);
  const outside = (date: Date): boolean => date < earliest || date > latest;
  const problems: ValidationProblem[] = [];
  for (const field of timestampFields) {
    let date = parsed?.[field];
    if (date === undefined) {
      const alone = timestampField.safeParse(Reflect.get(body, field));
      if (alone.success) date = alone.data;
    }
    if (date !== undefined && outside(date)) problems.push({ field, rule: `must be between ${earliest.toISOString()} and ${latest.toISOString()}` });
  }
  return problems;
}

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

/** `now` is the receiver's clock: timestamps may be at most limits.timestampFutureToleranceMs past it. */
export function validateIpn(body: unknown, limits: IpnLimits, now: Date): IpnNotification {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || isLosslessNumber(body)) {
    throw problem('body', 'must be a JSON object');
  }
  const parsed = ipnBodySchema.safeParse(body);
  const problems: ValidationProblem[] = [
    ...(parsed.success
      ? []
      : parsed.error.issues.map((issue) => ({
          field: issue.path.join('.') || 'body',
          rule: issue.code === 'invalid_type' && issue.received === 'undefined' ? 'is required' : issue.message,
        }))),
    ...timestampWindowProblems(body, parsed.success ? parsed.data : undefined, limits, now),
  ];
  if (!parsed.success || problems.length > 0) {
    // In the schema's field order, as one schema with the window inside it reported them.
    const orderOf = (field: string): number => schemaFieldOrder.get(field) ?? -1;
    throw new IpnValidationError([...problems].sort((left, right) => orderOf(left.field) - orderOf(right.field)));
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
