// Proves that money crosses Avro exactly — every decimal (precision, scale) used in schemas/avro
// round-trips bit-for-bit, anything the schema cannot hold exactly is refused, never rounded — by
// property tests with fast-check over generated unscaled integers, plus the Avro spec's byte layout.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.ts';
import { Decimal } from '../core/money.ts';
import { bigintToTwosComplement, DecimalType, parseAvroSchema, timestampMillisMagnitudeLimit, twosComplementToBigint } from './logical-types.ts';
import { schemasDirectory } from './schema-files.ts';

interface DecimalSpec {
  readonly precision: number;
  readonly scale: number;
}

function collectDecimals(type: avro.Type, found: Map<string, DecimalSpec>): void {
  if (type instanceof DecimalType) {
    found.set(`${type.precision},${type.scale}`, { precision: type.precision, scale: type.scale });
  } else if (avro.Type.isType(type, 'record')) {
    for (const field of (type as avro.types.RecordType).fields) collectDecimals(field.type, found);
  } else if (type instanceof avro.types.UnwrappedUnionType) {
    for (const branch of type.types) collectDecimals(branch, found);
  } else if (type instanceof avro.types.ArrayType) {
    collectDecimals(type.itemsType, found);
  }
}

/** Every decimal (precision, scale) the project's schemas use, read from the schemas themselves. */
const decimalSpecs: readonly DecimalSpec[] = (() => {
  const found = new Map<string, DecimalSpec>();
  const avroDirectory = join(schemasDirectory, 'avro');
  for (const file of readdirSync(avroDirectory).filter((name) => name.endsWith('.avsc')).sort()) {
    collectDecimals(parseAvroSchema(readFileSync(join(avroDirectory, file), 'utf8')), found);
  }
  return [...found.values()];
})();

function amountType(spec: DecimalSpec): avro.Type {
  return parseAvroSchema({
    type: 'record',
    name: 'Amount',
    fields: [{ name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: spec.precision, scale: spec.scale } }],
  });
}

/** The decimal whose unscaled integer is `unscaled`, built from digits so no arithmetic rounds. */
function decimalOf(unscaled: bigint, scale: number): Decimal {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  return new Decimal(`${negative ? '-' : ''}${text}`);
}

function unscaledArbitrary(precision: number): fc.Arbitrary<bigint> {
  const max = 10n ** BigInt(precision) - 1n;
  return fc.oneof(fc.bigInt({ min: -max, max }), fc.constantFrom(0n, 1n, -1n, max, -max));
}

function ruleOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof ValidationError) return error.rule;
    throw error;
  }
  return undefined;
}

