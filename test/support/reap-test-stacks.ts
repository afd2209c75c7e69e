// A test run killed before its teardown (Ctrl-C twice, a timeout, a SIGKILLed vitest) leaves its
// stack running in .cache/test-stack/run-<pid>: the services run in their own process groups on
// purpose. Each new run stops the stacks of runs whose process is gone, and deletes their data.
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../core/logger.ts';
import { isProcessAlive, stopOrphanedProcess } from '../../stack/pid-file.ts';

const serviceProcesses = [
  { pidFile: 'kafka/kafka.pid', description: 'Kafka broker' },
  { pidFile: 'schema-registry/schema-registry.pid', description: 'schema registry' },
  { pidFile: 'postgres/postmaster.pid', description: 'PostgreSQL' },
  { pidFile: 'evm/evm.pid', description: 'local EVM node' },
  { pidFile: 'changenow-simulator/changenow-simulator.pid', description: 'ChangeNow simulator' },
] as const;

export async function reapAbandonedTestStacks(testStackRoot: string, log: Logger): Promise<number> {
  const entries = await readdir(testStackRoot, { withFileTypes: true }).catch(() => []);
  let reaped = 0;
  for (const entry of entries) {
    const match = /^run-(\d+)$/.exec(entry.name);
    if (!entry.isDirectory() || match === null || (await isProcessAlive(Number(match[1])))) continue;
    const runDirectory = path.join(testStackRoot, entry.name);
    for (const service of serviceProcesses) {
      await stopOrphanedProcess({
        pidFile: path.join(runDirectory, service.pidFile),
        description: service.description,
        isOurs: (args) => args.some((argument) => argument.includes(runDirectory)),
        graceMs: 10_000,
        log,
      });
    }
    await rm(runDirectory, { recursive: true, force: true });
    reaped += 1;
  }
  return reaped;
}
