// How every Kafka client and the schema registry client authenticate, built once from the
// configuration: SASL (SCRAM or PLAIN) and TLS for the brokers, HTTP basic auth for the registry.
// A managed Kafka (Confluent Cloud, MSK, Aiven) needs exactly these; the local stack needs none.
// The result is plain data (PEM text, not file paths), so it travels with the stack endpoints to
// child processes and test workers, and it is checked here, at start, so a half-configured
// combination fails with the variable's name instead of as a connection error later.
import { readFileSync } from 'node:fs';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import type { Config } from '../config.ts';
import { PipelineError } from '../errors.ts';

export const kafkaSaslMechanisms = ['none', 'scram-sha-256', 'scram-sha-512', 'plain'] as const;
export type KafkaSaslMechanism = (typeof kafkaSaslMechanisms)[number];

export interface KafkaSasl {
  readonly mechanism: Exclude<KafkaSaslMechanism, 'none'>;
  readonly username: string;
  /** Never logged; see redactedKafkaSecurity. */
  readonly password: string;
}

export interface KafkaTls {
  /** PEM of the CAs to trust; undefined trusts Node's bundled (system) CAs. */
  readonly caPem?: string;
  /** Client certificate and key (PEM), for brokers that require mutual TLS. */
  readonly certificatePem?: string;
  readonly keyPem?: string;
}

export interface KafkaSecurity {
  readonly sasl?: KafkaSasl;
  /** Undefined: plaintext connections. */
  readonly tls?: KafkaTls;
}

export interface BasicAuth {
  readonly username: string;
  readonly password: string;
}

/** No SASL, no TLS: the local stack's PLAINTEXT listener. */
export const plaintextKafka: KafkaSecurity = Object.freeze({});

type SecuritySettings = Pick<
  Config,
  | 'KAFKA_SASL_MECHANISM'
  | 'KAFKA_SASL_USERNAME'
  | 'KAFKA_SASL_PASSWORD'
  | 'KAFKA_SSL'
  | 'KAFKA_SSL_CA_FILE'
  | 'KAFKA_SSL_CERT_FILE'
  | 'KAFKA_SSL_KEY_FILE'
>;

/** Reads a PEM file named by a setting; a missing or non-PEM file names the setting. */
function readPem(setting: string, file: string, readFile: (file: string) => string): string {
  let text: string;
  try {
    text = readFile(file);
  } catch (error) {
    throw new PipelineError(`${setting}: cannot read ${file} (${error instanceof Error ? error.message : String(error)}).`, { cause: error });
  }
  if (!text.includes('-----BEGIN ')) throw new PipelineError(`${setting}: ${file} holds no PEM block (-----BEGIN …).`);
  return text;
}

/**
 * The Kafka security of the configuration. Throws a PipelineError naming the setting for an
 * incomplete combination: a mechanism without credentials, credentials without a mechanism, TLS
 * files without KAFKA_SSL, or a client certificate without its key.
 */
