// A real Apache Kafka broker (KRaft, broker and controller in one JVM) run straight from Maven
// Central jars, because the dev box has Java and Maven but no Docker and no Kafka tarball. The
// pipeline's exactly-once guarantees rest on transactions, idempotent producers and consumer-group
// offsets, so a fake broker would prove nothing; this one is the same code that runs in production.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { PipelineError, UnavailableError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { assertPortFree, type RunningService } from '../service.ts';

export interface NativeKafkaOptions {
  /** Client (PLAINTEXT) listener. */
  port: number;
  /** KRaft controller listener; never advertised to clients. */
  controllerPort: number;
  /** Holds server.properties, the cluster id, the pid file, broker logs and `logs/` (the data). */
  dataDirectory: string;
  /** Holds the Maven-resolved jars, shared by every data directory. */
  cacheDirectory: string;
  log: Logger;
  /** How long to wait for the broker to answer a metadata request. Default 90 s. */
  readyTimeoutMs?: number;
}

export type NativeKafka = RunningService & { brokers: string[]; pid: number };

const pomPath = fileURLToPath(new URL('./pom.xml', import.meta.url));
const log4jPath = fileURLToPath(new URL('./log4j.properties', import.meta.url));

const defaultReadyTimeoutMs = 90_000;
// Kafka's controlled shutdown (leadership handover, log flush, checkpoints) usually takes a few
// seconds; cutting it short risks a slow log recovery on the next start, never data loss.
const shutdownGraceMs = 20_000;
const killWaitMs = 5_000;

// Kafka's own launcher defaults, minus the 1 GB heap: a dev box runs the whole stack at once.
const jvmOptions = [
  '-Xmx512m',
  '-Xms256m',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
  // A broker thrashing near its heap limit looks alive but stalls every client; dying loudly is
  // easier to diagnose on a dev box.
  '-XX:+ExitOnOutOfMemoryError',
  '-Djava.awt.headless=true',
];

const mainClass = 'kafka.Kafka';

