// A real Apache Kafka broker (KRaft, broker and controller in one JVM) run straight from Maven
// Central jars, because the dev box has Java and Maven but no Docker and no Kafka tarball. The
// pipeline's exactly-once guarantees rest on transactions, idempotent producers and consumer-group
// offsets, so a fake broker would prove nothing; this one is the same code that runs in production.
import { randomUUID } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { PipelineError, UnavailableError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { describeExit, runToCompletion, stopChild } from '../child-process.ts';
import { javaExecutable, resolveMavenClasspath, sharedPerCacheDirectory, spawnJava } from '../jvm-toolchain.ts';
import { lastLines, logTail } from '../log-tail.ts';
import { removePidFileIfOurs, stopOrphanedProcess, writePidFile } from '../pid-file.ts';
import { readOptional } from '../read-optional.ts';
import { EarlyExit, NotReady, pollUntilReady } from '../readiness.ts';
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
  /**
   * Listeners beside PLAINTEXT, advertised on localhost, e.g. a SASL_SSL one to test the clients'
   * security against. PLAINTEXT stays: the readiness check and inter-broker traffic use it.
   */
  extraListeners?: readonly ExtraListener[];
  /** Broker properties added to (or replacing) the defaults, e.g. a listener's keystore and SASL settings. */
  extraProperties?: Readonly<Record<string, string | number | boolean>>;
  /** SCRAM users written into the cluster metadata when the storage is formatted (`format --add-scram`); a restart on existing data ignores them. */
  scramCredentials?: readonly ScramCredential[];
  /** This node as one of several (start-kafka-cluster.ts); absent, it is a cluster of its own. */
  clusterMember?: ClusterMember;
  /** The JVM's -Xmx; default 512m. A three-node cluster on a dev box wants less per node. */
  maxHeap?: string;
}

/** A node of a multi-node KRaft cluster: every node a broker and a voter of the controller quorum. */
export interface ClusterMember {
  nodeId: number;
  /** Every voter of the quorum, this node included, by node id and controller port. */
  voters: readonly { nodeId: number; controllerPort: number }[];
  /** The same for every node: storage formatted with another id refuses to join. */
  clusterId: string;
}

export interface ExtraListener {
  /** Listener name, e.g. SECURE; its listener-specific properties are `listener.name.<lower-case name>.…`. */
  name: string;
  port: number;
  securityProtocol: 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
}

export interface ScramCredential {
  mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  name: string;
  password: string;
}

export type NativeKafka = RunningService & {
  brokers: string[];
  pid: number;
  /** SIGKILL, no controlled shutdown: the crash of a broker. The data stays for a restart on it. */
  kill(): Promise<void>;
};

const pomPath = fileURLToPath(new URL('./pom.xml', import.meta.url));
const log4jPath = fileURLToPath(new URL('./log4j.properties', import.meta.url));

const defaultReadyTimeoutMs = 90_000;
// Kafka's controlled shutdown (leadership handover, log flush, checkpoints) usually takes a few
// seconds; cutting it short risks a slow log recovery on the next start, never data loss.
const shutdownGraceMs = 20_000;

