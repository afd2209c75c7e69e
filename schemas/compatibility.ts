// The offline schema-evolution check. Every version of a value schema that ever reached a topic
// is frozen in `schemas/history/<schema>/v<N>.avsc` with a golden record encoded by it; the
// current schema must read all of them (BACKWARD, transitive: a consumer may meet a record of any
// age on a compacted or keep-forever topic). Pure rules first, file I/O at the bottom.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import avro from 'avsc';
import { PipelineError } from '../core/errors.ts';
import { decodeAvroValue, encodeAvroValue } from './avro-codec.ts';
import { DecimalType, parseAvroSchema } from './logical-types.ts';
import { createSampleValue, toReadableJson } from './sample-value.ts';
import { parseSchemaText, readSchemaFiles, type SchemaFile } from './schema-files.ts';

export interface SchemaProblem {
  readonly schema: string;
  /** The history version the problem is about; null when it concerns the schema as a whole. */
  readonly version: number | null;
  readonly message: string;
}

export interface SchemaCheckReport {
  readonly problems: readonly SchemaProblem[];
  /** Schemas with no history yet: new, not frozen (not an error; `schemas freeze` records them). */
  readonly unfrozen: readonly string[];
  readonly checked: readonly { readonly schema: string; readonly versions: readonly number[] }[];
}

// ---- pure rules -------------------------------------------------------------------------------

