// docs/configuration.md is generated from the zod schema in core/config.ts, so the reference can
// never disagree with what a process accepts: the format of each variable is read from the
// schema's own checks, its default from the schema's default, its text from `.describe()`.
// `--check` (part of `npm test`) fails, naming the variables that differ, when the file is stale.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { configSchema } from '../core/config.ts';
import { PipelineError } from '../core/errors.ts';

export const configReferencePath = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

/** One row of the reference: what the schema says about one environment variable. */
export interface ConfigVariable {
  name: string;
  format: string;
  defaultText: string;
  description: string;
}

/** Variables some code reads outside the schema (tests and tooling only); listed by hand below the table. */
const outsideTheSchema: readonly (readonly [string, string])[] = [
  ['PIPELINE_FAILPOINTS', 'Tests only: comma-separated steps at which a process SIGKILLs itself (`core/failpoints.ts`).'],
  ['TEST_STACK_LOG_LEVEL', 'Log level of the stack the tests start (default `warn`; `test/global-setup.ts`).'],
  ['TEST_PROCESS_LOG_LEVEL', 'Log level of the processor processes the tests start (`test/support/processor-process.ts`).'],
  ['CRASH_TEST_SEED', 'Reruns the crash test with a printed seed (`test/pipeline-crash.e2e.test.ts`).'],
  ['ADMIN_FUZZ_SEED', "Reruns the admin API's fuzz test with a printed seed (`processors/admin/admin-fuzz.int.test.ts`)."],
  ['JAVA_HOME', 'The JDK the native Kafka and schema registry run on (else `java` on the PATH).'],
];

function numberFormatOf(schema: z.ZodNumber): string {
  const parts: string[] = [schema.isInt ? 'integer' : 'number'];
  for (const check of schema._def.checks) {
    if (check.kind === 'min') parts.push(`${check.inclusive ? '≥' : '>'} ${check.value}`);
    if (check.kind === 'max') parts.push(`${check.inclusive ? '≤' : '<'} ${check.value}`);
  }
  return parts.join(', ');
}

function stringFormatOf(schema: z.ZodString): string {
  const parts: string[] = [];
  for (const check of schema._def.checks) {
    if (check.kind === 'regex') parts.push(check.message ?? `matching \`${check.regex.source}\``);
    else if (check.kind === 'url') parts.push('a URL');
    else if (check.kind === 'min') parts.push(check.message ?? (check.value === 1 ? 'non-empty text' : `at least ${check.value} characters`));
  }
  return parts.length === 0 ? 'text' : parts.join(', ');
}

/** A zod schema found inside another one's definition (zod types those as `any`). */
function zodOf(value: unknown, where: string): z.ZodTypeAny {
  if (!(value instanceof z.ZodType)) throw new PipelineError(`config reference: ${where} is not a zod schema`);
  return value;
}

function listOf(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value.map((item: unknown) => item) : [];
}

/** The accepted input of a schema, in words; wrappers (optional, default, transforms, refinements) are looked through. */
export function formatOf(schema: z.ZodTypeAny): string {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault) return formatOf(zodOf(schema._def.innerType, 'an inner type'));
  if (schema instanceof z.ZodEffects) return formatOf(zodOf(schema._def.schema, 'an effect\'s schema'));
  if (schema instanceof z.ZodNumber) return numberFormatOf(schema);
  if (schema instanceof z.ZodString) return stringFormatOf(schema);
  if (schema instanceof z.ZodEnum) return `one of ${listOf(schema._def.values).map((option) => `\`${String(option)}\``).join(', ')}`;
  if (schema instanceof z.ZodLiteral) return `\`${String(schema._def.value)}\``;
  if (schema instanceof z.ZodUnion) return listOf(schema._def.options).map((option) => formatOf(zodOf(option, 'a union member'))).join(', or ');
  throw new PipelineError(`config reference: no format for a ${schema.constructor.name}; teach formatOf about it`);
}

