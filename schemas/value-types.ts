// The avsc type of each value schema, parsed once with our logical types and shared by everything
// that encodes or decodes records (serde, outbox, relay).
import type avro from 'avsc';
import type { ValueSchemaName } from '../topics/topics.ts';
import { valueSchemas } from './generated/records.ts';
import { parseAvroSchema } from './logical-types.ts';

const types = new Map<ValueSchemaName, avro.Type>();

export function valueTypeOf(schemaName: ValueSchemaName): avro.Type {
  let type = types.get(schemaName);
  if (type === undefined) {
    type = parseAvroSchema(valueSchemas[schemaName].schema);
    types.set(schemaName, type);
  }
  return type;
}

export function isValueSchemaName(name: string): name is ValueSchemaName {
  return Object.hasOwn(valueSchemas, name);
}
