// A real schema registry (Apicurio Registry 2.4.2, through its Confluent-compatible API) run
// straight from Maven Central jars, because the dev box has Java and Maven but no Docker. Records in
// Kafka carry the registry's schema ids in the Confluent wire format, so the registry's id
// assignment, subject versions and compatibility checks are what this service must get right; a
// real implementation gets them right without the project maintaining its own.
//
// The JVM listens on a private loopback port; ccompat-proxy.ts serves its Confluent API at the
// root of the public port, like Confluent's registry.
//
// Known differences from Confluent's registry that remain (all checked against this build):
// - compatibility checks use Apache Avro's resolution rules, which ignore logical types: a changed
//   decimal precision or scale is accepted. The project's own schema check has to catch that.
// - POST /subjects/{subject} with a schema the subject lacks answers 40401, not 40403.
// - GET /config/{subject} on a subject without its own level answers 200 NONE, not 404 40408;
//   an unknown subject answers 404 40401.
// - a subject level of NONE cannot switch checking off under a global level: Apicurio stores NONE
//   as "no subject rule", and the global rule then applies.
// - schema ids are content ids: the same schema text under two subjects shares one id, like
//   Confluent, but the text is compared byte for byte, so register normalised JSON.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { PipelineError, UnavailableError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { assertPortFree, type RunningService } from '../service.ts';
import { ccompatApiPath, startCcompatProxy, type RunningCcompatProxy } from './ccompat-proxy.ts';

export interface SchemaRegistryOptions {
  port: number;
  /** Holds the H2 database (the registry's state), its console output and its pid file. */
  dataDirectory: string;
  log: Logger;
  /** Holds the Maven-built registry, shared by every data directory. Default `<repo>/.cache/schema-registry`. */
  cacheDirectory?: string;
  /** How long to wait for the registry to answer after its JVM starts. Default 60 s. */
  readyTimeoutMs?: number;
}

export type RunningSchemaRegistry = RunningService & {
  /** Base URL of the Confluent-compatible API, e.g. `http://127.0.0.1:8081`; pass it as `host` to clients. */
  url: string;
  /** The registry JVM's pid. */
  pid: number;
};

const pomPath = fileURLToPath(new URL('./pom.xml', import.meta.url));
const defaultCacheDirectory = fileURLToPath(new URL('../../.cache/schema-registry', import.meta.url));
const runnerJarName = 'apicurio-registry-runner.jar';

const defaultReadyTimeoutMs = 60_000;
const shutdownGraceMs = 10_000;
const killWaitMs = 5_000;

// Confluent's default. Apicurio starts with no global rule (NONE), which would accept any change.
const initialGlobalCompatibility = 'BACKWARD';

const jvmOptions = [
  // Measured: about 220 MB resident with this heap; the registry holds a handful of small schemas.
  '-Xmx256m',
  '-XX:+UseSerialGC',
  // C1 only: faster start-up (about 3 s here), and the registry's load is a few requests at process start.
  '-XX:TieredStopAtLevel=1',
  '-XX:+ExitOnOutOfMemoryError',
  '-Djava.awt.headless=true',
];

