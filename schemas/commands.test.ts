// Proves the `schemas` commands print a short report and throw a PipelineError on failure, by
// running them on a temporary `schemas/` layout with a captured printer (the registry-facing
// commands are covered by registry.int.test.ts).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PipelineError } from '../core/errors.ts';
import { runSchemasCheck, runSchemasCodegen, runSchemasFreeze } from './commands.ts';

const schema = {
  type: 'record',
  name: 'PipelineConfig',
  namespace: 'test.pipeline',
  fields: [{ name: 'threshold_usd', type: { type: 'bytes', logicalType: 'decimal', precision: 28, scale: 8 } }],
};

let directory: string;
let lines: string[];
const print = (line: string): void => void lines.push(line);

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'schemas-commands-'));
  lines = [];
  await mkdir(join(directory, 'avro'));
  await writeFile(join(directory, 'avro', 'pipeline-config.avsc'), JSON.stringify(schema));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('schemas commands', () => {
  it('check reports a new schema, freeze records it, and check then reads it', async () => {
    await runSchemasCheck({ directory, print });
    expect(lines).toEqual(['pipeline-config: new, not frozen (run `schemas freeze` once it is final)', 'schemas: compatible']);

    lines = [];
    await runSchemasFreeze({ directory, print });
    expect(lines).toEqual(['pipeline-config: froze v1', 'froze 1 schema version; commit schemas/history']);

    lines = [];
    await runSchemasFreeze({ directory, print });
    expect(lines).toEqual(['pipeline-config: unchanged since v1', 'nothing to freeze']);

    lines = [];
    await runSchemasCheck({ directory, print });
    expect(lines).toEqual(['pipeline-config: reads v1', 'schemas: compatible']);
  });

  it('check throws a PipelineError listing each problem', async () => {
    await runSchemasFreeze({ directory, print });
    const rescaled = { ...schema, fields: [{ name: 'threshold_usd', type: { type: 'bytes', logicalType: 'decimal', precision: 28, scale: 2 } }] };
    await writeFile(join(directory, 'avro', 'pipeline-config.avsc'), JSON.stringify(rescaled));
    const failure = runSchemasCheck({ directory, print });
    await expect(failure).rejects.toBeInstanceOf(PipelineError);
    await expect(failure).rejects.toThrow(/schema check failed \(1 problem\):\n {2}pipeline-config v1: field "threshold_usd": decimal scale changed from 8 to 2/);
  });

  it('codegen writes, then --check passes, and fails when a schema changed', async () => {
    await expect(runSchemasCodegen({ check: true, directory, print })).rejects.toBeInstanceOf(PipelineError);
    await runSchemasCodegen({ check: false, directory, print });
    await runSchemasCodegen({ check: true, directory, print });
    expect(lines).toEqual([`wrote ${join(directory, 'generated', 'records.ts')}`, `${join(directory, 'generated', 'records.ts')} is up to date`]);
    await writeFile(join(directory, 'avro', 'pipeline-config.avsc'), JSON.stringify({ ...schema, doc: 'now documented' }));
    await expect(runSchemasCodegen({ check: true, directory, print })).rejects.toThrow(/out of date/);
  });
});
