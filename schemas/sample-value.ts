// A deterministic sample record for any schema, used for golden fixtures: the same schema always
// gives the same value and so the same bytes (avsc's `random()` would not, and could produce
// decimals its own schema rejects). Values are chosen to exercise the encoding: optional fields
// take their non-null branch, decimals use every digit of their precision, longs exceed 32 bits.
import avro from 'avsc';
import { Decimal, isDecimal } from '../core/money.ts';
import { DecimalType, TimestampMillisType } from './logical-types.ts';

const sampleDate = new Date(Date.UTC(2025, 0, 31, 23, 59, 58, 765));
const sampleInt = 2_000_000_001;
const sampleLong = 4_503_599_627_370_497; // 2^52 + 1: needs more than 32 bits, still a safe integer.
const sampleDigits = '1234567890';

function sampleDecimal(type: DecimalType): Decimal | bigint {
  const digits = sampleDigits.repeat(Math.ceil(type.precision / sampleDigits.length)).slice(0, type.precision);
  if (type.scale === 0) return BigInt(digits);
  const integerPart = digits.slice(0, type.precision - type.scale) || '0';
  return new Decimal(`${integerPart}.${digits.slice(type.precision - type.scale)}`);
}

function isRecordType(type: avro.Type): type is avro.types.RecordType {
  return avro.Type.isType(type, 'record', 'error');
}

export function createSampleValue(type: avro.Type, path = 'value'): unknown {
  if (type instanceof DecimalType) return sampleDecimal(type);
  if (type instanceof TimestampMillisType) return new Date(sampleDate.getTime());
  if (isRecordType(type)) {
    const record: Record<string, unknown> = {};
    for (const field of type.fields) record[field.name] = createSampleValue(field.type, field.name);
    return record;
  }
  if (type instanceof avro.types.EnumType) {
    // The last symbol: a non-zero index shows up in the bytes.
    return type.symbols[type.symbols.length - 1];
  }
  if (type instanceof avro.types.ArrayType) {
    return [createSampleValue(type.itemsType, `${path}-1`), createSampleValue(type.itemsType, `${path}-2`)];
  }
  if (type instanceof avro.types.MapType) {
    const valuesType = type.valuesType as avro.Type;
    return { [`${path}-a`]: createSampleValue(valuesType, `${path}-a`), [`${path}-b`]: createSampleValue(valuesType, `${path}-b`) };
  }
  if (type instanceof avro.types.UnwrappedUnionType) {
    const branch = type.types.find((candidate) => candidate.typeName !== 'null') ?? type.types[0];
    return branch === undefined ? null : createSampleValue(branch, path);
  }
  if (type instanceof avro.types.WrappedUnionType) {
    const branch = type.types.find((candidate) => candidate.typeName !== 'null') ?? type.types[0];
    if (branch === undefined) return null;
    return branch.typeName === 'null' ? null : { [branch.branchName ?? branch.typeName]: createSampleValue(branch, path) };
  }
  switch (type.typeName) {
    case 'null':
      return null;
    case 'boolean':
      return true;
    case 'int':
      return sampleInt;
    case 'long':
    case 'abstract:long':
      return sampleLong;
    case 'float':
      return 1.5;
    case 'double':
      return 2.25;
    case 'string':
      return `sample ${path}`;
    case 'bytes':
      return Buffer.from(`sample ${path}`, 'utf8');
    case 'fixed':
      return Buffer.alloc((type as avro.types.FixedType).size, 0xab);
    default:
      throw new Error(`no sample value for Avro type ${type.typeName} at ${path}`);
  }
}

/**
 * A decoded Avro value in plain JSON, for humans and for comparing decodings: decimals as exact
 * decimal strings (never exponent notation), bigints as digit strings, dates as ISO strings,
 * bytes as hex.
 */
export function toReadableJson(value: unknown): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') return value;
  if (typeof value === 'bigint') return value.toString();
  if (isDecimal(value)) return value.toFixed();
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('hex');
  if (Array.isArray(value)) return value.map((item: unknown) => toReadableJson(item));
  if (typeof value === 'object') {
    const result: Record<string, unknown> = {};
    // An absent optional property is left out, as JSON.stringify does.
    for (const [key, item] of Object.entries(value)) if (item !== undefined) result[key] = toReadableJson(item);
    return result;
  }
  throw new Error(`no JSON form for a ${typeof value}`);
}