/** Starts (or restarts on existing data) the registry and resolves once its Confluent API answers. */
export async function startSchemaRegistry(options: SchemaRegistryOptions): Promise<RunningSchemaRegistry> {
  const { port, log } = options;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new PipelineError(`SCHEMA_REGISTRY_PORT must be a TCP port (1-65535), got ${port}.`, { context: { port } });
  }
  const dataDirectory = path.resolve(options.dataDirectory);
  // The path ends up inside a JDBC URL, where `;` starts a setting.
  if (dataDirectory.includes(';')) {
    throw new PipelineError(`The schema registry's data directory must not contain ';': ${dataDirectory}`, { context: { dataDirectory } });
  }
  const cacheDirectory = path.resolve(options.cacheDirectory ?? defaultCacheDirectory);
  const readyTimeoutMs = options.readyTimeoutMs ?? defaultReadyTimeoutMs;
  const files = dataFiles(dataDirectory);
  // 127.0.0.1, not localhost: Node may resolve localhost to ::1 first, where nothing listens.
  const url = `http://127.0.0.1:${port}`;

  await mkdir(files.databaseDirectory, { recursive: true });
  // Before the port check: a registry orphaned by a SIGKILLed parent is the usual holder of the
  // port, and it also holds the H2 file lock a new one would fail on.
  await stopOrphanedRegistry(files.pidFile, dataDirectory, log);
  await assertPortFree(port, 'Schema registry', 'SCHEMA_REGISTRY_PORT');

  const applicationDirectory = await buildRegistry(cacheDirectory, log);
  // Picked just before the JVM binds it; another process taking it in between makes the start
  // fail loudly (Quarkus cannot bind), never talk to the wrong server.
  const jvmPort = await freeLoopbackPort();
  const jvmUrl = `http://127.0.0.1:${jvmPort}${ccompatApiPath}`;

  const startedAt = Date.now();
  const output = await open(files.consoleLog, 'w');
  let child: ChildProcess;
  try {
    child = spawn(
      javaExecutable(),
      [
        ...jvmOptions,
        // Marks the process as this data directory's registry, for stopOrphanedRegistry.
        `${dataDirectoryMarker}${dataDirectory}`,
        // Quarkus listens on every interface by default; nothing outside this machine may register schemas.
        '-Dquarkus.http.host=127.0.0.1',
        '-jar',
        path.join(applicationDirectory, runnerJarName),
      ],
      {
        // Narayana (the JTA transaction manager) keeps its object store relative to the working directory.
        cwd: dataDirectory,
        env: {
          ...process.env,
          // Apicurio's application.properties binds these for its `prod` profile, where a plain
          // -Dquarkus.* system property would lose to the profile-specific value.
          HTTP_PORT: String(jvmPort),
          // WRITE_DELAY=0: H2 otherwise writes commits to its file lazily, and a registry killed before
          // that would later hand out again an id that records already in Kafka point at.
          REGISTRY_DATASOURCE_URL: `jdbc:h2:file:${path.join(files.databaseDirectory, 'registry')};WRITE_DELAY=0`,
        },
        // Own process group: a Ctrl-C on the terminal must not stop the registry before the
        // processors that still need it to decode.
        detached: true,
        // Straight to a file, not a pipe: the registry must not stall if this process stops reading.
        stdio: ['ignore', output.fd, output.fd],
      },
    );
  } finally {
    await output.close();
  }

  const exited = new Promise<ExitState>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
  });
  let exitState: ExitState | undefined;
  void exited.then((state) => {
    exitState = state;
  });

  const pid = child.pid;
  if (pid === undefined) {
    const state = await exited;
    throw new PipelineError(
      `Could not start ${javaExecutable()} for the schema registry: ${state.error?.message ?? 'unknown error'}. Is Java 17+ installed (or JAVA_HOME set)?`,
      { cause: state.error, context: { dataDirectory } },
    );
  }
  await writeFile(files.pidFile, `${pid}\n`);
  log.info({ pid, port, jvmPort, dataDirectory }, 'Schema registry process started, waiting until it answers');

  let ready = false;
  let stopRequested = false;
  let stopping: Promise<void> | undefined;
  let proxy: RunningCcompatProxy | undefined;
  const terminate = async (): Promise<void> => {
    stopRequested = true;
    await proxy?.close();
    if (exitState === undefined) {
      child.kill('SIGTERM');
      const graceful = await Promise.race([exited.then(() => true), sleep(shutdownGraceMs, false)]);
      if (!graceful) {
        log.warn({ pid, graceMs: shutdownGraceMs }, 'Schema registry did not shut down in time, killing it');
        child.kill('SIGKILL');
        await exited;
      }
    }
    await removePidFileIfOurs(files.pidFile, pid);
    log.info({ pid }, 'Schema registry stopped');
  };
  const stop = (): Promise<void> => (stopping ??= terminate());

  void exited.then(async (state) => {
    if (!ready || stopRequested) return;
    const tail = await consoleTail(files.consoleLog).catch(() => '(registry output unreadable)');
    log.error({ pid, code: state.code, signal: state.signal, tail }, 'Schema registry exited unexpectedly');
  });

  try {
    await waitUntilReady({ url: jvmUrl, readyTimeoutMs, exited, isExited: () => exitState !== undefined });
    await initialiseGlobalCompatibilityOnce(jvmUrl, files.globalCompatibilityMarker, log);
    proxy = await startCcompatProxy({ port, upstreamPort: jvmPort, log });
  } catch (error) {
    await stop();
    const tail = await consoleTail(files.consoleLog);
    if (error instanceof EarlyExit) {
      throw new PipelineError(`The schema registry exited during start-up (${describeExit(error.state)}). Its output:\n${tail}`, {
        cause: error.state.error,
        context: { dataDirectory, port },
      });
    }
    if (error instanceof PipelineError) throw error;
    throw new UnavailableError(`The schema registry did not answer on ${jvmUrl} within ${readyTimeoutMs} ms; it was stopped. Its output:\n${tail}`, {
      cause: error,
      context: { dataDirectory, port },
    });
  }
  ready = true;
  log.info({ pid, url, jvmUrl, startupMs: Date.now() - startedAt }, 'Schema registry ready');

  return { name: 'schema-registry', endpoint: url, url, pid, stop };
}

