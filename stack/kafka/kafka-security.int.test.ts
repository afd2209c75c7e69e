// Proves the clients' Kafka security settings against a real broker, as a managed Kafka (MSK,
// Aiven) runs it: a second native KRaft broker with a SASL_SSL listener (SCRAM-SHA-512, a TLS
// certificate signed by a CA this test generates with openssl). Everything goes through the
// configuration and the project's own client factory (loadConfig → resolveEndpoints →
// createKafkaClient), exactly as a processor creates its clients. Lean on purpose: one broker
// start, one topic, one record, and two refusals.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import type { StackEndpoints } from '../../core/endpoints.ts';
import { createIdempotentProducer, createKafkaClient, type KafkaClient } from '../../core/kafka/kafka-client.ts';
import { createLogger } from '../../core/logger.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { findFreePort } from '../service.ts';
import { startNativeKafka, type NativeKafka } from './start-native-kafka.ts';

const run = promisify(execFile);
const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
// The real jar cache, shared with the test stack's broker: no Maven run when the suite already had one.
const cacheDirectory = path.join(repositoryRoot, '.cache', 'kafka-libs');
const log = createLogger({ name: 'kafka-security-test', level: process.env['TEST_STACK_LOG_LEVEL'] ?? 'silent' });

const username = 'payout-pipeline';
const password = 'scram-test-password-0123';
const topic = 'secured-topic';

interface Certificates {
  caFile: string;
  /** The broker's PEM keystore: its private key (PKCS#8, unencrypted) and certificate. */
  keystoreFile: string;
}

/** A throw-away CA and a broker certificate for localhost signed by it. */
async function generateCertificates(directory: string): Promise<Certificates> {
  const file = (name: string): string => path.join(directory, name);
  const days = ['-days', '2'];
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.pem'), ...days,
    '-subj', '/CN=payout-pipeline test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('broker.key'), '-out', file('broker.csr'), '-subj', '/CN=localhost']);
  await writeFile(file('broker.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await run('openssl', [
    'x509', '-req', '-in', file('broker.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
    '-out', file('broker.pem'), ...days, '-extfile', file('broker.ext'),
  ]);
  // Kafka's PEM keystore (ssl.keystore.type=PEM, since 2.7): the key and its chain in one file.
  const keystoreFile = file('broker-keystore.pem');
  await writeFile(keystoreFile, `${await readFile(file('broker.key'), 'utf8')}${await readFile(file('broker.pem'), 'utf8')}`);
  return { caFile: file('ca.pem'), keystoreFile };
}

let directory: string;
let certificates: Certificates;
let broker: NativeKafka | undefined;
let securePort: number;

/** The endpoints a processor would resolve from this environment: the secure listener and its settings. */
function endpointsWith(environment: Record<string, string>): StackEndpoints {
  return resolveEndpoints(loadConfig({ KAFKA_BROKERS: `localhost:${securePort}`, ...environment }));
}

function clientOf(endpoints: StackEndpoints, clientId: string): KafkaClient {
  return createKafkaClient({ brokers: endpoints.kafkaBrokers, security: endpoints.kafkaSecurity, clientId, log, requestTimeoutMs: 10_000 });
}

const secureEnvironment = (): Record<string, string> => ({
  KAFKA_SASL_MECHANISM: 'scram-sha-512',
  KAFKA_SASL_USERNAME: username,
  KAFKA_SASL_PASSWORD: password,
  KAFKA_SSL: 'true',
  KAFKA_SSL_CA_FILE: certificates.caFile,
});

/** The error a connection attempt ends with; fails the test if it connects. */
async function connectionError(kafka: KafkaClient): Promise<Error> {
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
  } catch (error) {
    return error as Error;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  throw new Error('connected, but the broker should have refused');
}

beforeAll(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'kafka-security-'));
  certificates = await generateCertificates(directory);
  securePort = await findFreePort();
  broker = await startNativeKafka({
    port: await findFreePort(),
    controllerPort: await findFreePort(),
    dataDirectory: path.join(directory, 'broker'),
    cacheDirectory,
    log,
    extraListeners: [{ name: 'SECURE', port: securePort, securityProtocol: 'SASL_SSL' }],
    extraProperties: {
      'listener.name.secure.sasl.enabled.mechanisms': 'SCRAM-SHA-512',
      'listener.name.secure.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'listener.name.secure.ssl.keystore.type': 'PEM',
      'listener.name.secure.ssl.keystore.location': certificates.keystoreFile,
    },
    scramCredentials: [{ mechanism: 'SCRAM-SHA-512', name: username, password }],
  });
}, 240_000);

afterAll(async () => {
  await broker?.stop();
  if (directory !== undefined) await rm(directory, { recursive: true, force: true });
}, 60_000);

describe('Kafka over SASL_SSL (SCRAM-SHA-512) through the configuration', () => {
  it('creates a topic, produces and consumes a record over the secured listener', { timeout: 90_000 }, async () => {
    const kafka = clientOf(endpointsWith(secureEnvironment()), 'kafka-security-test');
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] })).toBe(true);
    } finally {
      await admin.disconnect();
    }

    const producer = createIdempotentProducer(kafka);
    await producer.connect();
    const [written] = await producer.send({ topic, acks: -1, messages: [{ key: 'client-1', value: 'payment-over-tls' }] });
    await producer.disconnect();
    expect(written?.errorCode).toBe(0);

    const consumer = kafka.consumer({ groupId: 'kafka-security-test' });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const value = await new Promise<string | undefined>((resolve, reject) => {
        consumer.run({ eachMessage: ({ message }) => Promise.resolve(resolve(message.value?.toString())) }).catch(reject);
      });
      expect(value).toBe('payment-over-tls');
    } finally {
      await consumer.disconnect();
    }
  });

  it('is refused with an authentication error for a wrong password', { timeout: 60_000 }, async () => {
    const error = await connectionError(clientOf(endpointsWith({ ...secureEnvironment(), KAFKA_SASL_PASSWORD: 'not-the-password' }), 'kafka-security-wrong'));
    expect(error.name).toBe('KafkaJSSASLAuthenticationError');
    expect(error.message).toMatch(/SASL SCRAM SHA512 authentication failed/);
    expect(error.message).not.toContain('not-the-password');
  });

  it("does not trust the broker's certificate without the CA file", { timeout: 60_000 }, async () => {
    const withoutCa = { ...secureEnvironment() };
    delete withoutCa['KAFKA_SSL_CA_FILE'];
    const error = await connectionError(clientOf(endpointsWith(withoutCa), 'kafka-security-no-ca'));
    expect(error.message).toMatch(/self.signed certificate|unable to verify|unable to get local issuer certificate/i);
  });
});
