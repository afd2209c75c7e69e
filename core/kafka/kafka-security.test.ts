import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { PipelineError } from '../errors.ts';
import { basicAuthorization, kafkajsSecurityOptions, kafkaSecurityOf, redactedKafkaSecurity, schemaRegistryAuthOf } from './kafka-security.ts';

const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const files: Record<string, string> = { '/ca.pem': pem, '/client.pem': pem, '/client.key': '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n', '/not.pem': 'hello' };
function readFile(file: string): string {
  const text = files[file];
  if (text === undefined) throw new Error(`ENOENT: no such file, open '${file}'`);
  return text;
}

function securityOf(environment: Record<string, string>) {
  return kafkaSecurityOf(loadConfig(environment), readFile);
}

function problemOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PipelineError);
    return (error as Error).message;
  }
  throw new Error('expected a PipelineError');
}

describe('kafkaSecurityOf', () => {
  it('is plaintext without settings, so the local stack needs none', () => {
    expect(securityOf({})).toEqual({});
    expect(kafkajsSecurityOptions(securityOf({}))).toEqual({});
  });

  it('maps SCRAM over TLS with a private CA to the kafkajs options', () => {
    const security = securityOf({
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'payout',
      KAFKA_SASL_PASSWORD: 's3cret',
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: '/ca.pem',
    });
    expect(kafkajsSecurityOptions(security)).toEqual({
      ssl: { rejectUnauthorized: true, ca: [pem] },
      sasl: { mechanism: 'scram-sha-512', username: 'payout', password: 's3cret' },
    });
  });

  it('trusts the bundled CAs when KAFKA_SSL is on without a CA file (managed Kafka)', () => {
    const security = securityOf({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'key', KAFKA_SASL_PASSWORD: 'secret', KAFKA_SSL: 'true' });
    expect(kafkajsSecurityOptions(security).ssl).toEqual({ rejectUnauthorized: true });
  });

  it('passes a client certificate and key for mutual TLS', () => {
    const security = securityOf({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: '/client.pem', KAFKA_SSL_KEY_FILE: '/client.key' });
    expect(kafkajsSecurityOptions(security).ssl).toEqual({ rejectUnauthorized: true, cert: pem, key: files['/client.key'] });
  });

  it('names the missing setting of an incomplete combination', () => {
    expect(problemOf(() => securityOf({ KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_PASSWORD: 'x' }))).toContain(
      'KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM=scram-sha-256',
    );
    expect(problemOf(() => securityOf({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }))).toContain('KAFKA_SASL_MECHANISM is none');
    expect(problemOf(() => securityOf({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }))).toContain(
      'needs KAFKA_SSL=true',
    );
    expect(problemOf(() => securityOf({ KAFKA_SSL_CA_FILE: '/ca.pem' }))).toContain('KAFKA_SSL_CA_FILE is set but KAFKA_SSL is false');
    expect(problemOf(() => securityOf({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: '/client.pem' }))).toContain('go together');
    expect(problemOf(() => securityOf({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/missing.pem' }))).toContain('KAFKA_SSL_CA_FILE: cannot read /missing.pem');
    expect(problemOf(() => securityOf({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/not.pem' }))).toContain('holds no PEM block');
  });

  it('refuses an unknown mechanism by the configuration schema', () => {
    expect(() => loadConfig({ KAFKA_SASL_MECHANISM: 'gssapi' })).toThrow(/KAFKA_SASL_MECHANISM/);
  });

  it('never puts the password in what may be logged, nor in its error messages', () => {
    const security = securityOf({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'payout', KAFKA_SASL_PASSWORD: 'hunter2-secret', KAFKA_SSL: 'true' });
    expect(JSON.stringify(redactedKafkaSecurity(security))).not.toContain('hunter2-secret');
    expect(problemOf(() => securityOf({ KAFKA_SASL_USERNAME: 'payout', KAFKA_SASL_PASSWORD: 'hunter2-secret' }))).not.toContain('hunter2-secret');
  });
});

describe('schemaRegistryAuthOf', () => {
  it('is both settings or neither', () => {
    expect(schemaRegistryAuthOf({})).toBeUndefined();
    expect(schemaRegistryAuthOf({ SCHEMA_REGISTRY_USERNAME: 'key', SCHEMA_REGISTRY_PASSWORD: 'secret' })).toEqual({ username: 'key', password: 'secret' });
    expect(() => schemaRegistryAuthOf({ SCHEMA_REGISTRY_USERNAME: 'key' })).toThrow(/go together/);
  });

  it('encodes the Authorization header as RFC 7617 does (UTF-8, base64)', () => {
    expect(basicAuthorization({ username: 'Aladdin', password: 'open sesame' })).toBe('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    expect(basicAuthorization({ username: 'tést', password: 'a:b' })).toBe(`Basic ${Buffer.from('tést:a:b').toString('base64')}`);
  });
});