function isRecordType(type: avro.Type): type is avro.types.RecordType {
  return avro.Type.isType(type, 'record', 'error');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describeType(type: avro.Type): string {
  if (type instanceof DecimalType) return `decimal(${type.precision},${type.scale})`;
  if (type.name !== undefined) return type.name;
  return JSON.stringify(type.schema({ exportAttrs: true, noDeref: true }));
}

function canRead(reader: avro.Type, writer: avro.Type): boolean {
  try {
    reader.createResolver(writer);
    return true;
  } catch {
    return false;
  }
}

function subject(path: string): string {
  return path === '' ? 'the record' : `field "${path}"`;
}

function compareDecimals(reader: DecimalType, writer: DecimalType, path: string, problems: string[]): void {
  if (reader.scale !== writer.scale) {
    problems.push(
      `${subject(path)}: decimal scale changed from ${writer.scale} to ${reader.scale}; the same bytes would mean a different amount (add a new field instead)`,
    );
  } else if (reader.precision < writer.precision) {
    problems.push(`${subject(path)}: decimal precision shrank from ${writer.precision} to ${reader.precision}; old values may not fit`);
  }
}

function compareRecords(reader: avro.types.RecordType, writer: avro.types.RecordType, path: string, problems: string[], versionLabel: string): void {
  const readerAliases = (reader as avro.types.RecordType & { readonly aliases?: readonly string[] }).aliases ?? [];
  if (reader.name !== writer.name && !readerAliases.includes(writer.name ?? '')) {
    problems.push(`${subject(path)}: record ${writer.name ?? '?'} was renamed to ${reader.name ?? '?'} without an alias`);
    return;
  }
  for (const field of reader.fields) {
    const fieldPath = path === '' ? field.name : `${path}.${field.name}`;
    const writerField =
      writer.fields.find((candidate) => candidate.name === field.name) ??
      writer.fields.find((candidate) => field.aliases.includes(candidate.name));
    if (writerField === undefined) {
      if (field.defaultValue() === undefined) {
        problems.push(`field "${fieldPath}" has no default, but records written with ${versionLabel} lack it: the current schema cannot read them (give it a default)`);
      }
      continue;
    }
    compareTypes(field.type, writerField.type, fieldPath, problems, versionLabel);
  }
}

function unionBranches(type: avro.Type): readonly avro.Type[] {
  return type instanceof avro.types.UnwrappedUnionType || type instanceof avro.types.WrappedUnionType ? type.types : [type];
}

function isUnion(type: avro.Type): boolean {
  return type instanceof avro.types.UnwrappedUnionType || type instanceof avro.types.WrappedUnionType;
}

/** The reader branch most like a writer branch, to explain why it no longer reads it. */
function similarBranch(readerBranches: readonly avro.Type[], writer: avro.Type): avro.Type | undefined {
  return readerBranches.find((branch) => branch.typeName === writer.typeName && (branch.name === undefined || branch.name === writer.name));
}

function compareTypes(reader: avro.Type, writer: avro.Type, path: string, problems: string[], versionLabel: string): void {
  if (isUnion(reader) || isUnion(writer)) {
    const readerBranches = unionBranches(reader);
    for (const writerBranch of unionBranches(writer)) {
      if (readerBranches.some((branch) => canRead(branch, writerBranch))) continue;
      const similar = similarBranch(readerBranches, writerBranch);
      if (similar !== undefined) {
        compareTypes(similar, writerBranch, path, problems, versionLabel);
      } else {
        problems.push(`${subject(path)}: type changed from ${describeType(writer)} to ${describeType(reader)}; ${describeType(writerBranch)} values can no longer be read`);
      }
    }
    return;
  }
  if (reader instanceof DecimalType && writer instanceof DecimalType) {
    compareDecimals(reader, writer, path, problems);
    return;
  }
  if (isRecordType(reader) && isRecordType(writer)) {
    compareRecords(reader, writer, path, problems, versionLabel);
    return;
  }
  if (reader instanceof avro.types.ArrayType && writer instanceof avro.types.ArrayType) {
    compareTypes(reader.itemsType, writer.itemsType, `${path}[]`, problems, versionLabel);
    return;
  }
  if (reader instanceof avro.types.MapType && writer instanceof avro.types.MapType) {
    compareTypes(reader.valuesType as avro.Type, writer.valuesType as avro.Type, `${path}{}`, problems, versionLabel);
    return;
  }
  if (reader instanceof avro.types.EnumType && writer instanceof avro.types.EnumType && reader.name === writer.name) {
    const missing = writer.symbols.filter((symbol) => !reader.symbols.includes(symbol));
    if (missing.length > 0 && !canRead(reader, writer)) {
      problems.push(`${subject(path)}: enum ${reader.name ?? ''} lost symbol(s) ${missing.join(', ')} that records written with ${versionLabel} may hold (keep them or add an enum default)`);
    }
    return;
  }
  try {
    reader.createResolver(writer);
  } catch (error) {
    problems.push(`${subject(path)}: type changed from ${describeType(writer)} to ${describeType(reader)} (${messageOf(error)})`);
  }
}

/**
 * Why `reader` cannot read records written with `writer`, one message per field; empty when it
 * can. Backed by avsc's own resolver so nothing it rejects slips through unexplained.
 */
export function findEvolutionProblems(reader: avro.Type, writer: avro.Type, versionLabel = 'the older version'): string[] {
  const problems: string[] = [];
  compareTypes(reader, writer, '', problems, versionLabel);
  if (problems.length === 0) {
    try {
      reader.createResolver(writer);
    } catch (error) {
      problems.push(`cannot read records of ${versionLabel}: ${messageOf(error)}`);
    }
  }
  return problems;
}

/**
 * The form two schema texts are compared in. Not Avro's Parsing Canonical Form: that drops
 * defaults and logical-type attributes (precision, scale), and both matter for evolution.
 */
export function normalizedSchemaOf(type: avro.Type): string {
  return JSON.stringify(type.schema({ exportAttrs: true }));
}

function fieldNamesOf(type: avro.Type): readonly string[] {
  return isRecordType(type) ? type.fields.map((field) => field.name) : [];
}

/**
 * Problems decoding a golden fixture: it must decode with its own schema (to its JSON, when one
 * is given) and through the resolver with the current one, where every field both versions
 * share must decode to the same value.
 */
export function checkFixture(current: avro.Type, historical: avro.Type, fixture: Buffer, expectedJson: unknown): string[] {
  let original: unknown;
  try {
    original = toReadableJson(decodeAvroValue(historical, fixture, 'fixture'));
  } catch (error) {
    return [`the golden fixture does not decode with its own schema: ${messageOf(error)}`];
  }
  const problems: string[] = [];
  if (expectedJson !== undefined && JSON.stringify(original) !== JSON.stringify(expectedJson)) {
    problems.push('the golden fixture and its .fixture.json disagree (history files must never be edited)');
  }
  let resolver: avro.Resolver;
  try {
    resolver = current.createResolver(historical);
  } catch {
    return problems; // Already reported by findEvolutionProblems.
  }
  let evolved: unknown;
  try {
    evolved = toReadableJson(decodeAvroValue(current, fixture, 'fixture', resolver));
  } catch (error) {
    return [...problems, `the golden fixture does not decode with the current schema: ${messageOf(error)}`];
  }
  const before = original as Record<string, unknown>;
  const after = evolved as Record<string, unknown>;
  for (const name of fieldNamesOf(current).filter((field) => fieldNamesOf(historical).includes(field))) {
    if (JSON.stringify(before[name]) !== JSON.stringify(after[name])) {
      problems.push(`field "${name}": the golden fixture decodes to ${JSON.stringify(before[name])} with its own schema but ${JSON.stringify(after[name])} with the current one`);
    }
  }
  return problems;
}

// ---- history files ----------------------------------------------------------------------------

export interface HistoryVersion {
  readonly version: number;
  readonly schemaPath: string;
  readonly fixtureHexPath: string;
  readonly fixtureJsonPath: string;
}

export function historyDirectoryOf(directory: string, schema?: string): string {
  return schema === undefined ? join(directory, 'history') : join(directory, 'history', schema);
}

function historyVersion(directory: string, schema: string, version: number): HistoryVersion {
  const base = join(historyDirectoryOf(directory, schema), `v${version}`);
  return { version, schemaPath: `${base}.avsc`, fixtureHexPath: `${base}.fixture.avro-hex`, fixtureJsonPath: `${base}.fixture.json` };
}

function isMissing(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

async function listDirectory(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

/** The frozen versions of one schema, oldest first. */
export async function readHistory(directory: string, schema: string): Promise<HistoryVersion[]> {
  const versions = (await listDirectory(historyDirectoryOf(directory, schema)))
    .map((entry) => /^v([1-9][0-9]*)\.avsc$/.exec(entry)?.[1])
    .filter((version) => version !== undefined)
    .map(Number)
    .sort((left, right) => left - right);
  return versions.map((version) => historyVersion(directory, schema, version));
}

export function encodeFixture(type: avro.Type, label: string): { hex: string; json: unknown } {
  const bytes = encodeAvroValue(type, createSampleValue(type), label);
  return { hex: bytes.toString('hex'), json: toReadableJson(decodeAvroValue(type, bytes, label)) };
}

async function checkVersion(current: avro.Type, schema: string, entry: HistoryVersion): Promise<SchemaProblem[]> {
  const problem = (message: string): SchemaProblem => ({ schema, version: entry.version, message });
  let historical: avro.Type;
  try {
    historical = parseAvroSchema(parseSchemaText(await readFile(entry.schemaPath, 'utf8'), entry.schemaPath) as object);
  } catch (error) {
    return [problem(`${entry.schemaPath} does not parse: ${messageOf(error)}`)];
  }
  const problems = findEvolutionProblems(current, historical, `v${entry.version}`).map(problem);
  const hex = await readOptional(entry.fixtureHexPath);
  if (hex === undefined) return [...problems, problem(`v${entry.version} has no golden fixture ${entry.fixtureHexPath}`)];
  const jsonText = await readOptional(entry.fixtureJsonPath);
  const expectedJson = jsonText === undefined ? undefined : parseSchemaText(jsonText, entry.fixtureJsonPath);
  const fixtureProblems = checkFixture(current, historical, Buffer.from(hex.trim(), 'hex'), expectedJson);
  return [...problems, ...fixtureProblems.map(problem)];
}

async function checkSchema(file: SchemaFile, directory: string): Promise<{ problems: SchemaProblem[]; versions: number[] }> {
  let current: avro.Type;
  try {
    current = parseAvroSchema(file.json as object);
  } catch (error) {
    return { problems: [{ schema: file.name, version: null, message: `${file.path} does not parse: ${messageOf(error)}` }], versions: [] };
  }
  const history = await readHistory(directory, file.name);
  const problems: SchemaProblem[] = [];
  history.forEach((entry, index) => {
    if (entry.version !== index + 1) {
      problems.push({ schema: file.name, version: entry.version, message: `history has v${entry.version} but no v${index + 1}; versions are never deleted` });
    }
  });
  for (const entry of history) problems.push(...(await checkVersion(current, file.name, entry)));
  return { problems, versions: history.map((entry) => entry.version) };
}

/** Checks every current schema of `<directory>/avro` against its whole history. */
export async function checkSchemas(directory: string): Promise<SchemaCheckReport> {
  const files = await readSchemaFiles(directory);
  const problems: SchemaProblem[] = [];
  const unfrozen: string[] = [];
  const checked: { schema: string; versions: number[] }[] = [];
  for (const file of files) {
    const result = await checkSchema(file, directory);
    problems.push(...result.problems);
    if (result.versions.length === 0 && result.problems.length === 0) unfrozen.push(file.name);
    else checked.push({ schema: file.name, versions: result.versions });
  }
  const currentNames = new Set(files.map((file) => file.name));
  for (const orphan of (await listDirectory(historyDirectoryOf(directory))).sort()) {
    if (!currentNames.has(orphan)) {
      problems.push({
        schema: orphan,
        version: null,
        message: `history exists but schemas/avro/${orphan}.avsc is gone; records of it may still be on the topic (retire the topic before deleting the history)`,
      });
    }
  }
  return { problems, unfrozen, checked };
}

export interface FrozenSchema {
  readonly schema: string;
  readonly version: number;
  readonly status: 'frozen' | 'unchanged';
}

export function formatProblems(problems: readonly SchemaProblem[]): string {
  return problems.map((problem) => `  ${problem.schema}${problem.version === null ? '' : ` v${problem.version}`}: ${problem.message}`).join('\n');
}

/**
 * Freezes every schema whose current text differs from its latest history version: writes
 * `v<N+1>.avsc` with its golden fixture. Refuses while the check finds problems, so history only
 * ever holds versions that evolved correctly.
 */
export async function freezeSchemas(directory: string): Promise<FrozenSchema[]> {
  const report = await checkSchemas(directory);
  if (report.problems.length > 0) {
    throw new PipelineError(`refusing to freeze schemas that fail the compatibility check:\n${formatProblems(report.problems)}`);
  }
  const results: FrozenSchema[] = [];
  for (const file of await readSchemaFiles(directory)) {
    const current = parseAvroSchema(file.json as object);
    const history = await readHistory(directory, file.name);
    const latest = history.at(-1);
    if (latest !== undefined) {
      const latestType = parseAvroSchema(parseSchemaText(await readFile(latest.schemaPath, 'utf8'), latest.schemaPath) as object);
      if (normalizedSchemaOf(latestType) === normalizedSchemaOf(current)) {
        results.push({ schema: file.name, version: latest.version, status: 'unchanged' });
        continue;
      }
    }
    const entry = historyVersion(directory, file.name, (latest?.version ?? 0) + 1);
    const fixture = encodeFixture(current, `${file.name} v${entry.version}`);
    await mkdir(historyDirectoryOf(directory, file.name), { recursive: true });
    // `wx`: a version, once written, is never overwritten.
    await writeFile(entry.schemaPath, file.text, { encoding: 'utf8', flag: 'wx' });
    await writeFile(entry.fixtureHexPath, `${fixture.hex}\n`, { encoding: 'utf8', flag: 'wx' });
    await writeFile(entry.fixtureJsonPath, `${JSON.stringify(fixture.json, null, 2)}\n`, { encoding: 'utf8', flag: 'wx' });
    results.push({ schema: file.name, version: entry.version, status: 'frozen' });
  }
  return results;
}
