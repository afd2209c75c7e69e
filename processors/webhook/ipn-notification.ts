// Validation of a NOWPayments IPN body into a typed notification. Pure: no I/O; the clock is an
// argument. Amounts arrive as JSON numbers or strings; both are read from their exact text (the
// body was parsed with lossless-json), never through a JS number. Every rejection names the field
// and rule. Each accepted field fits the narrowest place it is stored downstream — the Avro
// PaymentReceived record, whose decimal bounds are read from its schema, and PostgreSQL's
// timestamptz and text — so an accepted IPN can never fail later in the producer or the router.
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

// The rules below are checked by hand, not by a schema library: zod was the largest share of the
// webhook's own CPU per IPN once the HTTP stack was trimmed (bench/README.md). Each field reports
// the rules it breaks with the same names, in the same order and in the same cases as the zod
// schema it replaced: a field reports every rule it breaks among the checks of one step (a text
// both too long and holding U+0000 names both), but a later step runs only when the earlier
// steps passed (a decimal whose text is not plain is not also checked for its places).

/** The rules a field broke; anything else a reader returns is the field's value. */
class Broken {
  constructor(readonly rules: readonly string[]) {}
}

const required = new Broken(['is required']);

/** How a value's type is named in "Expected string, received …" (zod's names for it). */
function typeNameOf(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Number.isNaN(value) ? 'nan' : 'number';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return 'array';
      const { then, catch: onRejected } = value as { then?: unknown; catch?: unknown };
      if (typeof then === 'function' && typeof onRejected === 'function') return 'promise';
      if (value instanceof Map) return 'map';
      if (value instanceof Set) return 'set';
      if (value instanceof Date) return 'date';
      return 'object';
    }
    default:
      return typeof value;
  }
}

/** A text, or "is required" when absent, or `typeRule` for any other type. */
function textOf(value: unknown, typeRule?: string): string | Broken {
  if (value === undefined) return required;
  if (typeof value === 'string') return value;
  return new Broken([typeRule ?? `Expected string, received ${typeNameOf(value)}`]);
}

/** null and absent are both "not sent". */
function nullish<T>(value: unknown, read: (value: unknown) => T | Broken): T | null | undefined | Broken {
  return value === undefined || value === null ? value : read(value);
}

/** A plain non-negative decimal that the given Avro decimal holds exactly, without rounding. */
function decimalReader(type: DecimalType): (value: unknown) => Decimal | Broken {
  const integerDigitsMax = type.precision - type.scale;
  const placesRule = `at most ${type.scale} decimal places`;
  const digitsRule = `at most ${integerDigitsMax} digits before the decimal point`;
  return (value) => {
    const text = textOf(textOfNumber(value), 'must be a decimal number or string');
    if (text instanceof Broken) return text;
    if (!plainDecimalPattern.test(text)) return new Broken(['must be a plain non-negative decimal (digits, optional point)']);
    const decimal = new Decimal(text);
    const rules: string[] = [];
    if (decimal.decimalPlaces() > type.scale) rules.push(placesRule);
    if (!(decimal.isZero() || decimal.e + 1 <= integerDigitsMax)) rules.push(digitsRule);
    return rules.length === 0 ? decimal : new Broken(rules);
  };
}

const readUsdAmount = decimalReader(usdAmountType);
const readEthAmount = decimalReader(ethAmountType);
const readActuallyPaid = decimalReader(actuallyPaidType);

const idPattern = /^[0-9]{1,20}$/;

function readId(value: unknown): string | Broken {
  const text = textOf(textOfNumber(value), 'must be a number or string');
  if (text instanceof Broken) return text;
  return idPattern.test(text) ? text : new Broken(['must be 1–20 digits']);
}

const tickerPattern = /^[a-z0-9]{2,15}$/;

function readTicker(value: unknown): string | Broken {
  const text = textOf(value);
  if (text instanceof Broken) return text;
  const ticker = text.toLowerCase();
  return tickerPattern.test(ticker) ? ticker : new Broken(['must be a currency ticker (2–15 letters or digits)']);
}

const statusRule = new Broken([`must be one of ${paymentStatuses.join(', ')}`]);
const knownStatuses: ReadonlySet<string> = new Set(paymentStatuses);

function readStatus(value: unknown): PaymentStatus | Broken {
  if (value === undefined) return required;
  return typeof value === 'string' && knownStatuses.has(value) ? (value as PaymentStatus) : statusRule;
}

function readPriceCurrency(value: unknown): 'usd' | Broken {
  const text = textOf(value);
  if (text instanceof Broken) return text;
  return text.toLowerCase() === 'usd' ? 'usd' : new Broken(['must be usd (prices are set in USD)']);
}

function readOrderId(value: unknown): string | Broken {
  const text = textOf(value);
  if (text instanceof Broken) return text;
  return text.length > 100 ? new Broken(['at most 100 characters']) : text;
}

const timestampRule = 'must be an ISO-8601 date-time with a zone (2026-11-20T14:23:06.244Z) or epoch milliseconds';
const brokenTimestamp = new Broken([timestampRule]);
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