// Kafka's own launcher defaults, minus the 1 GB heap: a dev box runs the whole stack at once.
const jvmOptions = (maxHeap: string): string[] => [
  `-Xmx${maxHeap}`,
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
const defaultMaxHeap = '512m';

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
  await stopOrphanedProcess({
    pidFile: files.pidFile,
    description: 'Kafka broker',
    isOurs: (args) => args.includes(mainClass) && args.some((arg) => arg.includes(files.serverProperties)),
    graceMs: shutdownGraceMs,
    log,
  });
  await assertPortFree(port, 'Kafka', 'KAFKA_PORT');
  await assertPortFree(controllerPort, 'Kafka controller', 'KAFKA_CONTROLLER_PORT');
  for (const listener of options.extraListeners ?? []) await assertPortFree(listener.port, `Kafka ${listener.name} listener`, 'its extraListeners port');

  const classpath = await resolveKafkaClasspath(cacheDirectory, log);
  // Rewritten on every start so a changed port takes effect; the data under log.dirs does not
  // depend on the listener addresses.
  await writeFile(
    files.serverProperties,
    serverProperties({
      port,
      controllerPort,
      logDirectory: files.logDirectory,
      extraListeners: options.extraListeners ?? [],
      extraProperties: options.extraProperties ?? {},
      ...(options.clusterMember === undefined ? {} : { clusterMember: options.clusterMember }),
    }),
  );
  await formatStorageOnce(classpath, files, options.scramCredentials ?? [], log, options.clusterMember?.clusterId);

  const startedAt = Date.now();
  const serverLogOffset = await fileSize(files.serverLog);
  const broker = await spawnJava([...jvmOptions(options.maxHeap ?? defaultMaxHeap), ...log4jOptions(dataDirectory), '-cp', classpath, mainClass, files.serverProperties], {
    dataDirectory,
    outputFile: files.consoleLog,
    description: 'Kafka',
  });
  const { pid } = broker;
  await writePidFile(files.pidFile, pid);
  log.info({ pid, port, controllerPort, dataDirectory }, 'Kafka broker process started, waiting until it answers');

  let ready = false;
  let stopRequested = false;
  let stopping: Promise<void> | undefined;
  const terminate = async (): Promise<void> => {
    stopRequested = true;
    await stopChild(broker, [{ signal: 'SIGTERM', waitMs: shutdownGraceMs }, { signal: 'SIGKILL' }], () =>
      log.warn({ pid, graceMs: shutdownGraceMs }, 'Kafka did not shut down in time, killing it'),
    );
    await removePidFileIfOurs(files.pidFile, pid);
    log.info({ pid }, 'Kafka broker stopped');
  };
  const stop = (): Promise<void> => (stopping ??= terminate());
  const crash = async (): Promise<void> => {
    stopRequested = true;
    await stopChild(broker, [{ signal: 'SIGKILL' }], () => undefined);
    await removePidFileIfOurs(files.pidFile, pid);
    log.info({ pid }, 'Kafka broker killed (SIGKILL)');
  };
  const kill = (): Promise<void> => (stopping ??= crash());

  // Exits during start-up are reported by the thrown error instead; later ones would otherwise
  // only show up as connection errors in every processor.
  void broker.exited.then(async (state) => {
    if (!ready || stopRequested) return;
    const tail = await startupLogTail(files, serverLogOffset).catch(() => '(broker output unreadable)');
    log.error({ pid, code: state.code, signal: state.signal, tail }, 'Kafka broker exited unexpectedly');
  });

  try {
    await pollUntilReady(broker, usabilityCheck(brokers, options.clusterMember?.voters.length ?? 1), { timeoutMs: readyTimeoutMs, intervalMs: 250 });
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

  return { name: 'kafka', endpoint: brokers.join(','), brokers, pid, stop, kill };
}

const resolveClasspathShared = sharedPerCacheDirectory(resolveClasspathUncached);

/**
 * Returns a `java -cp` value for the broker's jars, running Maven only when pom.xml changed since
 * the last successful resolve. Concurrent callers in one process share a single Maven run.
 */
export async function resolveKafkaClasspath(cacheDirectory: string, log: Logger): Promise<string> {
  return resolveClasspathShared(cacheDirectory, log);
}

function resolveClasspathUncached(cacheDirectory: string, log: Logger): Promise<string> {
  return resolveMavenClasspath({ task: 'Resolving Kafka jars with Maven', pom: pomPath, requiredJarPrefix: 'kafka_2.13-' }, cacheDirectory, log);
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

interface BrokerSettings {
  port: number;
  controllerPort: number;
  logDirectory: string;
  extraListeners: readonly ExtraListener[];
  extraProperties: Readonly<Record<string, string | number | boolean>>;
  clusterMember?: ClusterMember;
}

function serverProperties(settings: BrokerSettings): string {
  const extra = settings.extraListeners;
  const extraAddresses = extra.map((listener) => `,${listener.name}://localhost:${listener.port}`).join('');
  const properties: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': settings.clusterMember?.nodeId ?? 1,
    'controller.quorum.voters': (settings.clusterMember?.voters ?? [{ nodeId: 1, controllerPort: settings.controllerPort }])
      .map((voter) => `${voter.nodeId}@localhost:${voter.controllerPort}`)
      .join(','),
    listeners: `PLAINTEXT://localhost:${settings.port},CONTROLLER://localhost:${settings.controllerPort}${extraAddresses}`,
    'advertised.listeners': `PLAINTEXT://localhost:${settings.port}${extraAddresses}`,
    'listener.security.protocol.map': `PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${extra.map((listener) => `,${listener.name}:${listener.securityProtocol}`).join('')}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': settings.logDirectory,
    // A single node cannot hold more than one replica; the internal topics' defaults of 3 would
    // make consumer groups and transactions unusable. A cluster sets its own (extraProperties).
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
    ...settings.extraProperties,
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
async function formatStorageOnce(
  classpath: string,
  files: DataFiles,
  scramCredentials: readonly ScramCredential[],
  log: Logger,
  sharedClusterId: string | undefined,
): Promise<void> {
  if ((await readOptional(path.join(files.logDirectory, 'meta.properties'))) !== undefined) return;
  let clusterId = sharedClusterId ?? (await readOptional(files.clusterIdFile))?.trim();
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
    // Kafka 3.9's StorageTool flag; the value format is its own ('SCRAM-SHA-512=[name=…,password=…]').
    ...scramCredentials.flatMap((credential) => ['--add-scram', `${credential.mechanism}=[name=${credential.name},password=${credential.password}]`]),
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
export function newClusterId(): string {
  for (;;) {
    const id = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** For pollUntilReady: what keeps clients from using the broker, or undefined once nothing does. */
function usabilityCheck(brokers: string[], clusterSize: number): () => Promise<unknown> {
  const kafka = new Kafka({
    clientId: 'native-kafka-readiness',
    brokers,
    // Refused connections are expected while the JVM boots; kafkajs would log each one as an error.
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 3_000,
    retry: { retries: 0 },
  });
  return async () => {
    const admin = kafka.admin();
    try {
      await admin.connect();
      return await usabilityProblem(admin, clusterSize);
    } catch (error) {
      return error;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  };
}

const offsetsTopic = '__consumer_offsets';

/**
 * Undefined once clients can do real work. Kafka opens its listeners before partitions of a
 * restarted broker have leaders again and before the group coordinator has loaded
 * __consumer_offsets, so answering metadata alone is not enough: for a few hundred milliseconds
 * after that, offset fetches fail with NOT_COORDINATOR, which kafkajs' admin does not retry.
 * A node of a cluster also waits until the metadata lists every node: a broker registers with
 * the controller a moment after it serves, and a topic created in between gets a replication
 * factor clamped to the brokers then visible (topics apply lowers it rather than failing).
 */
async function usabilityProblem(admin: Admin, clusterSize: number): Promise<string | undefined> {
  const cluster = await admin.describeCluster();
  if (cluster.brokers.length === 0) return 'no broker registered';
  if (cluster.brokers.length < clusterSize) return `${cluster.brokers.length} of ${clusterSize} brokers registered`;
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
  const consoleTail = await logTail(files.consoleLog, 30);
  const serverTail = await logTail(files.serverLog, 40, serverLogOffset);
  return [
    `--- ${files.consoleLog} (stdout/stderr) ---`,
    consoleTail === '' ? '(empty)' : consoleTail,
    `--- ${files.serverLog} (this run) ---`,
    serverTail === '' ? '(empty)' : serverTail,
  ].join('\n');
}

async function fileSize(file: string): Promise<number> {
  return stat(file).then(
    (info) => info.size,
    () => 0,
  );
}