/** Starts (or restarts on existing data) a single-node KRaft broker and resolves once clients can use it. */
export async function startNativeKafka(options: NativeKafkaOptions): Promise<NativeKafka> {
  const { port, controllerPort, log } = options;
  validatePorts(port, controllerPort);
  const dataDirectory = path.resolve(options.dataDirectory);
  const cacheDirectory = path.resolve(options.cacheDirectory);
  const readyTimeoutMs = options.readyTimeoutMs ?? defaultReadyTimeoutMs;
  const files = dataFiles(dataDirectory);
  const brokers = [`localhost:${port}`];

  await mkdir(files.logDirectory, { recursive: true });
  // Before the port check: a broker orphaned by a SIGKILLed parent is the usual holder of the port.
  await stopOrphanedBroker(files.pidFile, files.serverProperties, log);
  await assertPortFree(port, 'Kafka', 'KAFKA_PORT');
  await assertPortFree(controllerPort, 'Kafka controller', 'KAFKA_CONTROLLER_PORT');

  const classpath = await resolveKafkaClasspath(cacheDirectory, log);
  // Rewritten on every start so a changed port takes effect; the data under log.dirs does not
  // depend on the listener addresses.
  await writeFile(files.serverProperties, serverProperties({ port, controllerPort, logDirectory: files.logDirectory }));
  await formatStorageOnce(classpath, files, log);

  const startedAt = Date.now();
  const serverLogOffset = await fileSize(files.serverLog);
  const output = await open(files.consoleLog, 'w');
  let child: ChildProcess;
  try {
    child = spawn(
      javaExecutable(),
      [...jvmOptions, ...log4jOptions(dataDirectory), '-cp', classpath, mainClass, files.serverProperties],
      {
        cwd: dataDirectory,
        // Own process group: a Ctrl-C on the terminal must not reach the broker directly, so the
        // caller can stop the pipeline's processors before the broker they commit to goes away.
        detached: true,
        // Straight to a file, not a pipe: the broker must not stall if this process stops reading.
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
    throw new PipelineError(`Could not start ${javaExecutable()} for Kafka: ${state.error?.message ?? 'unknown error'}. Is Java 17+ installed (or JAVA_HOME set)?`, {
      cause: state.error,
      context: { dataDirectory },
    });
  }
  await writeFile(files.pidFile, `${pid}\n`);
  log.info({ pid, port, controllerPort, dataDirectory }, 'Kafka broker process started, waiting until it answers');

  let ready = false;
  let stopRequested = false;
  let stopping: Promise<void> | undefined;
  const terminate = async (): Promise<void> => {
    stopRequested = true;
    if (exitState === undefined) {
      child.kill('SIGTERM');
      // Unref'd: a pending grace timer must not keep the caller's process alive for 20 s after
      // the broker has already exited.
      const graceful = await Promise.race([exited.then(() => true), sleep(shutdownGraceMs, false, { ref: false })]);
      if (!graceful) {
        log.warn({ pid, graceMs: shutdownGraceMs }, 'Kafka did not shut down in time, killing it');
        child.kill('SIGKILL');
        await exited;
      }
    }
    await removePidFileIfOurs(files.pidFile, pid);
    log.info({ pid }, 'Kafka broker stopped');
  };
  const stop = (): Promise<void> => (stopping ??= terminate());

  // Exits during start-up are reported by the thrown error instead; later ones would otherwise
  // only show up as connection errors in every processor.
  void exited.then(async (state) => {
    if (!ready || stopRequested) return;
    const tail = await startupLogTail(files, serverLogOffset).catch(() => '(broker output unreadable)');
    log.error({ pid, code: state.code, signal: state.signal, tail }, 'Kafka broker exited unexpectedly');
  });

  try {
    await waitUntilReady({ brokers, readyTimeoutMs, exited, isExited: () => exitState !== undefined });
  } catch (error) {
    await stop();
    const tail = await startupLogTail(files, serverLogOffset);
    if (error instanceof EarlyExit) {
      throw new PipelineError(
        `Kafka exited during start-up (${describeExit(error.state)}). Broker output:\n${tail}`,
        { cause: error.state.error, context: { dataDirectory, port, controllerPort } },
      );
    }
    const lastCheck = error instanceof NotReady ? ` (${error.message})` : '';
    throw new UnavailableError(
      `Kafka was not usable on ${brokers.join(',')} within ${readyTimeoutMs} ms${lastCheck}; it was stopped. Broker output:\n${tail}`,
      { cause: error, context: { dataDirectory, port, controllerPort } },
    );
  }
  ready = true;
  log.info({ pid, brokers, startupMs: Date.now() - startedAt }, 'Kafka broker ready');

  return { name: 'kafka', endpoint: brokers.join(','), brokers, pid, stop };
}

const classpathResolutions = new Map<string, Promise<string>>();

/**
 * Returns a `java -cp` value for the broker's jars, running Maven only when pom.xml changed since
 * the last successful resolve. Concurrent callers in one process share a single Maven run.
 */
export async function resolveKafkaClasspath(cacheDirectory: string, log: Logger): Promise<string> {
  const key = path.resolve(cacheDirectory);
  let resolution = classpathResolutions.get(key);
  if (resolution === undefined) {
    resolution = resolveClasspathUncached(key, log);
    classpathResolutions.set(key, resolution);
    // A failure (offline, Maven missing) must not be cached: the next start should try again.
    resolution.catch(() => classpathResolutions.delete(key));
  }
  return resolution;
}

async function resolveClasspathUncached(cacheDirectory: string, log: Logger): Promise<string> {
  const libraries = path.join(cacheDirectory, 'libs');
  const marker = path.join(cacheDirectory, 'libs.pom-sha256');
  const pomHash = createHash('sha256').update(await readFile(pomPath)).digest('hex');
  const classpath = path.join(libraries, '*');

  if ((await readOptional(marker))?.trim() === pomHash && (await containsBrokerJar(libraries))) {
    return classpath;
  }

  const startedAt = Date.now();
  log.info({ cacheDirectory }, 'Resolving Kafka jars with Maven (the first run downloads about 50 MB)');
  await mkdir(cacheDirectory, { recursive: true });
  // Resolved into a staging directory and swapped in whole, so an interrupted or failed run never
  // leaves a half-filled libs/ mixing jars of two Kafka versions.
  const staging = path.join(cacheDirectory, `libs.partial-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  const maven = await runToCompletion('mvn', [
    '-B',
    '-q',
    '-Dstyle.color=never',
    '-f',
    pomPath,
    'dependency:copy-dependencies',
    `-DoutputDirectory=${staging}`,
    '-DincludeScope=runtime',
  ]);
  if (maven.error !== undefined || maven.code !== 0) {
    await rm(staging, { recursive: true, force: true });
    const reason =
      maven.error === undefined
        ? `exited with code ${maven.code}`
        : `could not be started (${maven.error.message}); is Maven 3.6.3+ installed and on PATH?`;
    throw new PipelineError(`Resolving Kafka jars with Maven failed: mvn ${reason}.\n${lastLines(maven.output, 60)}`, {
      cause: maven.error,
      context: { pom: pomPath, cacheDirectory },
    });
  }
  if (!(await containsBrokerJar(staging))) {
    throw new PipelineError(`Maven succeeded but produced no kafka_2.13 jar in ${staging}; check ${pomPath}.`, {
      context: { pom: pomPath, cacheDirectory },
    });
  }
  await rm(libraries, { recursive: true, force: true });
  await rename(staging, libraries);
  await writeFile(marker, `${pomHash}\n`);
  log.info({ cacheDirectory, resolveMs: Date.now() - startedAt }, 'Kafka jars resolved');
  return classpath;
}

interface DataFiles {
  logDirectory: string;
  serverProperties: string;
  clusterIdFile: string;
  pidFile: string;
  serverLog: string;
  consoleLog: string;
}

function dataFiles(dataDirectory: string): DataFiles {
  return {
    logDirectory: path.join(dataDirectory, 'logs'),
    serverProperties: path.join(dataDirectory, 'server.properties'),
    clusterIdFile: path.join(dataDirectory, 'cluster.id'),
    pidFile: path.join(dataDirectory, 'kafka.pid'),
    serverLog: path.join(dataDirectory, 'server.log'),
    consoleLog: path.join(dataDirectory, 'kafka.out'),
  };
}

function validatePorts(port: number, controllerPort: number): void {
  for (const [name, value] of [
    ['KAFKA_PORT', port],
    ['KAFKA_CONTROLLER_PORT', controllerPort],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 65_535) {
      throw new PipelineError(`${name} must be a TCP port (1-65535), got ${value}.`, { context: { [name]: value } });
    }
  }
  if (port === controllerPort) {
    throw new PipelineError(`KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ, both are ${port}.`, { context: { port } });
  }
}

function serverProperties(settings: { port: number; controllerPort: number; logDirectory: string }): string {
  const properties: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@localhost:${settings.controllerPort}`,
    listeners: `PLAINTEXT://localhost:${settings.port},CONTROLLER://localhost:${settings.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://localhost:${settings.port}`,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': settings.logDirectory,
    // A single node cannot hold more than one replica; the internal topics' defaults of 3 would
    // make consumer groups and transactions unusable.
    'offsets.topic.replication.factor': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'min.insync.replicas': 1,
    'default.replication.factor': 1,
    // Topics are declared in topics/ and applied explicitly; a typo in a topic name must fail
    // rather than silently create an unconfigured topic.
    'auto.create.topics.enable': false,
    // The 3 s default exists to batch joins of a big group; locally it only delays every consumer.
    'group.initial.rebalance.delay.ms': 0,
    'num.partitions': 1,
    // The log cleaner's 128 MB default dedupe buffer is a quarter of this broker's heap; compacted
    // topics on a dev box are tiny.
    'log.cleaner.dedupe.buffer.size': 32 * 1024 * 1024,
    // Smaller segments let retention and compaction act on dev-sized data instead of never.
    'log.segment.bytes': 64 * 1024 * 1024,
  };
  const lines = Object.entries(properties).map(([key, value]) => `${key}=${escapePropertyValue(String(value))}`);
  return `# Written by stack/kafka/start-native-kafka.ts on every start; edits here are overwritten.\n${lines.join('\n')}\n`;
}

function escapePropertyValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
}

function log4jOptions(dataDirectory: string): string[] {
  return [`-Dlog4j.configuration=file:${log4jPath}`, `-Dkafka.logs.dir=${dataDirectory}`];
}

/** Formats log.dirs the first time only: formatting again would refuse, or with --ignore-formatted mask a cluster-id mix-up. */
async function formatStorageOnce(classpath: string, files: DataFiles, log: Logger): Promise<void> {
  if ((await readOptional(path.join(files.logDirectory, 'meta.properties'))) !== undefined) return;
  let clusterId = (await readOptional(files.clusterIdFile))?.trim();
  if (clusterId === undefined || clusterId === '') {
    clusterId = newClusterId();
    await writeFile(files.clusterIdFile, `${clusterId}\n`);
  }
  log.info({ clusterId, logDirectory: files.logDirectory }, 'Formatting Kafka storage');
  const format = await runToCompletion(javaExecutable(), [
    ...log4jOptions(path.dirname(files.serverProperties)),
    '-cp',
    classpath,
    'kafka.tools.StorageTool',
    'format',
    '-t',
    clusterId,
    '-c',
    files.serverProperties,
  ]);
  if (format.error !== undefined || format.code !== 0) {
    throw new PipelineError(
      `Formatting Kafka storage in ${files.logDirectory} failed (${
        format.error === undefined ? `exit code ${format.code}` : `${format.error.message}; is Java 17+ installed, or JAVA_HOME set?`
      }).\n${lastLines(format.output, 60)}`,
      { cause: format.error, context: { clusterId, logDirectory: files.logDirectory } },
    );
  }
}

/** Same shape as Kafka's Uuid.randomUuid(): 16 random bytes, base64url, never starting with '-' (the CLI would read it as a flag). */
function newClusterId(): string {
  for (;;) {
    const id = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * A parent killed with SIGKILL cannot stop its broker, which then holds the ports and the log
 * directory lock forever. Only a process that is provably our broker for this data directory is
 * touched, so a recycled pid belonging to something else survives.
 */
async function stopOrphanedBroker(pidFile: string, serverPropertiesFile: string, log: Logger): Promise<void> {
  const recorded = Number.parseInt((await readOptional(pidFile)) ?? '', 10);
  if (!Number.isInteger(recorded) || recorded <= 0) return;
  const isOurBroker = async (): Promise<boolean> => {
    // Any read error (ENOENT, ESRCH while it exits) means the process is gone.
    const commandLine = await readFile(`/proc/${recorded}/cmdline`, 'utf8').catch(() => '');
    // A zombie has an empty cmdline, so this also reads "gone" once the process has exited.
    return commandLine.split('\0').includes(mainClass) && commandLine.includes(serverPropertiesFile);
  };
  if (await isOurBroker()) {
    log.warn({ pid: recorded, pidFile }, 'A Kafka broker from an earlier run still uses this data directory, stopping it');
    const signalled = (signal: NodeJS.Signals): boolean => {
      try {
        process.kill(recorded, signal);
        return true;
      } catch {
        return false;
      }
    };
    if (signalled('SIGTERM') && !(await waitFor(async () => !(await isOurBroker()), shutdownGraceMs))) {
      log.warn({ pid: recorded }, 'Earlier Kafka broker ignored SIGTERM, killing it');
      signalled('SIGKILL');
      if (!(await waitFor(async () => !(await isOurBroker()), killWaitMs))) {
        throw new PipelineError(`Kafka broker from an earlier run (pid ${recorded}) survived SIGKILL; stop it by hand.`, {
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
    super('Kafka exited before it was ready');
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
  brokers: string[];
  readyTimeoutMs: number;
  exited: Promise<ExitState>;
  isExited: () => boolean;
}): Promise<void> {
  const kafka = new Kafka({
    clientId: 'native-kafka-readiness',
    brokers: settings.brokers,
    // Refused connections are expected while the JVM boots; kafkajs would log each one as an error.
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 3_000,
    retry: { retries: 0 },
  });
  let settled = false;
  const deadline = Date.now() + settings.readyTimeoutMs;

  const poll = async (): Promise<void> => {
    let notReady: unknown = 'no answer yet';
    while (!settled && !settings.isExited()) {
      if (Date.now() > deadline) throw new NotReady(notReady);
      const admin = kafka.admin();
      try {
        await admin.connect();
        const problem = await usabilityProblem(admin);
        if (problem === undefined) return;
        notReady = problem;
      } catch (error) {
        notReady = error;
      } finally {
        await admin.disconnect().catch(() => undefined);
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

class NotReady extends Error {
  constructor(readonly lastProblem: unknown) {
    super(`last readiness check: ${lastProblem instanceof Error ? lastProblem.message : String(lastProblem)}`);
  }
}

const offsetsTopic = '__consumer_offsets';

/**
 * Undefined once clients can do real work. Kafka opens its listeners before partitions of a
 * restarted broker have leaders again and before the group coordinator has loaded
 * __consumer_offsets, so answering metadata alone is not enough: for a few hundred milliseconds
 * after that, offset fetches fail with NOT_COORDINATOR, which kafkajs' admin does not retry.
 */
async function usabilityProblem(admin: Admin): Promise<string | undefined> {
  const cluster = await admin.describeCluster();
  if (cluster.brokers.length === 0) return 'no broker registered';
  const { topics } = await admin.fetchTopicMetadata();
  for (const topic of topics) {
    const leaderless = topic.partitions.find((partition) => partition.leader < 0 || partition.partitionErrorCode !== 0);
    if (leaderless !== undefined) return `${topic.name}-${leaderless.partitionId} has no leader yet`;
  }
  // On a fresh cluster this first probe's FindCoordinator creates __consumer_offsets, as the first
  // consumer would; creating it here keeps that delay out of the first test or processor.
  const offsets = topics.find((topic) => topic.name === offsetsTopic);
  const probes = offsets === undefined ? ['native-kafka-readiness'] : groupIdsCoveringPartitions(offsets.partitions.length);
  // An offset fetch for a group that never committed has no side effects and fails while the
  // group's __consumer_offsets partition is not loaded.
  await Promise.all(probes.map((groupId) => admin.fetchOffsets({ groupId, topics: [] })));
  return offsets === undefined ? `${offsetsTopic} is being created` : undefined;
}

/** One group id per __consumer_offsets partition, using Kafka's placement `abs(groupId.hashCode()) % partitions`. */
function groupIdsCoveringPartitions(partitionCount: number): string[] {
  const byPartition = new Map<number, string>();
  for (let index = 0; byPartition.size < partitionCount && index < partitionCount * 100; index += 1) {
    const groupId = `native-kafka-readiness-${index}`;
    const partition = kafkaAbs(javaStringHashCode(groupId)) % partitionCount;
    if (!byPartition.has(partition)) byPartition.set(partition, groupId);
  }
  return [...byPartition.values()];
}

function javaStringHashCode(text: string): number {
  let hash = 0;
  for (let index = 0; index < text.length; index += 1) hash = (Math.imul(31, hash) + text.charCodeAt(index)) | 0;
  return hash;
}

/** Kafka's Utils.abs: Math.abs, except Integer.MIN_VALUE maps to 0. */
function kafkaAbs(value: number): number {
  return value === -2_147_483_648 ? 0 : Math.abs(value);
}

async function startupLogTail(files: DataFiles, serverLogOffset: number): Promise<string> {
  const consoleTail = lastLines(await readFrom(files.consoleLog, 0), 30);
  const serverTail = lastLines(await readFrom(files.serverLog, serverLogOffset), 40);
  return [
    `--- ${files.consoleLog} (stdout/stderr) ---`,
    consoleTail === '' ? '(empty)' : consoleTail,
    `--- ${files.serverLog} (this run) ---`,
    serverTail === '' ? '(empty)' : serverTail,
  ].join('\n');
}

/** Reads what was appended since `offset`, capped to the last 64 KiB; a rotated (shrunk) file is read from its start. */
async function readFrom(file: string, offset: number): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (handle === undefined) return '';
  try {
    const size = (await handle.stat()).size;
    const start = Math.max(size < offset ? 0 : offset, size - 64 * 1024);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    return buffer.toString('utf8');
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

// Maven 3.8 emits colour resets even with -B and style.color=never; they would garble error messages.
const ansiEscape = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');

/** Runs a command to its end, keeping stdout and stderr interleaved (Maven prints its errors on stdout). */
async function runToCompletion(command: string, args: string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    const output = (): string => Buffer.concat(chunks).toString('utf8').replace(ansiEscape, '');
    child.once('error', (error) => resolve({ code: null, output: output(), error }));
    child.once('close', (code) => resolve({ code, output: output() }));
  });
}

function javaExecutable(): string {
  const javaHome = process.env['JAVA_HOME'];
  return javaHome === undefined || javaHome === '' ? 'java' : path.join(javaHome, 'bin', 'java');
}

async function containsBrokerJar(directory: string): Promise<boolean> {
  const entries = await readdir(directory).catch(() => [] as string[]);
  return entries.some((name) => name.startsWith('kafka_2.13-') && name.endsWith('.jar'));
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function fileSize(file: string): Promise<number> {
  return stat(file).then(
    (info) => info.size,
    () => 0,
  );
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(200);
  }
  return condition();
}
