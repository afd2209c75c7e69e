// Encoding and decoding of one Avro value with errors an operator can act on: avsc says "invalid
// \"string\": undefined" or rethrows a logical type's error without saying where; these wrappers
// name the field path and the broken rule, as ValidationErrors (the same input can never succeed).
import type avro from 'avsc';
import { PipelineError, ValidationError } from '../core/errors.ts';

function invalidPaths(type: avro.Type, value: unknown): string[] {
  const paths: string[] = [];
  type.isValid(value, { errorHook: (path) => paths.push(path.join('.') || '(record)') });
  return paths;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `type.toBuffer(value)`, failing with a ValidationError that names the offending fields. */
export function encodeAvroValue(type: avro.Type, value: unknown, label: string): Buffer {
  try {
    return type.toBuffer(value);
  } catch (error) {
    const paths = invalidPaths(type, value);
    const field = paths.join(', ') || (error instanceof ValidationError ? error.field : '(unknown)');
    const rule = error instanceof ValidationError ? error.rule : 'avro-type';
    throw new ValidationError(field, rule, `${label}: cannot encode field ${field}: ${messageOf(error)}`, {
      cause: error,
      context: { schema: label },
    });
  }
}

/** `type.fromBuffer(bytes, resolver)`, failing with a ValidationError (a poison record, not an outage). */
export function decodeAvroValue(type: avro.Type, bytes: Buffer, label: string, resolver?: avro.Resolver): unknown {
  try {
    const value: unknown = type.fromBuffer(bytes, resolver);
    return value;
  } catch (error) {
    if (error instanceof ValidationError) {
      throw new ValidationError(error.field, error.rule, `${label}: ${error.message}`, { cause: error, context: { schema: label } });
    }
    if (error instanceof PipelineError) throw error;
    throw new ValidationError('(record)', 'avro-decode', `${label}: cannot decode the record: ${messageOf(error)}`, {
      cause: error,
      context: { schema: label },
    });
  }
}
