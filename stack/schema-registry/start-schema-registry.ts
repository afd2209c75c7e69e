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
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PipelineError, UnavailableError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { describeExit, stopChild } from '../child-process.ts';
import { runMaven, sharedPerCacheDirectory, spawnJava } from '../jvm-toolchain.ts';
import { logTail } from '../log-tail.ts';
import { isProcessAlive, removePidFileIfOurs, stopOrphanedProcess, writePidFile } from '../pid-file.ts';
import { readOptional } from '../read-optional.ts';
import { EarlyExit, pollUntilReady } from '../readiness.ts';
import { assertPortFree, findFreePort, type RunningService } from '../service.ts';
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
  await stopOrphanedProcess({
    pidFile: files.pidFile,
    description: 'schema registry',
    isOurs: (args) => args.includes(`${dataDirectoryMarker}${dataDirectory}`),
    graceMs: shutdownGraceMs,
    log,
  });
  await assertPortFree(port, 'Schema registry', 'SCHEMA_REGISTRY_PORT');

  const applicationDirectory = await buildRegistry(cacheDirectory, log);
  // Picked just before the JVM binds it; another process taking it in between makes the start
  // fail loudly (Quarkus cannot bind), never talk to the wrong server.
  const jvmPort = await findFreePort();
  const jvmUrl = `http://127.0.0.1:${jvmPort}${ccompatApiPath}`;

  const startedAt = Date.now();
  const registry = await spawnJava(
    [
      ...jvmOptions,
      // Marks the process as this data directory's registry, for stopOrphanedProcess.
      `${dataDirectoryMarker}${dataDirectory}`,
      // Quarkus listens on every interface by default; nothing outside this machine may register schemas.
      '-Dquarkus.http.host=127.0.0.1',
      '-jar',
      path.join(applicationDirectory, runnerJarName),
    ],
    {
      // Narayana (the JTA transaction manager) keeps its object store relative to the working directory.
      dataDirectory,
      env: {
        ...process.env,
        // Apicurio's application.properties binds these for its `prod` profile, where a plain
        // -Dquarkus.* system property would lose to the profile-specific value.
        HTTP_PORT: String(jvmPort),
        // WRITE_DELAY=0: H2 otherwise writes commits to its file lazily, and a registry killed before
        // that would later hand out again an id that records already in Kafka point at.
        REGISTRY_DATASOURCE_URL: `jdbc:h2:file:${path.join(files.databaseDirectory, 'registry')};WRITE_DELAY=0`,
      },
      outputFile: files.consoleLog,
      description: 'the schema registry',
    },
  );
  const { pid } = registry;
  await writePidFile(files.pidFile, pid);
  log.info({ pid, port, jvmPort, dataDirectory }, 'Schema registry process started, waiting until it answers');

  let ready = false;
  let stopRequested = false;
  let stopping: Promise<void> | undefined;
  let proxy: RunningCcompatProxy | undefined;
  const terminate = async (): Promise<void> => {
    stopRequested = true;
    await proxy?.close();
    await stopChild(registry, [{ signal: 'SIGTERM', waitMs: shutdownGraceMs }, { signal: 'SIGKILL' }], () =>
      log.warn({ pid, graceMs: shutdownGraceMs }, 'Schema registry did not shut down in time, killing it'),
    );
    await removePidFileIfOurs(files.pidFile, pid);
    log.info({ pid }, 'Schema registry stopped');
  };
  const stop = (): Promise<void> => (stopping ??= terminate());

  void registry.exited.then(async (state) => {
    if (!ready || stopRequested) return;
    const tail = await consoleTail(files.consoleLog).catch(() => '(registry output unreadable)');
    log.error({ pid, code: state.code, signal: state.signal, tail }, 'Schema registry exited unexpectedly');
  });

  try {
    // A listing needs both the HTTP layer and the H2 storage, unlike a mere open port.
    await pollUntilReady(registry, answersCheck(`${jvmUrl}/subjects`), { timeoutMs: readyTimeoutMs, intervalMs: 250 });
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

const buildShared = sharedPerCacheDirectory(buildUncached);

/**
 * Returns the directory holding the runnable registry, running Maven only when pom.xml changed
 * since the last successful build. Concurrent callers in one process share a single Maven run.
 */
export async function buildRegistry(cacheDirectory: string, log: Logger): Promise<string> {
  return buildShared(cacheDirectory, log);
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
  await runMaven({
    task: 'Building the schema registry with Maven',
    pom: pomPath,
    args: ['package', '-DskipTests', `-Dregistry.buildDirectory=${staging}`],
    outputDirectory: staging,
    context: { cacheDirectory },
  });
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
    const stale = entry.startsWith('app-') ? entry !== current : stagingPid !== undefined && !(await isProcessAlive(stagingPid));
    if (stale) await rm(path.join(cacheDirectory, entry), { recursive: true, force: true });
  }
}

async function isRunnable(directory: string): Promise<boolean> {
  const [jar, libraries] = await Promise.all([
    stat(path.join(directory, runnerJarName)).catch(() => undefined),
    readdir(path.join(directory, 'lib')).catch(() => [] as string[]),
  ]);
  return jar?.isFile() === true && libraries.length > 0;
}

/** For pollUntilReady: undefined once `url` answers with a success status. */
function answersCheck(url: string): () => Promise<unknown> {
  return async () => {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      return response.ok ? undefined : `HTTP ${response.status}`;
    } catch (error) {
      return error;
    }
  };
}

async function consoleTail(file: string): Promise<string> {
  const tail = await logTail(file, 40);
  return tail === '' ? '(no output)' : tail;
}
