// The Avro logical types every encoder and decoder of the pipeline uses, so that money crosses the
// wire exactly: `decimal` (bytes) ↔ decimal.js `Decimal`, or `bigint` for scale 0 (on-chain base
// units), and `timestamp-millis` (long) ↔ `Date`. Encoding never rounds: a value the schema cannot
// hold exactly is rejected with a ValidationError naming the rule it broke.
import avro from 'avsc';
import { ValidationError } from '../core/errors.ts';
import { Decimal, isDecimal } from '../core/money.ts';

/** Avro schema JSON as read from an `.avsc` file or a generated `as const` constant. */
export type AvroSchemaJson = string | object;

/** What a `decimal` of scale 0 decodes to; any larger scale decodes to `Decimal`. */
export type DecimalValue = Decimal | bigint;

interface DecimalParameters {
  readonly precision: number;
  readonly scale: number;
}

function readDecimalParameters(schema: Record<string, unknown>): DecimalParameters {
  const { precision, scale = 0, type } = schema;
  // A malformed money schema must fail loudly: avsc would otherwise fall back to plain bytes and
  // hand out Buffers (see `assertLogicalTypes` in avroParseOptions).
  if (type !== 'bytes') {
    throw new Error(`decimal must be on "bytes" (fixed is not supported here), got ${JSON.stringify(type)}`);
  }
  if (typeof precision !== 'number' || !Number.isSafeInteger(precision) || precision < 1) {
    throw new Error(`decimal precision must be a positive integer, got ${JSON.stringify(precision)}`);
  }
  if (typeof scale !== 'number' || !Number.isSafeInteger(scale) || scale < 0 || scale > precision) {
    throw new Error(`decimal scale must be an integer in [0, precision=${precision}], got ${JSON.stringify(scale)}`);
  }
  return { precision, scale };
}

/** Minimal big-endian two's-complement bytes of an integer, as Java's BigInteger.toByteArray(). */
export function bigintToTwosComplement(value: bigint): Buffer {
  let byteLength = 1;
  while (value >= 1n << BigInt(8 * byteLength - 1) || value < -(1n << BigInt(8 * byteLength - 1))) {
    byteLength += 1;
  }
  const unsigned = value < 0n ? (1n << BigInt(8 * byteLength)) + value : value;
  return Buffer.from(unsigned.toString(16).padStart(byteLength * 2, '0'), 'hex');
}

/** Inverse of bigintToTwosComplement; also accepts sign-padded (non-minimal) encodings. */
export function twosComplementToBigint(bytes: Buffer): bigint {
  const first = bytes[0];
  if (first === undefined) {
    throw new ValidationError('decimal', 'decimal-bytes', 'a decimal cannot be encoded as zero bytes');
  }
  const unsigned = BigInt(`0x${bytes.toString('hex')}`);
  return (first & 0x80) === 0 ? unsigned : unsigned - (1n << BigInt(bytes.length * 8));
}

function digitCount(unscaled: bigint): number {
  return (unscaled < 0n ? -unscaled : unscaled).toString().length;
}

export class DecimalType extends avro.types.LogicalType {
  readonly precision: number;
  readonly scale: number;
  /** Bound on the encoded length: longer input is corrupt, not just a big number. */
  private readonly byteLengthMax: number;

  constructor(schema: avro.Schema, options?: Partial<avro.ForSchemaOptions>) {
    super(schema, options);
    const { precision, scale } = readDecimalParameters(schema as Record<string, unknown>);
    this.precision = precision;
    this.scale = scale;
    this.byteLengthMax = 2 * bigintToTwosComplement(-(10n ** BigInt(precision))).length;
  }

  private get label(): string {
    return `decimal(${this.precision},${this.scale})`;
  }

  protected override _toValue(value: unknown): Buffer {
    return bigintToTwosComplement(this.toUnscaled(value));
  }

  protected override _fromValue(bytes: unknown): DecimalValue {
    if (!Buffer.isBuffer(bytes)) {
      throw new ValidationError(this.label, 'decimal-bytes', `${this.label} expected bytes from the decoder`);
    }
    if (bytes.length > this.byteLengthMax) {
      throw new ValidationError(this.label, 'decimal-precision', `${this.label} received ${bytes.length} bytes, more than any value of this precision needs`);
    }
    const unscaled = twosComplementToBigint(bytes);
    // The writer broke its own schema: refuse rather than hand out a number the schema forbids.
    this.assertPrecision(unscaled, unscaled.toString());
    return this.scale === 0 ? unscaled : unscaledToDecimal(unscaled, this.scale);
  }