/** The default as written in the environment, or `—` when the variable has none. */
export function defaultTextOf(schema: z.ZodTypeAny): string {
  if (schema instanceof z.ZodDefault) {
    const value: unknown = schema._def.defaultValue();
    return typeof value === 'string' || typeof value === 'number' ? `\`${value}\`` : '—';
  }
  if (schema instanceof z.ZodOptional) return defaultTextOf(zodOf(schema._def.innerType, 'an inner type'));
  return '—';
}

export function configVariablesOf(schema: z.ZodObject<z.ZodRawShape>): ConfigVariable[] {
  const shape: Record<string, unknown> = schema.shape;
  return Object.entries(shape).map(([name, value]) => {
    const field = zodOf(value, name);
    if (field.description === undefined) throw new PipelineError(`config reference: ${name} has no .describe() in core/config.ts`);
    return { name, format: formatOf(field), defaultText: defaultTextOf(field), description: field.description };
  });
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

export function renderConfigReference(variables: readonly ConfigVariable[]): string {
  const lines = [
    '# Configuration',
    '',
    'Every environment variable a process of the pipeline reads, with the format it accepts, its default and',
    'what it does. Configuration is read once at start-up by one zod schema (`core/config.ts`); a bad value',
    'stops the process with a message naming the variable, and an empty value counts as unset. Durations are',
    'written `500ms`, `30s`, `15m`, `24h` or `90d`; money amounts are plain decimals, read exactly.',
    '',
    '<!-- Generated by `npm run docs:config` (cli/config-reference.ts) from the schema in core/config.ts. Do not edit: change the schema\'s .describe() and regenerate; `npm test` fails while this file is stale. -->',
    '',
    '| variable | format | default | description |',
    '| --- | --- | --- | --- |',
    ...variables.map(({ name, format, defaultText, description }) => `| \`${name}\` | ${cell(format)} | ${cell(defaultText)} | ${cell(description)} |`),
    '',
    '## Read outside the schema',
    '',
    'Tests and tooling read these directly; no processor does.',
    '',
    '| variable | meaning |',
    '| --- | --- |',
    ...outsideTheSchema.map(([name, meaning]) => `| \`${name}\` | ${cell(meaning)} |`),
    '',
  ];
  return lines.join('\n');
}

/** Names the rows that differ between the committed reference and the one the schema gives, for `--check`. */
export function describeDifference(expected: string, actual: string): string[] {
  const expectedLines = expected.split('\n');
  const actualLines = new Set(actual.split('\n'));
  const missing = expectedLines.filter((line) => !actualLines.has(line));
  const expectedSet = new Set(expectedLines);
  const extra = actual.split('\n').filter((line) => !expectedSet.has(line));
  const nameOf = (line: string): string => /^\| `([A-Z0-9_]+)`/.exec(line)?.[1] ?? (line.trim() === '' ? '(blank line)' : line.slice(0, 80));
  return [
    ...missing.map((line) => `missing or changed: ${nameOf(line)}`),
    ...extra.map((line) => `not in the schema or changed: ${nameOf(line)}`),
  ];
}

/** `docs config [--check]`: writes docs/configuration.md, or with check fails naming what is stale. */
export async function syncConfigReference(options: { check: boolean; path?: string; print?: (line: string) => void }): Promise<void> {
  const path = options.path ?? configReferencePath;
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const expected = renderConfigReference(configVariablesOf(configSchema));
  const actual = await readFile(path, 'utf8').catch((error: unknown) => {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return '';
    throw error;
  });
  if (actual === expected) {
    print(`${path} is up to date`);
    return;
  }
  if (options.check) {
    const differences = describeDifference(expected, actual);
    throw new PipelineError(
      `${path} is stale; run \`npm run docs:config\`:\n  ${(differences.length === 0 ? ['line order differs'] : differences).join('\n  ')}`,
    );
  }
  await writeFile(path, expected);
  print(`wrote ${path}`);
}