export function kafkaSecurityOf(config: SecuritySettings, readFile: (file: string) => string = (file) => readFileSync(file, 'utf8')): KafkaSecurity {
  const problems: string[] = [];
  const mechanism = config.KAFKA_SASL_MECHANISM;
  const { KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = config;
  if (mechanism !== 'none') {
    if (username === undefined) problems.push(`KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM=${mechanism}.`);
    if (password === undefined) problems.push(`KAFKA_SASL_PASSWORD is required with KAFKA_SASL_MECHANISM=${mechanism}.`);
    if (mechanism === 'plain' && !config.KAFKA_SSL) {
      // PLAIN sends the password as it is; over a plaintext connection anyone on the path reads it.
      problems.push('KAFKA_SASL_MECHANISM=plain sends the password in clear text; it needs KAFKA_SSL=true.');
    }
  } else if (username !== undefined || password !== undefined) {
    problems.push('KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD are set but KAFKA_SASL_MECHANISM is none; set the mechanism the brokers use.');
  }
  if (!config.KAFKA_SSL) {
    for (const [name, value] of [
      ['KAFKA_SSL_CA_FILE', config.KAFKA_SSL_CA_FILE],
      ['KAFKA_SSL_CERT_FILE', config.KAFKA_SSL_CERT_FILE],
      ['KAFKA_SSL_KEY_FILE', config.KAFKA_SSL_KEY_FILE],
    ] as const) {
      if (value !== undefined) problems.push(`${name} is set but KAFKA_SSL is false; set KAFKA_SSL=true to use TLS.`);
    }
  }
  if ((config.KAFKA_SSL_CERT_FILE === undefined) !== (config.KAFKA_SSL_KEY_FILE === undefined)) {
    problems.push('KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together (mutual TLS needs both).');
  }
  if (problems.length > 0) {
    throw new PipelineError(`Invalid Kafka security settings:\n  ${problems.join('\n  ')}`, { context: { problems } });
  }

  const sasl: KafkaSasl | undefined =
    mechanism === 'none' || username === undefined || password === undefined ? undefined : { mechanism, username, password };
  const tls: KafkaTls | undefined = config.KAFKA_SSL
    ? {
        ...(config.KAFKA_SSL_CA_FILE === undefined ? {} : { caPem: readPem('KAFKA_SSL_CA_FILE', config.KAFKA_SSL_CA_FILE, readFile) }),
        ...(config.KAFKA_SSL_CERT_FILE === undefined ? {} : { certificatePem: readPem('KAFKA_SSL_CERT_FILE', config.KAFKA_SSL_CERT_FILE, readFile) }),
        ...(config.KAFKA_SSL_KEY_FILE === undefined ? {} : { keyPem: readPem('KAFKA_SSL_KEY_FILE', config.KAFKA_SSL_KEY_FILE, readFile) }),
      }
    : undefined;
  return { ...(sasl === undefined ? {} : { sasl }), ...(tls === undefined ? {} : { tls }) };
}

/** The kafkajs `ssl` and `sasl` options of a KafkaSecurity; the only place that maps them. */
export function kafkajsSecurityOptions(security: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const options: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (security.tls !== undefined) {
    const { caPem, certificatePem, keyPem } = security.tls;
    const tls: ConnectionOptions = {
      // Always verified: a managed Kafka has a public certificate, a private one comes with its CA file.
      rejectUnauthorized: true,
      ...(caPem === undefined ? {} : { ca: [caPem] }),
      ...(certificatePem === undefined ? {} : { cert: certificatePem }),
      ...(keyPem === undefined ? {} : { key: keyPem }),
    };
    options.ssl = tls;
  }
  if (security.sasl !== undefined) {
    const { mechanism, username, password } = security.sasl;
    const sasl: SASLOptions = { mechanism, username, password };
    options.sasl = sasl;
  }
  return options;
}

/** What may be logged of a KafkaSecurity: the mechanism, the user and whether TLS is on. */
export function redactedKafkaSecurity(security: KafkaSecurity): Record<string, string | boolean> {
  return {
    sasl: security.sasl?.mechanism ?? 'none',
    ...(security.sasl === undefined ? {} : { saslUsername: security.sasl.username }),
    tls: security.tls !== undefined,
    ...(security.tls?.caPem === undefined ? {} : { tlsCa: 'from file' }),
    ...(security.tls?.certificatePem === undefined ? {} : { tlsClientCertificate: true }),
  };
}

/** The registry's basic auth of the configuration; both settings or neither. */
export function schemaRegistryAuthOf(config: Pick<Config, 'SCHEMA_REGISTRY_USERNAME' | 'SCHEMA_REGISTRY_PASSWORD'>): BasicAuth | undefined {
  const { SCHEMA_REGISTRY_USERNAME: username, SCHEMA_REGISTRY_PASSWORD: password } = config;
  if (username === undefined && password === undefined) return undefined;
  if (username === undefined || password === undefined) {
    throw new PipelineError('SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD go together (basic auth needs both).');
  }
  return { username, password };
}

/** The `Authorization` header value of basic auth (RFC 7617: user-id ":" password, UTF-8, base64). */
export function basicAuthorization(auth: BasicAuth): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}`;
}
