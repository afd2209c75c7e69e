// `stack reset`: deletes the local stack's data (STACK_DATA_DIR) so the next `npm start` begins
// clean — Kafka, PostgreSQL, the registry and the chain together. It stops nothing: while a service
// of the stack still runs on that directory it refuses, and without --yes it only says what it
// would delete.
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { isProcessAlive } from '../stack/pid-file.ts';
import { readOptional } from '../stack/read-optional.ts';

export type StackResetOutcome =
  | { readonly kind: 'nothing'; readonly dataDirectory: string }
  | { readonly kind: 'needs-confirmation'; readonly dataDirectory: string; readonly entries: readonly string[] }
  | { readonly kind: 'running'; readonly dataDirectory: string; readonly running: readonly string[] }
  | { readonly kind: 'deleted'; readonly dataDirectory: string; readonly entries: readonly string[] };

/** Pid files the stack's services write in their directories (postmaster.pid's first line is the pid too). */
const pidFileNames = new Set(['evm.pid', 'kafka.pid', 'schema-registry.pid', 'changenow-simulator.pid', 'postmaster.pid']);
/** Bounds the walk: the pid files sit one or two levels down. */
const pidFileDepthMax = 3;

async function livePidFiles(directory: string, depth: number): Promise<string[]> {
  if (depth > pidFileDepthMax) return [];
  const found: string[] = [];
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const entryPath = path.join(directory, entry.name);
    if (entry.isDirectory()) found.push(...(await livePidFiles(entryPath, depth + 1)));
    else if (pidFileNames.has(entry.name)) {
      const pid = Number.parseInt(((await readOptional(entryPath)) ?? '').split('\n')[0] ?? '', 10);
      if (await isProcessAlive(pid)) found.push(`${path.relative(directory, entryPath) || entry.name} (pid ${pid})`);
    }
  }
  return found;
}

export async function resetStackData(dataDirectoryOption: string, confirmed: boolean): Promise<StackResetOutcome> {
  const dataDirectory = path.resolve(dataDirectoryOption);
  const exists = await stat(dataDirectory).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
  if (!exists) return { kind: 'nothing', dataDirectory };
  const entries = (await readdir(dataDirectory)).sort();
  const running = await livePidFiles(dataDirectory, 1);
  if (running.length > 0) return { kind: 'running', dataDirectory, running };
  if (!confirmed) return { kind: 'needs-confirmation', dataDirectory, entries };
  await rm(dataDirectory, { recursive: true, force: true });
  return { kind: 'deleted', dataDirectory, entries };
}

export function describeStackReset(outcome: StackResetOutcome): string {
  switch (outcome.kind) {
    case 'nothing':
      return `nothing to delete: ${outcome.dataDirectory} does not exist`;
    case 'running':
      return `not deleted: the stack still runs on ${outcome.dataDirectory} (${outcome.running.join(', ')}); stop it first (Ctrl-C in \`npm start\`)`;
    case 'needs-confirmation':
      return `would delete ${outcome.dataDirectory} (${outcome.entries.join(', ') || 'empty'}): Kafka's topics, PostgreSQL's ledger and every other local stack service's data. Run again with --yes to delete it.`;
    case 'deleted':
      return `deleted ${outcome.dataDirectory} (${outcome.entries.join(', ') || 'empty'}); \`npm start\` begins with a fresh stack`;
  }
}