const dataDirectoryMarker = '-Dpayout.schemaRegistry.dataDirectory=';

interface DataFiles {
  databaseDirectory: string;
  pidFile: string;
  consoleLog: string;
  globalCompatibilityMarker: string;
}

function dataFiles(dataDirectory: string): DataFiles {
  return {
    databaseDirectory: path.join(dataDirectory, 'h2'),
    pidFile: path.join(dataDirectory, 'schema-registry.pid'),
    consoleLog: path.join(dataDirectory, 'schema-registry.out'),
    globalCompatibilityMarker: path.join(dataDirectory, 'global-compatibility.initialised'),
  };
}

/**
 * Sets the global level once per data directory, not on every start: an operator's later change
 * (PUT /config) must survive restarts. A marker file rather than "is the database new?" so a start
 * that died between creating the database and this call tries again.
 */
async function initialiseGlobalCompatibilityOnce(url: string, marker: string, log: Logger): Promise<void> {
  if ((await readOptional(marker)) !== undefined) return;
  const response = await fetch(`${url}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: initialGlobalCompatibility }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) {
    throw new PipelineError(
      `Setting the schema registry's global compatibility to ${initialGlobalCompatibility} failed: HTTP ${response.status} ${await response.text()}`,
      { context: { url } },
    );
  }
  await writeFile(marker, `${initialGlobalCompatibility}\n`);
  log.info({ compatibility: initialGlobalCompatibility }, 'Schema registry global compatibility level initialised');
}

const builds = new Map<string, Promise<string>>();

/**
 * Returns the directory holding the runnable registry, running Maven only when pom.xml changed
 * since the last successful build. Concurrent callers in one process share a single Maven run.
 */
export async function buildRegistry(cacheDirectory: string, log: Logger): Promise<string> {
  const key = path.resolve(cacheDirectory);
  let build = builds.get(key);
  if (build === undefined) {
    build = buildUncached(key, log);
    builds.set(key, build);
    // A failure (offline, Maven missing) must not be cached: the next start should try again.
    build.catch(() => builds.delete(key));
  }
  return build;
}

