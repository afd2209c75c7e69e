// The benchmarks' baseline: Kafka's own load generator, org.apache.kafka.tools.ProducerPerformance,
// run as a JVM against the same broker in the same run. Its jars come from Maven Central like the
// broker's (bench/kafka-tools/pom.xml, cached in .cache/kafka-tools). Every benchmark reports its
// figure as a ratio to this one, because absolute figures on a shared 2-core machine move a lot
// from run to run while the ratio of two things measured side by side moves much less.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { PipelineError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { runToCompletion } from '../../stack/child-process.ts';
import { lastLines } from '../../stack/log-tail.ts';
import { javaExecutable, resolveMavenClasspath } from '../../stack/jvm-toolchain.ts';

const pomPath = fileURLToPath(new URL('../kafka-tools/pom.xml', import.meta.url));

export interface ProducerPerformanceRun {
  /** A label for the table, e.g. `ProducerPerformance (linger.ms=5)`. */
  readonly label: string;
  readonly records: number;
  readonly recordsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface ProducerPerformanceOptions {
  brokers: readonly string[];
  records: number;
  /** Bytes per record: the benchmarks pass the size of their own encoded record. */
  recordSize: number;
  /** Extra producer properties, e.g. { 'linger.ms': '5' }; acks=all always, as the pipeline produces. */
  producerProperties?: Readonly<Record<string, string>>;
  label: string;
  log: Logger;
  /** Its own topic, so the pipeline's consumers never see these records. */
  topic?: string;
  partitions?: number;
}

/** The last line ProducerPerformance prints: totals and latency percentiles of the whole run. */
const summaryLine =
  /(\d+) records sent, ([\d.]+) records\/sec \([\d.]+ MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th/;

export function parseProducerPerformance(output: string, label: string): ProducerPerformanceRun {
  const lines = output.split('\n').filter((line) => summaryLine.test(line));
  const match = summaryLine.exec(lines[lines.length - 1] ?? '');
  if (match === null) throw new PipelineError(`ProducerPerformance printed no summary line:\n${lastLines(output, 30)}`);
  const [, records = '0', perSecond = '0', , , p50 = '0', , p99 = '0'] = match;
  return { label, records: Number(records), recordsPerSecond: Number(perSecond), p50Ms: Number(p50), p99Ms: Number(p99) };
}

async function ensureTopic(brokers: readonly string[], topic: string, partitions: number): Promise<void> {
  const admin = new Kafka({ clientId: 'bench-baseline', brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

export async function runProducerPerformance(options: ProducerPerformanceOptions): Promise<ProducerPerformanceRun> {
  const topic = options.topic ?? 'bench-producer-performance';
  await ensureTopic(options.brokers, topic, options.partitions ?? 6);
  const classpath = await resolveMavenClasspath(
    { task: 'Resolving Kafka tools (ProducerPerformance) with Maven', pom: pomPath, requiredJarPrefix: 'kafka-tools-' },
    path.resolve('.cache/kafka-tools'),
    options.log,
  );
  const properties = { 'bootstrap.servers': options.brokers.join(','), acks: 'all', ...options.producerProperties };
  const result = await runToCompletion(javaExecutable(), [
    '-Xmx512m',
    '-cp',
    classpath,
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic',
    topic,
    '--num-records',
    String(options.records),
    '--record-size',
    String(options.recordSize),
    '--throughput',
    '-1',
    '--producer-props',
    ...Object.entries(properties).map(([name, value]) => `${name}=${value}`),
  ]);
  if (result.code !== 0) {
    throw new PipelineError(`ProducerPerformance failed (${result.error?.message ?? `exit ${String(result.code)}`}):\n${lastLines(result.output, 30)}`);
  }
  return parseProducerPerformance(result.output, options.label);
}

/** The baseline of one benchmark run: ProducerPerformance before and after the measured work. */
export interface Baseline {
  readonly before: ProducerPerformanceRun;
  readonly after: ProducerPerformanceRun;
  /** The mean of the two: the run's drift shows as their difference. */
  readonly recordsPerSecond: number;
  /** The line every benchmark prints above its table. */
  readonly line: string;
}

/**
 * Runs Kafka's ProducerPerformance with records of `recordSize` bytes, then `work`, then
 * ProducerPerformance again, and returns the work's result with the baseline.
 */
export async function aroundBaseline<T>(settings: { brokers: readonly string[]; recordSize: number; log: Logger }, work: () => Promise<T>): Promise<{ result: T; baseline: Baseline }> {
  const run = (label: string): Promise<ProducerPerformanceRun> =>
    runProducerPerformance({ brokers: settings.brokers, records: 200_000, recordSize: settings.recordSize, label, log: settings.log });
  const before = await run('ProducerPerformance (before)');
  const result = await work();
  const after = await run('ProducerPerformance (after)');
  const recordsPerSecond = (before.recordsPerSecond + after.recordsPerSecond) / 2;
  const line =
    `baseline: Kafka ProducerPerformance, ${settings.recordSize}-byte records, acks=all, defaults otherwise: ${before.recordsPerSecond.toFixed(0)} before, ` +
    `${after.recordsPerSecond.toFixed(0)} after, mean ${recordsPerSecond.toFixed(0)} records/s`;
  return { result, baseline: { before, after, recordsPerSecond, line } };
}
