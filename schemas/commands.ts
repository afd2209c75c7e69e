// The `schemas …` CLI commands as plain functions: each prints a short report and throws a
// PipelineError when it fails, so the CLI only maps the throw to a non-zero exit code.
import { PipelineError } from '../core/errors.ts';
import { topicDefinitions } from '../topics/topics.ts';
import { syncRecordsModule } from './codegen.ts';
import { checkSchemas, formatProblems, freezeSchemas } from './compatibility.ts';
import { checkAgainstRegistry, registerValueSchemas, type SchemaRegistryAccess } from './registry.ts';
import { schemasDirectory } from './schema-files.ts';

/** Where a command prints and which `schemas/` it works on; tests swap both. */
export interface CommandEnvironment {
  print?: (line: string) => void;
  directory?: string;
}

function environmentOf(options: CommandEnvironment): { print: (line: string) => void; directory: string } {
  return { print: options.print ?? ((line) => process.stdout.write(`${line}\n`)), directory: options.directory ?? schemasDirectory };
}

/** `schemas codegen [--check]`: writes schemas/generated/records.ts, or with check fails when it is stale. */
export async function runSchemasCodegen(options: { check: boolean } & CommandEnvironment): Promise<void> {
  const { print, directory } = environmentOf(options);
  const result = await syncRecordsModule({ directory, check: options.check });
  print(result.status === 'unchanged' ? `${result.path} is up to date` : `wrote ${result.path}`);
}

/** `schemas check [--registry-url]`: the offline evolution check, and against the registry when given. */
export async function runSchemasCheck(options: { registry?: SchemaRegistryAccess } & CommandEnvironment): Promise<void> {
  const { print, directory } = environmentOf(options);
  const report = await checkSchemas(directory);
  for (const { schema, versions } of report.checked) print(`${schema}: reads v${versions.join(', v')}`);
  for (const schema of report.unfrozen) print(`${schema}: new, not frozen (run \`schemas freeze\` once it is final)`);
  const problems = [...report.problems];
  if (options.registry !== undefined) {
    const registry = await checkAgainstRegistry(options.registry, topicDefinitions);
    for (const subject of registry.compatible) print(`${subject}: compatible with the registry's latest`);
    for (const subject of registry.unregistered) print(`${subject}: not registered yet`);
    problems.push(...registry.problems);
  }
  if (problems.length > 0) {
    throw new PipelineError(`schema check failed (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${formatProblems(problems)}`);
  }
  print('schemas: compatible');
}

/** `schemas register`: BACKWARD compatibility and every value schema under `<topic>-value`. */
export async function runSchemasRegister(options: { registry: SchemaRegistryAccess } & CommandEnvironment): Promise<void> {
  const { print } = environmentOf(options);
  const rows = await registerValueSchemas(options.registry, topicDefinitions);
  for (const row of rows) print(`${row.subject}: ${row.schemaName} id ${row.id}${row.version === undefined ? '' : ` version ${row.version}`}`);
  print(`registered ${rows.length} value schemas at ${options.registry.url}`);
}

/** `schemas freeze`: records every changed schema as the next history version with its golden fixture. */
export async function runSchemasFreeze(options: CommandEnvironment = {}): Promise<void> {
  const { print, directory } = environmentOf(options);
  const results = await freezeSchemas(directory);
  for (const result of results) print(`${result.schema}: ${result.status === 'frozen' ? `froze v${result.version}` : `unchanged since v${result.version}`}`);
  const frozen = results.filter((result) => result.status === 'frozen').length;
  print(frozen === 0 ? 'nothing to freeze' : `froze ${frozen} schema version${frozen === 1 ? '' : 's'}; commit schemas/history`);
}