async function buildUncached(cacheDirectory: string, log: Logger): Promise<string> {
  const pomHash = createHash('sha256').update(await readFile(pomPath)).digest('hex');
  // Named by the pom's hash, and never replaced once built: a registry of another process (the test
  // run's global setup, say) may be running from it, and the JVM opens jars from lib/ lazily.
  const application = path.join(cacheDirectory, `app-${pomHash.slice(0, 16)}`);
  if (await isRunnable(application)) return application;

  const startedAt = Date.now();
  log.info({ cacheDirectory }, 'Building the schema registry with Maven (the first run downloads about 230 MB, 1-3 minutes)');
  await mkdir(cacheDirectory, { recursive: true });
  // Built into a staging directory and renamed whole, so an interrupted or failed build never
  // leaves a half-filled application directory.
  const staging = path.join(cacheDirectory, `${stagingPrefix}${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  const maven = await runToCompletion('mvn', [
    '-B',
    '-q',
    '-Dstyle.color=never',
    '-f',
    pomPath,
    'package',
    '-DskipTests',
    `-Dregistry.buildDirectory=${staging}`,
  ]);
  if (maven.error !== undefined || maven.code !== 0) {
    await rm(staging, { recursive: true, force: true });
    const reason =
      maven.error === undefined
        ? `exited with code ${maven.code}`
        : `could not be started (${maven.error.message}); is Maven 3.6.3+ installed and on PATH?`;
    throw new PipelineError(`Building the schema registry with Maven failed: mvn ${reason}.\n${lastLines(maven.output, 60)}`, {
      cause: maven.error,
      context: { pom: pomPath, cacheDirectory },
    });
  }
  if (!(await isRunnable(staging))) {
    throw new PipelineError(`Maven succeeded but produced no ${runnerJarName} with lib/ in ${staging}; check ${pomPath}.`, {
      context: { pom: pomPath, cacheDirectory },
    });
  }
  // Only the runner jar and lib/ are needed to run; the unpacked classes and the plain jar are 80 MB
  // of build leftovers.
  for (const entry of await readdir(staging)) {
    if (entry !== runnerJarName && entry !== 'lib') await rm(path.join(staging, entry), { recursive: true, force: true });
  }
  try {
    await rename(staging, application);
  } catch (error) {
    // Another process finished the same build first; its copy is as good as ours.
    if (!(await isRunnable(application))) throw error;
    await rm(staging, { recursive: true, force: true });
  }
  await removeStaleBuilds(cacheDirectory, path.basename(application));
  log.info({ cacheDirectory, buildMs: Date.now() - startedAt }, 'Schema registry built');
  return application;
}

const stagingPrefix = 'build.partial-';

/** Builds of an earlier pom, and staging directories of builds whose process died, are 100-200 MB each. */
async function removeStaleBuilds(cacheDirectory: string, current: string): Promise<void> {
  for (const entry of await readdir(cacheDirectory)) {
    const stagingPid = entry.startsWith(stagingPrefix) ? Number.parseInt(entry.slice(stagingPrefix.length), 10) : undefined;
    const stale = entry.startsWith('app-') ? entry !== current : stagingPid !== undefined && !isProcessAlive(stagingPid);
    if (stale) await rm(path.join(cacheDirectory, entry), { recursive: true, force: true });
  }
}

function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function isRunnable(directory: string): Promise<boolean> {
  const [jar, libraries] = await Promise.all([
    stat(path.join(directory, runnerJarName)).catch(() => undefined),
    readdir(path.join(directory, 'lib')).catch(() => [] as string[]),
  ]);
  return jar?.isFile() === true && libraries.length > 0;
}

/**
 * A parent killed with SIGKILL cannot stop its registry, which then holds the port and the H2
 * file lock forever. Only a process that is provably this data directory's registry is touched,
 * so a recycled pid belonging to something else survives.
 */
async function stopOrphanedRegistry(pidFile: string, dataDirectory: string, log: Logger): Promise<void> {
  const recorded = Number.parseInt((await readOptional(pidFile)) ?? '', 10);
  if (!Number.isInteger(recorded) || recorded <= 0) return;
  const isOurRegistry = async (): Promise<boolean> => {
    // Any read error (ENOENT, ESRCH while it exits) means the process is gone; a zombie's cmdline is empty.
    const commandLine = await readFile(`/proc/${recorded}/cmdline`, 'utf8').catch(() => '');
    return commandLine.split('\0').includes(`${dataDirectoryMarker}${dataDirectory}`);
  };
  if (await isOurRegistry()) {
    log.warn({ pid: recorded, pidFile }, 'A schema registry from an earlier run still uses this data directory, stopping it');
    const signalled = (signal: NodeJS.Signals): boolean => {
      try {
        process.kill(recorded, signal);
        return true;
      } catch {
        return false;
      }
    };
    if (signalled('SIGTERM') && !(await waitFor(async () => !(await isOurRegistry()), shutdownGraceMs))) {
      log.warn({ pid: recorded }, 'Earlier schema registry ignored SIGTERM, killing it');
      signalled('SIGKILL');
      if (!(await waitFor(async () => !(await isOurRegistry()), killWaitMs))) {
        throw new PipelineError(`Schema registry from an earlier run (pid ${recorded}) survived SIGKILL; stop it by hand.`, {
          context: { pid: recorded, pidFile },
        });
      }
    }
  }
  await rm(pidFile, { force: true });
}

async function removePidFileIfOurs(pidFile: string, pid: number): Promise<void> {
  // A newer start on the same data directory may already have replaced the file.
  if ((await readOptional(pidFile))?.trim() === String(pid)) await rm(pidFile, { force: true });
}

class EarlyExit extends Error {
  constructor(readonly state: ExitState) {
    super('The schema registry exited before it was ready');
  }
}

interface ExitState {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

function describeExit(state: ExitState): string {
  if (state.error !== undefined) return state.error.message;
  return state.signal === null ? `exit code ${state.code}` : `signal ${state.signal}`;
}

async function waitUntilReady(settings: {
  url: string;
  readyTimeoutMs: number;
  exited: Promise<ExitState>;
  isExited: () => boolean;
}): Promise<void> {
  let settled = false;
  const deadline = Date.now() + settings.readyTimeoutMs;
  const answers = async (target: string): Promise<boolean> => {
    const response = await fetch(target, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.ok;
  };

  const poll = async (): Promise<void> => {
    let lastError: unknown;
    while (!settled && !settings.isExited()) {
      if (Date.now() > deadline) throw new Error('readiness deadline passed', { cause: lastError });
      try {
        // A listing needs both the HTTP layer and the H2 storage, unlike a mere open port.
        if (await answers(`${settings.url}/subjects`)) return;
      } catch (error) {
        lastError = error;
      }
      await sleep(250);
    }
  };
  const earlyExit = settings.exited.then((state) => {
    throw new EarlyExit(state);
  });
  try {
    await Promise.race([poll(), earlyExit]);
    // The poll loop also ends quietly when the process exits; the race may not have seen it yet.
    if (settings.isExited()) throw new EarlyExit(await settings.exited);
  } finally {
    settled = true;
    earlyExit.catch(() => undefined);
  }
}

/** The last lines of the registry's console output, capped to its last 64 KiB. */
async function consoleTail(file: string): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (handle === undefined) return '(no output)';
  try {
    const size = (await handle.stat()).size;
    const start = Math.max(0, size - 64 * 1024);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const tail = lastLines(buffer.toString('utf8'), 40);
    return tail === '' ? '(no output)' : tail;
  } finally {
    await handle.close();
  }
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

interface CommandResult {
  code: number | null;
  output: string;
  error?: Error;
}

/** Runs a command to its end, keeping stdout and stderr interleaved (Maven prints its errors on stdout). */
async function runToCompletion(command: string, args: string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.once('error', (error) => resolve({ code: null, output: Buffer.concat(chunks).toString('utf8'), error }));
    child.once('close', (code) => resolve({ code, output: Buffer.concat(chunks).toString('utf8') }));
  });
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host: '127.0.0.1' }, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      probe.close(() => (port === undefined ? reject(new Error('the OS assigned no port')) : resolve(port)));
    });
  });
}

function javaExecutable(): string {
  const javaHome = process.env['JAVA_HOME'];
  return javaHome === undefined || javaHome === '' ? 'java' : path.join(javaHome, 'bin', 'java');
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(200);
  }
  return condition();
}
