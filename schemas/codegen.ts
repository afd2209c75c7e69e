// Generates `schemas/generated/records.ts` from `schemas/avro/*.avsc`: a TypeScript interface per
// Avro record, a literal union per enum, the schema JSON as typed constants and the map from
// schema name to record type that types the serializers. Rendering is a pure function of the
// schema files (sorted by name, types in order of appearance) so the output is byte-for-byte
// reproducible and CI can compare it with the file on disk (`--check`).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import avro from 'avsc';
import { PipelineError } from '../core/errors.ts';
import { DecimalType, isLongType, parseAvroSchema, TimestampMillisType } from './logical-types.ts';
import { readSchemaFiles, type SchemaFile } from './schema-files.ts';

export const codegenCommand = 'npm run schemas:codegen';

export function generatedRecordsPathOf(directory: string): string {
  return join(directory, 'generated', 'records.ts');
}

interface NamedDeclaration {
  readonly fullName: string;
  readonly shortName: string;
  readonly normalizedSchema: string;
  readonly source: string;
  readonly code: string;
}

interface RenderState {
  readonly declarations: NamedDeclaration[];
  usesDecimal: boolean;
}

const identifierPattern = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function propertyKey(name: string): string {
  return identifierPattern.test(name) ? name : `'${name}'`;
}

function docComment(lines: readonly string[], indent: string): string {
  const cleaned = lines.filter((line) => line.length > 0).map((line) => line.replaceAll('*/', '*\\/'));
  if (cleaned.length === 0) return '';
  if (cleaned.length === 1) return `${indent}/** ${cleaned[0]} */\n`;
  return `${indent}/**\n${cleaned.map((line) => `${indent} * ${line}`).join('\n')}\n${indent} */\n`;
}

function shortNameOf(fullName: string): string {
  return fullName.slice(fullName.lastIndexOf('.') + 1);
}

function isRecordType(type: avro.Type): type is avro.types.RecordType {
  return avro.Type.isType(type, 'record', 'error');
}

function parenthesizeUnion(expression: string): string {
  return expression.includes(' | ') ? `(${expression})` : expression;
}

function declare(state: RenderState, type: avro.Type, source: string, render: () => string): string {
  const fullName = type.name;
  if (fullName === undefined) throw new PipelineError(`${source}: a named Avro type has no name`);
  const shortName = shortNameOf(fullName);
  const normalizedSchema = JSON.stringify(type.schema({ exportAttrs: true }));
  const existing = state.declarations.find((declaration) => declaration.shortName === shortName);
  if (existing !== undefined) {
    // One TS name per Avro name: the same type in two files is fine only if it is the same type.
    if (existing.fullName !== fullName || existing.normalizedSchema !== normalizedSchema) {
      throw new PipelineError(
        `${source}: Avro type ${fullName} clashes with ${existing.fullName} from ${existing.source}; ` +
          'generated types are named by the short Avro name, so give one of them another name',
      );
    }
    return shortName;
  }
  const declaration = { fullName, shortName, normalizedSchema, source, code: '' };
  // Registered before rendering so a recursive record refers to itself instead of looping.
  state.declarations.push(declaration);
  const index = state.declarations.length - 1;
  state.declarations[index] = { ...declaration, code: render() };
  return shortName;
}

function typeExpression(state: RenderState, type: avro.Type, source: string): string {
  if (type instanceof DecimalType) {
    if (type.scale === 0) return 'bigint';
    state.usesDecimal = true;
    return 'Decimal';
  }
  if (type instanceof TimestampMillisType) return 'Date';
  if (isRecordType(type)) return declare(state, type, source, () => renderRecord(state, type, source));
  if (type instanceof avro.types.EnumType) {
    return declare(state, type, source, () => renderEnum(type));
  }
  if (type instanceof avro.types.ArrayType) {
    return `readonly ${parenthesizeUnion(typeExpression(state, type.itemsType, source))}[]`;
  }
  if (type instanceof avro.types.MapType) {
    return `Readonly<Record<string, ${typeExpression(state, type.valuesType as avro.Type, source)}>>`;
  }
  if (type instanceof avro.types.UnwrappedUnionType) {
    const branches = type.types.map((branch) => typeExpression(state, branch, source));
    // `T | null` reads better than `null | T`; the order has no meaning in TypeScript.
    return [...branches.filter((branch) => branch !== 'null'), ...branches.filter((branch) => branch === 'null')].join(' | ');
  }
  if (type instanceof avro.types.WrappedUnionType) {
    throw new PipelineError(
      `${source}: union ${JSON.stringify(type.schema())} needs avsc's wrapped form, which codegen does not support; ` +
        'use ["null", T] or branches of distinct kinds',
    );
  }
  switch (type.typeName) {
    case 'null':
      return 'null';
    case 'boolean':
      return 'boolean';
    case 'int':
    case 'long':
    case 'abstract:long':
    case 'float':
    case 'double':
      return 'number';
    case 'string':
      return 'string';
    case 'bytes':
    case 'fixed':
      return 'Buffer';
    default:
      throw new PipelineError(`${source}: codegen does not know Avro type ${type.typeName}`);
  }
}

function containsLong(type: avro.Type): boolean {
  if (type instanceof avro.types.UnwrappedUnionType) return type.types.some(containsLong);
  if (type instanceof avro.types.ArrayType) return containsLong(type.itemsType);
  return isLongType(type);
}