/** Parses only: the window depends on the receiver's clock and is checked by validateIpn. */
function readTimestamp(value: unknown): Date | Broken {
  const text = textOf(textOfNumber(value), timestampRule);
  if (text instanceof Broken) return text;
  if (text.length > 40) return brokenTimestamp;
  return parseIpnTimestamp(text) ?? brokenTimestamp;
}

// PostgreSQL text cannot hold U+0000, and a lone UTF-16 surrogate has no UTF-8 form: either would
// be silently changed or refused further down, so neither is accepted in a text we keep.
const unpairedSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const storableRule = 'must not contain U+0000 or unpaired surrogates';

function storableTextReader(maxLength: number): (value: unknown) => string | Broken {
  const lengthRule = `at most ${maxLength} characters`;
  return (value) => {
    const text = textOf(value);
    if (text instanceof Broken) return text;
    const rules: string[] = [];
    if (text.length > maxLength) rules.push(lengthRule);
    if (text.includes('\u0000') || unpairedSurrogate.test(text)) rules.push(storableRule);
    return rules.length === 0 ? text : new Broken(rules);
  };
}

const readPayAddressText = storableTextReader(200);
const readDescription = storableTextReader(500);
const readPurchaseId = storableTextReader(64);

function readPayAddress(value: unknown): string | Broken {
  const text = readPayAddressText(value);
  if (text instanceof Broken) return text;
  return text.length < 1 ? new Broken(['must not be empty']) : text;
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
  const problems: ValidationProblem[] = [];
  // Every field is read, so the answer names every rule the body breaks, in this (the fields') order.
  function field<T>(name: string, reading: T | Broken): T | undefined {
    if (!(reading instanceof Broken)) return reading;
    for (const rule of reading.rules) problems.push({ field: name, rule });
    return undefined;
  }
  const earliest = limits.timestampEarliest;
  const latest = new Date(now.getTime() + limits.timestampFutureToleranceMs);
  function timestamp(name: string): Date | undefined {
    const date = field(name, readTimestamp(Reflect.get(body as object, name)));
    if (date !== undefined && (date < earliest || date > latest)) {
      problems.push({ field: name, rule: `must be between ${earliest.toISOString()} and ${latest.toISOString()}` });
      return undefined;
    }
    return date;
  }
  const value = (name: string): unknown => Reflect.get(body, name);

  const paymentId = field('payment_id', readId(value('payment_id')));
  const paymentStatus = field('payment_status', readStatus(value('payment_status')));
  const payAddress = field('pay_address', readPayAddress(value('pay_address')));
  const priceAmount = field('price_amount', readUsdAmount(value('price_amount')));
  const priceCurrency = field('price_currency', readPriceCurrency(value('price_currency')));
  // pay_amount is in no record; it is held to the same bounds as the amount paid it describes.
  const payAmount = field('pay_amount', nullish(value('pay_amount'), readActuallyPaid));
  const actuallyPaid = field('actually_paid', nullish(value('actually_paid'), readActuallyPaid));
  const payCurrency = field('pay_currency', readTicker(value('pay_currency')));
  const orderId = field('order_id', readOrderId(value('order_id')));
  const orderDescription = field('order_description', nullish(value('order_description'), readDescription));
  const purchaseId = field('purchase_id', nullish(textOfNumber(value('purchase_id')), readPurchaseId));
  const outcomeAmount = field('outcome_amount', nullish(value('outcome_amount'), readEthAmount));
  const outcomeCurrency = field('outcome_currency', nullish(value('outcome_currency'), readTicker));
  const createdAt = timestamp('created_at');
  const updatedAt = timestamp('updated_at');
  // NOWPayments adds fields over time (fee, invoice_id, …): unknown fields are allowed and ignored.
  if (problems.length > 0) throw new IpnValidationError(problems);
  assertInvariant(
    paymentId !== undefined && paymentStatus !== undefined && payAddress !== undefined && priceAmount !== undefined && priceCurrency !== undefined &&
      payCurrency !== undefined && orderId !== undefined && createdAt !== undefined && updatedAt !== undefined,
    'a required IPN field without a problem has a value',
  );

  let order: OrderReference;
  try {
    order = parseOrderId(orderId);
  } catch {
    throw problem('order_id', `must have the format ${orderIdFormat}`);
  }
  if (priceAmount.isZero()) throw problem('price_amount', 'must be greater than 0');
  if (priceAmount.greaterThan(limits.usdAmountMax)) {
    throw problem('price_amount', `must be at most ${limits.usdAmountMax.toString()} USD`);
  }

  const notification: IpnNotification = {
    paymentId,
    paymentStatus,
    payAddress,
    priceAmount,
    priceCurrency,
    payAmount: payAmount ?? null,
    actuallyPaid: actuallyPaid ?? null,
    payCurrency,
    orderId,
    order,
    orderDescription: orderDescription ?? null,
    purchaseId: purchaseId ?? null,
    outcomeAmount: outcomeAmount ?? null,
    outcomeCurrency: outcomeCurrency ?? null,
    createdAt,
    updatedAt,
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