  protected override _resolve(writer: avro.Type): ((value: unknown) => unknown) | undefined {
    // Reading another scale would reinterpret the same unscaled integer as a different amount.
    if (writer instanceof DecimalType && writer.scale === this.scale && this.precision >= writer.precision) {
      return (value) => value;
    }
    return undefined;
  }

  protected override _export(schema: avro.Schema): void {
    const attributes = schema as Record<string, unknown>;
    attributes['precision'] = this.precision;
    attributes['scale'] = this.scale;
  }

  /** The exact unscaled integer of an accepted value, or a ValidationError naming the broken rule. */
  toUnscaled(value: unknown): bigint {
    if (typeof value === 'bigint') {
      if (this.scale !== 0) {
        throw new ValidationError(this.label, 'decimal-type', `${this.label} takes a Decimal; a bigint is only accepted for scale 0 (base units)`);
      }
      this.assertPrecision(value, value.toString());
      return value;
    }
    if (!isDecimal(value)) {
      if (typeof value === 'number') {
        throw new ValidationError(this.label, 'money-not-number', `${this.label} refuses the JS number ${value}: money must never be a float; pass a Decimal${this.scale === 0 ? ' or a bigint' : ''}`);
      }
      throw new ValidationError(this.label, 'decimal-type', `${this.label} takes a Decimal${this.scale === 0 ? ' or a bigint' : ''}, got ${describe(value)}`);
    }
    if (!value.isFinite()) {
      throw new ValidationError(this.label, 'decimal-finite', `${this.label} cannot hold ${value.toString()}`);
    }
    const places = value.decimalPlaces();
    if (places > this.scale) {
      const rule = this.scale === 0 ? 'decimal-integer' : 'decimal-scale';
      throw new ValidationError(this.label, rule, `${this.label} holds at most ${this.scale} decimal places; ${value.toString()} has ${places} and rounding is not allowed`);
    }
    // Checked before toFixed so that 1e9000000 is rejected without building its digits.
    if (!value.isZero() && value.e + 1 + this.scale > this.precision) {
      throw new ValidationError(this.label, 'decimal-precision', `${this.label} holds at most ${this.precision} digits; ${value.toString()} needs ${value.e + 1 + this.scale}`);
    }
    return BigInt(value.toFixed(this.scale).replace('.', ''));
  }

  private assertPrecision(unscaled: bigint, shown: string): void {
    const digits = digitCount(unscaled);
    if (digits > this.precision) {
      throw new ValidationError(this.label, 'decimal-precision', `${this.label} holds at most ${this.precision} digits; unscaled ${shown} has ${digits}`);
    }
  }
}