const longNote =
  'Avro long as a JS number: exact for safe integers; encoding or decoding a long outside ±(2^53 − 1) throws instead of losing precision (exactLongType). Never money.';

function renderRecord(state: RenderState, type: avro.types.RecordType, source: string): string {
  const fields = type.fields.map((field) => {
    const doc = (field as avro.types.Field & { readonly doc?: string }).doc;
    const comment = docComment([doc ?? '', containsLong(field.type) ? longNote : ''], '  ');
    return `${comment}  readonly ${propertyKey(field.name)}: ${typeExpression(state, field.type, source)};\n`;
  });
  return `${docComment([type.doc ?? '', `Avro record \`${type.name ?? ''}\` (${source}).`], '')}export interface ${shortNameOf(type.name ?? '')} {\n${fields.join('')}}\n`;
}

function renderEnum(type: avro.types.EnumType): string {
  const name = shortNameOf(type.name ?? '');
  const symbols = type.symbols.map((symbol) => `'${symbol}'`);
  const constantName = `${name.charAt(0).toLowerCase()}${name.slice(1)}Symbols`;
  return (
    `${docComment([type.doc ?? '', `Avro enum \`${type.name ?? ''}\`.`], '')}export type ${name} = ${symbols.join(' | ')};\n` +
    `export const ${constantName}: readonly ${name}[] = [${symbols.join(', ')}];\n`
  );
}

function camelCase(kebab: string): string {
  return kebab.replace(/-([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

export function schemaConstantNameOf(schemaName: string): string {
  return `${camelCase(schemaName)}Schema`;
}

/** The generated module for these schema files; pure, so the same files always give the same text. */
export function renderRecordsModule(files: readonly SchemaFile[]): string {
  const state: RenderState = { declarations: [], usesDecimal: false };
  const sorted = [...files].sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0));
  const entries = sorted.map((file) => {
    const source = `schemas/avro/${file.name}.avsc`;
    const type = parseAvroSchema(file.json as object);
    if (!isRecordType(type) || type.name === undefined) {
      throw new PipelineError(`${source}: a value schema must be a named record`);
    }
    const recordName = typeExpression(state, type, source);
    return { file, recordName, fullName: type.name };
  });

  const header =
    `// GENERATED by \`${codegenCommand}\` (schemas/codegen.ts) from schemas/avro/*.avsc — do not edit.\n` +
    `// CI fails when this file differs from a fresh generation (\`${codegenCommand} -- --check\`).\n`;
  const imports = [
    ...(state.usesDecimal ? ["import type { Decimal } from '../../core/money.ts';\n"] : []),
    "import type { ValueSchemaName } from '../../topics/topics.ts';\n",
  ].join('');

  const declarations = state.declarations.map((declaration) => declaration.code).join('\n');

  const constants = entries
    .map(({ file }) => {
      const json = JSON.stringify(file.json, null, 2);
      return `/** The value schema of ${file.name}, as in schemas/avro/${file.name}.avsc. */\nexport const ${schemaConstantNameOf(file.name)} = ${json} as const;\n`;
    })
    .join('\n');

  const valueSchemaEntries = entries
    .map(({ file, recordName, fullName }) => `  '${file.name}': { schema: ${schemaConstantNameOf(file.name)}, name: '${recordName}', fullName: '${fullName}' },\n`)
    .join('');
  const valueRecordEntries = entries.map(({ file, recordName }) => `  '${file.name}': ${recordName};\n`).join('');

  return [
    header,
    '\n',
    imports,
    '\n',
    declarations,
    '\n',
    constants,
    '\n',
    '/** A value schema: its JSON and the record it describes. */\n',
    'export interface ValueSchemaEntry {\n  readonly schema: object;\n  readonly name: string;\n  readonly fullName: string;\n}\n',
    '\n',
    '/** Every value schema by its name in topics.ts; `satisfies` fails the build when the two disagree. */\n',
    `export const valueSchemas = {\n${valueSchemaEntries}} as const satisfies Readonly<Record<ValueSchemaName, ValueSchemaEntry>>;\n`,
    '\n',
    '/** The record type of each value schema. */\n',
    `export interface ValueRecords {\n${valueRecordEntries}}\n`,
    '\n',
    '/** `ValueRecordOf<\'payment-received\'>` is `PaymentReceived`: serializers are typed by schema name. */\n',
    'export type ValueRecordOf<S extends ValueSchemaName> = ValueRecords[S];\n',
  ].join('');
}

export type CodegenStatus = 'written' | 'unchanged';

/**
 * Writes the generated module, or with `check` only compares it and throws when the file on
 * disk is stale (what CI runs).
 */
export async function syncRecordsModule(options: { directory: string; check: boolean }): Promise<{ path: string; status: CodegenStatus }> {
  const path = generatedRecordsPathOf(options.directory);
  const expected = renderRecordsModule(await readSchemaFiles(options.directory));
  const actual = await readFile(path, 'utf8').catch((error: unknown) => {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return null;
    throw error;
  });
  if (actual === expected) return { path, status: 'unchanged' };
  if (options.check) {
    throw new PipelineError(
      `${path} is ${actual === null ? 'missing' : 'out of date with schemas/avro/*.avsc'}; run \`${codegenCommand}\` and commit the result`,
      { context: { path } },
    );
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, expected, 'utf8');
  return { path, status: 'written' };
}
