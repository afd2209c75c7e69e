// The image's HEALTHCHECK (node:20-slim has no curl): `node dist/cli/healthcheck.js`. It finds which
// processor the container runs from the main process's own arguments (`run <name>`, PID 1 in the
// container), takes that processor's port from the same configuration, and asks its /ready.
// Exit 0 when ready, 1 otherwise — what Docker reads.
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../core/config.ts';
import { isProcessorName, processorOperationsPort, type ProcessorName } from './processor-names.ts';

/** The processor named after `run` in a command line, if any. */
export function processorOfCommandLine(args: readonly string[]): ProcessorName | undefined {
  const name = args[args.indexOf('run') + 1];
  return args.includes('run') && name !== undefined && isProcessorName(name) ? name : undefined;
}

async function main(): Promise<number> {
  const args = (await readFile('/proc/1/cmdline', 'utf8')).split('\0').filter((arg) => arg !== '');
  const name = processorOfCommandLine(args);
  if (name === undefined) {
    process.stderr.write(`no "run <processor>" in the container's command line: ${args.join(' ')}\n`);
    return 1;
  }
  const port = processorOperationsPort(name, loadConfig());
  try {
    const response = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(4_000) });
    return response.status === 200 ? 0 : 1;
  } catch (error) {
    process.stderr.write(`${name} /ready on port ${port}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

if (process.argv[1]?.endsWith('healthcheck.js') === true || process.argv[1]?.endsWith('healthcheck.ts') === true) {
  process.exitCode = await main();
}