function unscaledToDecimal(unscaled: bigint, scale: number): Decimal {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const integerPart = digits.slice(0, digits.length - scale);
  const fractionPart = digits.slice(digits.length - scale);
  // Built from a string: the Decimal constructor keeps every digit (only arithmetic rounds).
  return new Decimal(`${negative ? '-' : ''}${integerPart}.${fractionPart}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/**
 * avsc's built-in long is not exact for every safe integer: it writes and reads through doubles,
 * and a negative value below −2^52 has an odd zigzag code above 2^53 that a double cannot hold,
 * so −(2^52 + 1) silently comes back as +2^52 (encode), and the same bytes from a Java writer
 * decode wrongly too. Every misread value has a magnitude of at least 2^52, so timestamps (whose
 * underlying long is avsc's) are limited below that on both paths; plain longs use exactLongType.
 */
export const timestampMillisMagnitudeLimit = 2 ** 52;

function unsafeLong(value: unknown): ValidationError {
  return new ValidationError('long', 'long-unsafe', `Avro long ${String(value)} is outside JS's safe integers (±(2^53 − 1)); such a long must not be read as a number`);
}

/**
 * Avro `long` as a JS number, exact over every safe integer and loud outside them, on encode and
 * decode. Built on avsc's custom-long hook, which hands over the exact 8-byte two's complement.
 */
export const exactLongType: avro.Type = avro.types.LongType.__with({
  fromBuffer(buffer: Buffer): number {
    const value = buffer.readBigInt64LE(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw unsafeLong(value);
    return Number(value);
  },
  toBuffer(value: number): Buffer {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64LE(BigInt(value), 0);
    return buffer;
  },
  fromJSON(value: unknown): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw unsafeLong(value);
    return value;
  },
  toJSON(value: number): number {
    return value;
  },
  isValid(value: unknown): boolean {
    return typeof value === 'number' && Number.isSafeInteger(value);
  },
  compare(left: number, right: number): number {
    return left === right ? 0 : left < right ? -1 : 1;
  },
});

/** True for a plain Avro long, ours (exactLongType) or avsc's. */
export function isLongType(type: avro.Type): boolean {
  return type.typeName === 'long' || type.typeName === 'abstract:long';
}

function isPlainLongSchema(schema: unknown): boolean {
  if (schema === 'long') return true;
  if (typeof schema !== 'object' || schema === null) return false;
  const { type, logicalType } = schema as Record<string, unknown>;
  // timestamp-millis keeps avsc's long as its underlying type (bounded above); any other
  // annotation on a long is not ours to interpret, so it is read as a plain long.
  return type === 'long' && logicalType !== 'timestamp-millis';
}

export class TimestampMillisType extends avro.types.LogicalType {
  constructor(schema: avro.Schema, options?: Partial<avro.ForSchemaOptions>) {
    super(schema, options);
    const { type } = schema as Record<string, unknown>;
    if (type !== 'long') {
      throw new Error(`timestamp-millis must be on "long", got ${JSON.stringify(type)}`);
    }
  }

  protected override _toValue(value: unknown): number {
    if (!(value instanceof Date)) {
      throw new ValidationError('timestamp-millis', 'timestamp-type', `timestamp-millis takes a Date, got ${describe(value)}`);
    }
    const epochMs = value.getTime();
    if (!Number.isSafeInteger(epochMs)) {
      throw new ValidationError('timestamp-millis', 'timestamp-invalid', 'timestamp-millis cannot hold an invalid Date');
    }
    if (Math.abs(epochMs) >= timestampMillisMagnitudeLimit) {
      throw new ValidationError('timestamp-millis', 'timestamp-range', `timestamp-millis holds dates within ±2^52 ms of 1970 (about 142,000 years), not ${value.toISOString()}`);
    }
    return epochMs;
  }

  protected override _fromValue(epochMs: unknown): Date {
    if (typeof epochMs !== 'number' || Math.abs(epochMs) >= timestampMillisMagnitudeLimit) {
      throw new ValidationError('timestamp-millis', 'timestamp-invalid', `timestamp-millis ${String(epochMs)} is not a valid date (or was misread: see timestampMillisMagnitudeLimit)`);
    }
    return new Date(epochMs);
  }

  protected override _resolve(writer: avro.Type): ((value: unknown) => unknown) | undefined {
    if (writer instanceof TimestampMillisType) return (value) => value;
    // A plain long of epoch milliseconds is the same data without the annotation.
    if (isLongType(writer)) return (value) => this._fromValue(value);
    return undefined;
  }
}

/** The map to pass as avsc's `logicalTypes` option, wherever a schema is parsed. */
export const logicalTypes: Readonly<Record<string, new (schema: avro.Schema, options?: Partial<avro.ForSchemaOptions>) => avro.types.LogicalType>> = {
  decimal: DecimalType,
  'timestamp-millis': TimestampMillisType,
};

/**
 * avsc options used for every parse (ours and the registry client's). Explicit rather than
 * avsc's defaults: `assertLogicalTypes` turns a malformed decimal into an error instead of a
 * silent fallback to Buffers; `wrapUnions: 'auto'` keeps `["null", T]` as `T | null`; the type
 * hook swaps avsc's inexact long for exactLongType. A function, because avsc writes its type
 * registry into the options object it is given.
 */
export function avroParseOptions(): Partial<avro.ForSchemaOptions> {
  return {
    logicalTypes: { ...logicalTypes },
    assertLogicalTypes: true,
    wrapUnions: 'auto',
    typeHook: (schema) => (isPlainLongSchema(schema) ? exactLongType : undefined),
  };
}

/** Parses schema JSON (object or text) into an avsc Type with the pipeline's logical types. */
export function parseAvroSchema(schemaJson: AvroSchemaJson): avro.Type {
  const schema: unknown = typeof schemaJson === 'string' ? JSON.parse(schemaJson) : schemaJson;
  return avro.Type.forSchema(schema as avro.Schema, avroParseOptions());
}