describe('decimal logical type', () => {
  it('finds the decimals of the schemas', () => {
    expect(decimalSpecs).toEqual(
      expect.arrayContaining([
        { precision: 28, scale: 8 },
        { precision: 38, scale: 18 },
        { precision: 38, scale: 6 },
        { precision: 78, scale: 0 },
      ]),
    );
  });

  for (const spec of decimalSpecs) {
    describe(`decimal(${spec.precision},${spec.scale})`, () => {
      const type = amountType(spec);

      it('round-trips every representable value exactly, negative, zero and at full precision', () => {
        fc.assert(
          fc.property(unscaledArbitrary(spec.precision), (unscaled) => {
            const amount = spec.scale === 0 ? unscaled : decimalOf(unscaled, spec.scale);
            const decoded = (type.fromBuffer(type.toBuffer({ amount })) as { amount: unknown }).amount;
            if (spec.scale === 0) {
              expect(decoded).toBe(unscaled);
            } else {
              expect(Decimal.isDecimal(decoded)).toBe(true);
              expect((decoded as Decimal).toFixed(spec.scale)).toBe((amount as Decimal).toFixed(spec.scale));
              expect((decoded as Decimal).equals(amount as Decimal)).toBe(true);
            }
          }),
          { numRuns: 300 },
        );
      });

      it('writes the unscaled integer as minimal big-endian two\u2019s complement bytes', () => {
        fc.assert(
          fc.property(unscaledArbitrary(spec.precision), (unscaled) => {
            const amount = spec.scale === 0 ? unscaled : decimalOf(unscaled, spec.scale);
            const bytes = type.toBuffer({ amount });
            // Record body = Avro bytes: zigzag varint length, then the two's complement bytes.
            const expected = bigintToTwosComplement(unscaled);
            expect(bytes.subarray(bytes.length - expected.length)).toEqual(expected);
          }),
          { numRuns: 100 },
        );
      });

      it('refuses more decimal places than the scale instead of rounding', () => {
        fc.assert(
          fc.property(unscaledArbitrary(spec.precision - 1), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 9 }), (unscaled, extraPlaces, lastDigit) => {
            const finer = decimalOf(unscaled * 10n ** BigInt(extraPlaces) + BigInt(lastDigit), spec.scale + extraPlaces);
            const rule = ruleOf(() => type.toBuffer({ amount: finer }));
            expect(rule).toBe(spec.scale === 0 ? 'decimal-integer' : 'decimal-scale');
          }),
          { numRuns: 100 },
        );
      });

      it('refuses more digits than the precision', () => {
        fc.assert(
          fc.property(fc.integer({ min: 1, max: 5 }), fc.boolean(), (extraDigits, negative) => {
            const unscaled = (negative ? -1n : 1n) * 10n ** BigInt(spec.precision + extraDigits - 1);
            expect(ruleOf(() => type.toBuffer({ amount: decimalOf(unscaled, spec.scale) }))).toBe('decimal-precision');
            if (spec.scale === 0) expect(ruleOf(() => type.toBuffer({ amount: unscaled }))).toBe('decimal-precision');
          }),
          { numRuns: 20 },
        );
      });

      it('refuses JS numbers, even integral ones: money is never a float', () => {
        fc.assert(
          fc.property(fc.oneof(fc.double(), fc.integer()), (amount) => {
            expect(ruleOf(() => type.toBuffer({ amount }))).toBe('money-not-number');
          }),
          { numRuns: 100 },
        );
      });

      it('refuses NaN, infinities, strings and (unless scale 0) bigints', () => {
        for (const amount of [new Decimal(Number.NaN), new Decimal(Infinity), new Decimal(-Infinity)]) {
          expect(ruleOf(() => type.toBuffer({ amount }))).toBe('decimal-finite');
        }
        expect(ruleOf(() => type.toBuffer({ amount: '1.5' }))).toBe('decimal-type');
        expect(ruleOf(() => type.toBuffer({ amount: null }))).toBe('decimal-type');
        if (spec.scale > 0) expect(ruleOf(() => type.toBuffer({ amount: 1n }))).toBe('decimal-type');
      });

      it('refuses on decode bytes holding more digits than the precision', () => {
        const plainBytes = avro.Type.forSchema({ type: 'record', name: 'Amount', fields: [{ name: 'amount', type: 'bytes' }] });
        const tooLarge = plainBytes.toBuffer({ amount: bigintToTwosComplement(10n ** BigInt(spec.precision)) });
        expect(ruleOf(() => type.fromBuffer(tooLarge))).toBe('decimal-precision');
      });
    });
  }

  it('round-trips base units up to 2^256 as bigint at scale 0', () => {
    const type = amountType({ precision: 78, scale: 0 });
    const limit = 2n ** 256n;
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: -limit, max: limit }), fc.constantFrom(limit, limit - 1n, -limit, 0n)), (amount) => {
        expect((type.fromBuffer(type.toBuffer({ amount })) as { amount: unknown }).amount).toBe(amount);
      }),
      { numRuns: 300 },
    );
  });

  it('accepts an integral Decimal at scale 0 and decodes it as bigint', () => {
    const type = amountType({ precision: 78, scale: 0 });
    expect((type.fromBuffer(type.toBuffer({ amount: new Decimal('1000000000000000000') })) as { amount: unknown }).amount).toBe(10n ** 18n);
  });

  it('encodes like Java BigInteger.toByteArray (the Avro spec reference)', () => {
    const vectors: [bigint, string][] = [
      [0n, '00'],
      [1n, '01'],
      [127n, '7f'],
      [128n, '0080'],
      [255n, '00ff'],
      [256n, '0100'],
      [-1n, 'ff'],
      [-128n, '80'],
      [-129n, 'ff7f'],
      [-256n, 'ff00'],
    ];
    for (const [value, hex] of vectors) {
      expect(bigintToTwosComplement(value).toString('hex')).toBe(hex);
      expect(twosComplementToBigint(Buffer.from(hex, 'hex'))).toBe(value);
    }
    // Sign-padded input from other encoders still reads correctly.
    expect(twosComplementToBigint(Buffer.from('0000ff', 'hex'))).toBe(255n);
    expect(twosComplementToBigint(Buffer.from('ffff80', 'hex'))).toBe(-128n);
    expect(() => twosComplementToBigint(Buffer.alloc(0))).toThrow(ValidationError);
  });

  it('resolves a writer decimal only at the same scale and no larger precision', () => {
    const reader = amountType({ precision: 38, scale: 8 });
    expect(() => reader.createResolver(amountType({ precision: 28, scale: 8 }))).not.toThrow();
    expect(() => reader.createResolver(amountType({ precision: 38, scale: 6 }))).toThrow(/cannot read/);
    expect(() => reader.createResolver(amountType({ precision: 38, scale: 18 }))).toThrow(/cannot read/);
    expect(() => amountType({ precision: 28, scale: 8 }).createResolver(reader)).toThrow(/cannot read/);
    const plainBytes = avro.Type.forSchema({ type: 'record', name: 'Amount', fields: [{ name: 'amount', type: 'bytes' }] });
    expect(() => reader.createResolver(plainBytes)).toThrow(/cannot read/);

    const written = amountType({ precision: 28, scale: 8 }).toBuffer({ amount: new Decimal('-12.34567891') });
    const read = reader.fromBuffer(written, reader.createResolver(amountType({ precision: 28, scale: 8 }))) as { amount: Decimal };
    expect(read.amount.toFixed()).toBe('-12.34567891');
  });

  it('refuses a malformed decimal schema instead of falling back to raw bytes', () => {
    const withScale = (precision: unknown, scale: unknown) => () =>
      parseAvroSchema({ type: 'record', name: 'Amount', fields: [{ name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision, scale } }] });
    expect(withScale(8, 9)).toThrow(/scale/);
    expect(withScale(0, 0)).toThrow(/precision/);
    expect(withScale('28', 8)).toThrow(/precision/);
  });
});

