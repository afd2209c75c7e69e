// Proves startNativePostgres runs a real PostgreSQL from the npm binaries (as root or not), keeps data
// across restarts, explains a taken port, and recovers from the postmaster.pid and orphaned server
// that a SIGKILLed parent leaves behind — by starting real servers in temp directories.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNativePostgres } from './start-native-postgres.ts';
import { createTestDirectory, findFreePort, testLogger } from './start-test-postgres.ts';

const log = testLogger();
const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
let baseDirectory: string;

beforeAll(async () => {
  baseDirectory = await createTestDirectory('payout-native-pg-');
});

afterAll(async () => {
  await rm(baseDirectory, { recursive: true, force: true });
});

async function query<Row extends pg.QueryResultRow>(databaseUrl: string, text: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<Row>(text)).rows;
  } finally {
    await client.end();
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  }
  return condition();
}

describe('startNativePostgres', () => {
  it('initialises an empty directory, answers select 1, and keeps data across a restart', { timeout: 60_000 }, async () => {
    const dataDirectory = join(baseDirectory, 'restart');
    const port = await findFreePort();
    const first = await startNativePostgres({ port, dataDirectory, log, database: 'keeps_data' });
    try {
      expect(first.databaseUrl).toBe(`postgres://postgres:postgres@127.0.0.1:${port}/keeps_data`);
      expect(first.pid).toBeGreaterThan(0);
      expect(await query(first.databaseUrl, 'select 1 as one')).toEqual([{ one: 1 }]);
      await query(first.databaseUrl, "create table kept (note text); insert into kept values ('survives a restart')");
    } finally {
      await first.stop();
    }
    await first.stop(); // idempotent
    expect(isRunning(first.pid ?? 0)).toBe(false);

    const second = await startNativePostgres({ port, dataDirectory, log, database: 'keeps_data' });
    try {
      expect(await query(second.databaseUrl, 'select note from kept')).toEqual([{ note: 'survives a restart' }]);
    } finally {
      await second.stop();
    }
  });

  it('reports a taken port clearly, naming POSTGRES_PORT', { timeout: 30_000 }, async () => {
    const squatter = createServer();
    squatter.listen({ port: 0, host: '127.0.0.1' });
    await once(squatter, 'listening');
    const address = squatter.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      await expect(startNativePostgres({ port, dataDirectory: join(baseDirectory, 'clash'), log })).rejects.toThrow(
        new RegExp(`PostgreSQL cannot listen on port ${port}: the port is already in use.*POSTGRES_PORT`),
      );
    } finally {
      squatter.close();
    }
  });

  it('removes a postmaster.pid whose process is dead or is not PostgreSQL', { timeout: 60_000 }, async () => {
    const dataDirectory = join(baseDirectory, 'stale');
    const port = await findFreePort();
    await (await startNativePostgres({ port, dataDirectory, log })).stop();

    const finished = spawn('true');
    await once(finished, 'exit');
    const unrelated = spawn('sleep', ['60']);
    try {
      for (const stalePid of [finished.pid, unrelated.pid]) {
        await writeFile(join(dataDirectory, 'postmaster.pid'), `${stalePid}\n${dataDirectory}\n`);
        const server = await startNativePostgres({ port, dataDirectory, log });
        try {
          expect(await query(server.databaseUrl, 'select 1 as one')).toEqual([{ one: 1 }]);
        } finally {
          await server.stop();
        }
      }
      expect(unrelated.exitCode).toBeNull(); // the unrelated live process was left alone
    } finally {
      unrelated.kill();
    }
  });

  it('stops the server a SIGKILLed parent left running, then starts its own', { timeout: 90_000 }, async () => {
    const dataDirectory = join(baseDirectory, 'orphan');
    const port = await findFreePort();
    const script = join(baseDirectory, 'orphan-parent.mts');
    await writeFile(
      script,
      [
        `import { startNativePostgres } from ${JSON.stringify(pathToFileURL(join(repositoryRoot, 'stack/postgres/start-native-postgres.ts')).href)};`,
        `import { createLogger } from ${JSON.stringify(pathToFileURL(join(repositoryRoot, 'core/logger.ts')).href)};`,
        `const server = await startNativePostgres({ port: ${port}, dataDirectory: ${JSON.stringify(dataDirectory)}, log: createLogger({ name: 'orphan', level: 'silent' }) });`,
        `process.stdout.write(JSON.stringify({ pid: server.pid }) + '\\n');`,
        'setInterval(() => undefined, 60_000);',
      ].join('\n'),
    );
    // node itself, not the tsx wrapper: the wrapper would leave its inner node alive after SIGKILL.
    const parent = spawn(process.execPath, ['--import', 'tsx', script], { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(createInterface({ input: parent.stdout }), 'line')) as [string];
    const orphanPid = (JSON.parse(line) as { pid: number }).pid;
    parent.kill('SIGKILL');
    await once(parent, 'exit');
    expect(isRunning(orphanPid)).toBe(true);

    const server = await startNativePostgres({ port, dataDirectory, log });
    try {
      expect(await waitUntil(() => !isRunning(orphanPid), 5_000)).toBe(true);
      expect(server.pid).not.toBe(orphanPid);
      expect(await query(server.databaseUrl, 'select 1 as one')).toEqual([{ one: 1 }]);
    } finally {
      await server.stop();
    }
  });

  it('refuses a directory that holds something other than a cluster', { timeout: 30_000 }, async () => {
    const dataDirectory = join(baseDirectory, 'not-a-cluster');
    await mkdir(dataDirectory, { recursive: true });
    await writeFile(join(dataDirectory, 'notes.txt'), 'precious');
    await expect(startNativePostgres({ port: await findFreePort(), dataDirectory, log })).rejects.toThrow(
      /neither empty nor a PostgreSQL data directory/,
    );
    expect((await stat(join(dataDirectory, 'notes.txt'))).uid).toBe(process.getuid?.()); // left untouched
  });

  it.runIf(process.getuid?.() === 0)('as root, says which directory the postgres OS user cannot enter', { timeout: 30_000 }, async () => {
    const closed = await mkdtemp(join(tmpdir(), 'payout-closed-')); // 0700, owned by root
    try {
      await expect(startNativePostgres({ port: await findFreePort(), dataDirectory: join(closed, 'data'), log })).rejects.toThrow(
        new RegExp(`cannot enter ${closed} .*chmod o\\+x ${closed}`),
      );
    } finally {
      await rm(closed, { recursive: true, force: true });
    }
  });
});
