// Runs a real broker: proves the features the pipeline's exactly-once design depends on
// (acks=all, idempotent and transactional producers, consumer-group offsets) work against it, and
// that data and offsets survive a restart and an orphaned earlier broker.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { PipelineError } from '../../core/errors.ts';
import { createLogger } from '../../core/logger.ts';
import { startNativeKafka, type NativeKafka, type NativeKafkaOptions } from './start-native-kafka.ts';
import { findFreePort } from '../service.ts';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
// The real jar cache, so the suite pays for Maven once per machine, not once per run.
const cacheDirectory = path.join(repositoryRoot, '.cache', 'kafka-libs');
const log = createLogger({ name: 'native-kafka-test', level: process.env['TEST_STACK_LOG_LEVEL'] ?? 'silent' });

// Generous: the first run on a machine downloads ~50 MB of jars.
const brokerTestTimeoutMs = 600_000;

function client(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'native-kafka-test', brokers, logLevel: logLevel.ERROR });
}

interface Consumed {
  offset: string;
  value: string | undefined;
}

/** Consumes until `count` records arrived, then leaves the group (which commits its offsets). */
async function consume(kafka: Kafka, groupId: string, topic: string, count: number): Promise<Consumed[]> {
  const consumer = kafka.consumer({ groupId });
  const received: Consumed[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${count} records arrived`)), 30_000);
      consumer
        .run({
          eachMessage: ({ message }) => {
            received.push({ offset: message.offset, value: message.value?.toString() });
            if (received.length >= count) {
              clearTimeout(timer);
              resolve();
            }
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return received;
}

async function occupy(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1' }, resolve);
  });
  return server;
}

async function release(server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Zombie-safe: an exited but unreaped process has an empty cmdline. */
async function isRunning(pid: number): Promise<boolean> {
  const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return commandLine !== '';
}

describe('native Kafka broker', () => {
  it('keeps records and group offsets across restarts and supports idempotent and transactional producers', { timeout: brokerTestTimeoutMs }, async () => {
    const dataDirectory = await mkdtemp(path.join(tmpdir(), 'native-kafka-'));
    const port = await findFreePort();
    const options: NativeKafkaOptions = { port, controllerPort: await findFreePort(), dataDirectory, cacheDirectory, log };
    const topic = 'native-kafka-test';
    const groupId = 'native-kafka-test-group';
    const running: NativeKafka[] = [];
    try {
      const first = await startNativeKafka(options);
      running.push(first);
      expect(first.brokers).toEqual([`localhost:${port}`]);
      const kafka = client(first.brokers);

      const admin = kafka.admin();
      await admin.connect();
      expect(await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] })).toBe(true);

      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      const [plain] = await producer.send({ topic, acks: -1, messages: [{ key: 'client-1', value: 'payment-1' }] });
      await producer.disconnect();
      expect(plain?.errorCode).toBe(0);
      expect(plain?.baseOffset).toBe('0');

      const transactional = kafka.producer({
        transactionalId: 'native-kafka-test-tx',
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await transactional.connect();
      const committed = await transactional.transaction();
      await committed.send({ topic, acks: -1, messages: [{ key: 'client-1', value: 'payment-2' }] });
      await committed.commit();
      const aborted = await transactional.transaction();
      await aborted.send({ topic, acks: -1, messages: [{ key: 'client-1', value: 'never-visible' }] });
      await aborted.abort();
      await transactional.disconnect();

      // read_committed (kafkajs' default) must hide the aborted record and the transaction markers.
      const firstRead = await consume(kafka, groupId, topic, 2);
      expect(firstRead).toEqual([
        { offset: '0', value: 'payment-1' },
        { offset: '1', value: 'payment-2' },
      ]);
      const endBefore = await admin.fetchTopicOffsets(topic);
      const groupBefore = await admin.fetchOffsets({ groupId, topics: [topic] });
      await admin.disconnect();
      expect(Number(groupBefore[0]?.partitions[0]?.offset)).toBeGreaterThanOrEqual(2);

      await first.stop();
      await first.stop(); // idempotent
      expect(await isRunning(first.pid)).toBe(false);

      const second = await startNativeKafka(options);
      running.push(second);
      const afterRestart = client(second.brokers);
      const admin2 = afterRestart.admin();
      await admin2.connect();
      expect(await admin2.fetchTopicOffsets(topic)).toEqual(endBefore);
      expect(await admin2.fetchOffsets({ groupId, topics: [topic] })).toEqual(groupBefore);
      await admin2.disconnect();
      expect(await consume(afterRestart, 'native-kafka-test-fresh-group', topic, 2)).toEqual(firstRead);

      // The original group resumes after its committed offset: it sees only the new record.
      const producer2 = afterRestart.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
      await producer2.connect();
      await producer2.send({ topic, acks: -1, messages: [{ key: 'client-1', value: 'payment-3' }] });
      await producer2.disconnect();
      const resumed = await consume(afterRestart, groupId, topic, 1);
      expect(resumed.map((record) => record.value)).toEqual(['payment-3']);

      // A parent that died without stopping its broker: the next start must take over, not clash.
      const third = await startNativeKafka(options);
      running.push(third);
      expect(await isRunning(second.pid)).toBe(false);
      expect((await readFile(path.join(dataDirectory, 'kafka.pid'), 'utf8')).trim()).toBe(String(third.pid));
      await second.stop(); // must not remove the newer broker's pid file
      expect((await readFile(path.join(dataDirectory, 'kafka.pid'), 'utf8')).trim()).toBe(String(third.pid));
      const values = (await consume(client(third.brokers), 'native-kafka-test-third-group', topic, 3)).map((record) => record.value);
      expect(values).toEqual(['payment-1', 'payment-2', 'payment-3']);

      await third.stop();
      expect(await isRunning(third.pid)).toBe(false);
    } finally {
      for (const broker of running.reverse()) await broker.stop();
      await rm(dataDirectory, { recursive: true, force: true });
    }
  });

  it('names the environment variable when a port is taken', { timeout: 30_000 }, async () => {
    const dataDirectory = await mkdtemp(path.join(tmpdir(), 'native-kafka-clash-'));
    const options: NativeKafkaOptions = { port: await findFreePort(), controllerPort: await findFreePort(), dataDirectory, cacheDirectory, log };
    try {
      const clientPort = await occupy(options.port);
      try {
        const failure = startNativeKafka(options);
        await expect(failure).rejects.toBeInstanceOf(PipelineError);
        await expect(failure).rejects.toThrow(new RegExp(`port ${options.port}: the port is already in use.*KAFKA_PORT`));
      } finally {
        await release(clientPort);
      }
      const controllerPort = await occupy(options.controllerPort);
      try {
        await expect(startNativeKafka(options)).rejects.toThrow(new RegExp(`port ${options.controllerPort}: the port is already in use.*KAFKA_CONTROLLER_PORT`));
      } finally {
        await release(controllerPort);
      }
    } finally {
      await rm(dataDirectory, { recursive: true, force: true });
    }
  });

  it('rejects with the broker output when the broker dies during start-up', { timeout: brokerTestTimeoutMs }, async () => {
    const dataDirectory = await mkdtemp(path.join(tmpdir(), 'native-kafka-crash-'));
    try {
      // Storage formatted for another node: Kafka refuses to start, as it would on real data mix-ups.
      await mkdir(path.join(dataDirectory, 'logs'), { recursive: true });
      await writeFile(
        path.join(dataDirectory, 'logs', 'meta.properties'),
        'version=1\nnode.id=7\ncluster.id=A5Jr5dKvQTCgKbPvNfvLRg\ndirectory.id=sCvRJyd8Qqyi7R9U3QmWXQ\n',
      );
      const failure = startNativeKafka({ port: 19292, controllerPort: 19293, dataDirectory, cacheDirectory, log, readyTimeoutMs: 60_000 });
      await expect(failure).rejects.toThrow(/Kafka exited during start-up \(exit code \d+\)[\s\S]*node/i);
    } finally {
      await rm(dataDirectory, { recursive: true, force: true });
    }
  });
});