describe('timestamp-millis logical type', () => {
  const type = parseAvroSchema({ type: 'record', name: 'At', fields: [{ name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } }] });
  const limit = timestampMillisMagnitudeLimit;

  it('round-trips every Date within ±2^52 ms to the millisecond', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(-limit + 1), max: new Date(limit - 1), noInvalidDate: true }), (at) => {
        expect((type.fromBuffer(type.toBuffer({ at })) as { at: Date }).at.getTime()).toBe(at.getTime());
      }),
      { numRuns: 300 },
    );
  });

  it('refuses invalid dates, dates avsc would misread, and non-dates', () => {
    expect(ruleOf(() => type.toBuffer({ at: new Date(Number.NaN) }))).toBe('timestamp-invalid');
    expect(ruleOf(() => type.toBuffer({ at: new Date(-limit - 1) }))).toBe('timestamp-range');
    expect(ruleOf(() => type.toBuffer({ at: new Date(limit) }))).toBe('timestamp-range');
    expect(ruleOf(() => type.toBuffer({ at: 1_700_000_000_000 }))).toBe('timestamp-type');
    expect(ruleOf(() => type.toBuffer({ at: '2025-01-01T00:00:00Z' }))).toBe('timestamp-type');
  });

  it('refuses on decode a long that is no valid date, including what avsc misreads', () => {
    const plainLong = avro.Type.forSchema({ type: 'record', name: 'At', fields: [{ name: 'at', type: 'long' }] });
    expect(ruleOf(() => type.fromBuffer(plainLong.toBuffer({ at: 8_640_000_000_000_001 })))).toBe('timestamp-invalid');
    // A Java writer's −(2^52 + 1): avsc's long reads it as +2^52, which the bound refuses.
    expect(ruleOf(() => type.fromBuffer(varintOfZigzag(2n * (2n ** 52n + 1n) - 1n)))).toBe('timestamp-invalid');
    // A writer's plain long of epoch milliseconds resolves into a Date.
    const read = type.fromBuffer(plainLong.toBuffer({ at: 1_700_000_000_000 }), type.createResolver(plainLong)) as { at: Date };
    expect(read.at.toISOString()).toBe('2023-11-14T22:13:20.000Z');
  });
});

/** The Avro bytes of a long as any conforming writer (e.g. Java) produces them: zigzag varint. */
function varintOfZigzag(zigzag: bigint): Buffer {
  const bytes: number[] = [];
  let rest = zigzag;
  while (rest >= 0x80n) {
    bytes.push(Number((rest & 0x7fn) | 0x80n));
    rest >>= 7n;
  }
  bytes.push(Number(rest));
  return Buffer.from(bytes);
}

function zigzagOf(value: bigint): bigint {
  return value >= 0n ? 2n * value : -2n * value - 1n;
}

describe('long fields (nonce, block number) as JS numbers', () => {
  const type = parseAvroSchema({ type: 'record', name: 'Block', fields: [{ name: 'number', type: 'long' }, { name: 'maybe', type: ['null', 'long'] }] });

  it('round-trips every safe integer exactly, in the byte layout of the Avro spec', () => {
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeInteger(), fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, -(2 ** 52) - 1, 2 ** 52 + 1)), (value) => {
        const bytes = type.toBuffer({ number: value, maybe: value });
        const varint = varintOfZigzag(zigzagOf(BigInt(value)));
        expect(bytes.subarray(0, varint.length)).toEqual(varint);
        expect(type.fromBuffer(bytes)).toMatchObject({ number: value, maybe: value });
      }),
      { numRuns: 500 },
    );
  });

  it('fails loudly past the safe integers on encode and on decode instead of losing precision', () => {
    expect(() => type.toBuffer({ number: 2 ** 53, maybe: null })).toThrow();
    expect(() => type.toBuffer({ number: -(2 ** 53), maybe: null })).toThrow();
    for (const unsafe of [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)]) {
      const bytes = Buffer.concat([varintOfZigzag(zigzagOf(unsafe)), Buffer.from([0])]);
      expect(ruleOf(() => type.fromBuffer(bytes))).toBe('long-unsafe');
    }
  });
});
