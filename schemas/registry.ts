// The schema registry side of the schemas: registering our value schemas under `<topic>-value`,
// checking them against what is registered, and the serde producers and consumers use to write
// and read the Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro body).
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import type { StackEndpoints } from '../core/endpoints.ts';
import { assertInvariant, PipelineError, UnavailableError, ValidationError } from '../core/errors.ts';
import { basicAuthorization, type BasicAuth } from '../core/kafka/kafka-security.ts';
import { createRetry, type Retry } from '../core/retry.ts';
import { topicDefinitions, valueSubjectOf, type TopicDefinition, type ValueSchemaName } from '../topics/topics.ts';
import { decodeAvroValue, encodeAvroValue } from './avro-codec.ts';
import { findEvolutionProblems, type SchemaProblem } from './compatibility.ts';
import { valueSchemas, type ValueRecordOf } from './generated/records.ts';
import { avroParseOptions } from './logical-types.ts';
import { valueTypeOf } from './value-types.ts';

export type { SchemaRegistry };

const registryContentType = 'application/vnd.schemaregistry.v1+json';
const requestTimeoutMs = 10_000;
const probeTimeoutMs = 2_000;
/** Confluent's wire format: magic byte, then the schema id as a 4-byte big-endian integer. */
const magicByte = 0;
const wireHeaderLength = 5;

/** A registry and the basic auth it requires, if any (SCHEMA_REGISTRY_USERNAME/PASSWORD). */
export interface SchemaRegistryAccess {
  readonly url: string;
  readonly auth?: BasicAuth;
}

/** A registry URL (no auth: the local or a test registry) or a registry with its credentials. */
export type RegistryAt = string | SchemaRegistryAccess;

function accessOf(registry: RegistryAt): SchemaRegistryAccess {
  return typeof registry === 'string' ? { url: registry } : registry;
}

/** The configured registry of the endpoints, credentials included. */
export function schemaRegistryAccessOf(endpoints: Pick<StackEndpoints, 'schemaRegistryUrl' | 'schemaRegistryAuth'>): SchemaRegistryAccess {
  return {
    url: endpoints.schemaRegistryUrl,
    ...(endpoints.schemaRegistryAuth === undefined ? {} : { auth: endpoints.schemaRegistryAuth }),
  };
}

/** The request headers every registry call sends: basic auth when the registry requires it. */
function authorizationHeaders(access: SchemaRegistryAccess): Record<string, string> {
  return access.auth === undefined ? {} : { authorization: basicAuthorization(access.auth) };
}

/** The exact schema text we register and look up; the same string both ways, so ids match. */
export function schemaTextOf(schemaName: ValueSchemaName): string {
  return JSON.stringify(valueSchemas[schemaName].schema);
}

/**
 * A registry client whose Avro parsing uses our logical types, so schemas fetched by id decode
 * decimals to Decimal/bigint and timestamps to Date, exactly as our own encoder wrote them.
 */
export function createSchemaRegistryClient(registry: RegistryAt, options: { clientId?: string } = {}): SchemaRegistry {
  const { url, auth } = accessOf(registry);
  return new SchemaRegistry(
    {
      host: url,
      // The library sends these as the Authorization: Basic header of every request.
      ...(auth === undefined ? {} : { auth: { username: auth.username, password: auth.password } }),
      clientId: options.clientId ?? 'payout-pipeline',
      // The library's own retry covers 5xx answers only; connection failures surface as
      // UnavailableError (see classifyRegistryError) for the caller's createRetry.
      retry: { retries: 3, initialRetryTimeInSecs: 0.1, maxRetryTimeInSecs: 5, multiplier: 2, factor: 0.2 },
    },
    { [SchemaType.AVRO]: avroParseOptions() },
  );
}

// ---- HTTP calls the library does not offer (config, compatibility, lookup with version) -------

/** A 4xx answer: the request itself is wrong, retrying cannot help. */
export class SchemaRegistryRequestError extends PipelineError {
  readonly status: number;
  readonly errorCode: number | null;

  constructor(message: string, status: number, errorCode: number | null) {
    super(message, { retriable: false, context: { status, errorCode } });
    this.status = status;
    this.errorCode = errorCode;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function registryRequest(access: SchemaRegistryAccess, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<unknown> {
  const { url } = access;
  const target = `${url.replace(/\/+$/, '')}${path}`;
  let response: Response;
  try {
    response = await fetch(target, {
      method,
      headers: { accept: registryContentType, ...authorizationHeaders(access), ...(body === undefined ? {} : { 'content-type': registryContentType }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
  } catch (error) {
    throw new UnavailableError(`schema registry at ${url} cannot be reached (${method} ${path}): ${messageOf(error)}`, { cause: error });
  }
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  if (response.ok) return parsed;
  const details = typeof parsed === 'object' && parsed !== null ? (parsed as { error_code?: unknown; message?: unknown }) : {};
  const errorCode = typeof details.error_code === 'number' ? details.error_code : null;
  const message = `schema registry ${method} ${path} answered ${response.status}: ${typeof details.message === 'string' ? details.message : text}`;
  if (response.status >= 500 || response.status === 408 || response.status === 429) throw new UnavailableError(message);
  throw new SchemaRegistryRequestError(message, response.status, errorCode);
}

function isNotFound(error: unknown): boolean {
  return error instanceof SchemaRegistryRequestError && error.status === 404;
}

function encodeSubject(subject: string): string {
  return encodeURIComponent(subject);
}

async function setSubjectCompatibility(access: SchemaRegistryAccess, subject: string, compatibility: COMPATIBILITY): Promise<void> {
  await registryRequest(access, 'PUT', `/config/${encodeSubject(subject)}`, { compatibility });
}

/** `POST /subjects/<subject>`: the id and version of exactly this schema under the subject. */
async function lookUpSchema(access: SchemaRegistryAccess, subject: string, schemaText: string): Promise<{ id: number; version: number | undefined }> {
  const found = (await registryRequest(access, 'POST', `/subjects/${encodeSubject(subject)}`, { schema: schemaText })) as {
    id?: unknown;
    version?: unknown;
  };
  if (typeof found.id !== 'number') throw new PipelineError(`schema registry returned no id for subject ${subject}`);
  return { id: found.id, version: typeof found.version === 'number' ? found.version : undefined };
}

/** Fails with UnavailableError unless the registry answers HTTP; for readiness probes. */
export async function probeSchemaRegistry(registry: RegistryAt): Promise<void> {
  const access = accessOf(registry);
  const { url } = access;
  try {
    // With the credentials: a registry that requires auth answers 401 without them, and a wrong
    // password should make the process not ready rather than fail on its first record.
    const response = await fetch(`${url.replace(/\/+$/, '')}/subjects`, { headers: authorizationHeaders(access), signal: AbortSignal.timeout(probeTimeoutMs) });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`answered ${response.status}`);
  } catch (error) {
    throw new UnavailableError(`schema registry at ${url} is not ready: ${messageOf(error)}`, { cause: error });
  }
}

// ---- errors of the library ----------------------------------------------------------------------

const connectionErrorPattern = /ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|socket hang up|timeout/i;

/**
 * Maps an error of @kafkajs/confluent-schema-registry to ours. The library reports a refused
 * connection as an HTTP 400 (mappersmith's client-error response), so the message decides.
 */
export function classifyRegistryError(error: unknown, action: string): PipelineError {
  if (error instanceof PipelineError) return error;
  const message = `${action}: ${messageOf(error)}`;
  const status = typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number' ? error.status : null;
  if ((status !== null && status >= 500) || connectionErrorPattern.test(messageOf(error))) {
    return new UnavailableError(message, { cause: error });
  }
  return new PipelineError(message, { cause: error, context: { status } });
}

function isLibraryNotFound(error: unknown): boolean {
  // getRegistryIdBySchema turns a 404 into a plain ConfluentSchemaRegistryError without status.
  if (error instanceof Error && error.name === 'ConfluentSchemaRegistryError') return true;
  return typeof error === 'object' && error !== null && 'status' in error && error.status === 404;
}

// ---- registration and checks ------------------------------------------------------------------

export interface RegisteredValueSchema {
  readonly topic: string;
  readonly subject: string;
  readonly schemaName: ValueSchemaName;
  readonly id: number;
  readonly version?: number;
}

export type SchemaRegistryTarget = RegistryAt | (SchemaRegistryAccess & { readonly client: SchemaRegistry });

function registryRetry(): Retry {
  return createRetry({ attemptsMax: 5, delayInitialMs: 200, delayMaxMs: 2_000, totalMs: 20_000 });
}

function valueSchemaTopics(topics: readonly TopicDefinition[]): { topic: string; subject: string; schemaName: ValueSchemaName }[] {
  return topics.flatMap((topic) =>
    topic.valueSchema === undefined ? [] : [{ topic: topic.name, subject: valueSubjectOf(topic.name), schemaName: topic.valueSchema }],
  );
}

/**
 * Sets BACKWARD compatibility on `<topic>-value` and registers the topic's value schema there.
 * Idempotent: the registry answers an already registered schema with its existing id.
 */
export async function registerValueSchemas(target: SchemaRegistryTarget, topics: readonly TopicDefinition[]): Promise<RegisteredValueSchema[]> {
  const access = accessOf(target);
  const client = typeof target !== 'string' && 'client' in target ? target.client : createSchemaRegistryClient(access);
  const retry = registryRetry();
  const rows: RegisteredValueSchema[] = [];
  for (const { topic, subject, schemaName } of valueSchemaTopics(topics)) {
    const schemaText = schemaTextOf(schemaName);
    // Set first: the library compares the subject's level with the one it is given and refuses
    // to register when they differ, and a new subject would otherwise start at the global level.
    await retry(() => setSubjectCompatibility(access, subject, COMPATIBILITY.BACKWARD));
    const registered = await retry(async () => {
      try {
        // The subject is always explicit: by default the library derives it from the record
        // name (`payout.pipeline.PaymentReceived`), not from the topic.
        return await client.register({ type: SchemaType.AVRO, schema: schemaText }, { subject, compatibility: COMPATIBILITY.BACKWARD });
      } catch (error) {
        throw classifyRegistryError(error, `registering ${schemaName} under ${subject}`);
      }
    });
    const found = await retry(() => lookUpSchema(access, subject, schemaText));
    assertInvariant(found.id === registered.id, 'the registry gives one id for one schema', { subject, registered: registered.id, found: found.id });
    rows.push({ topic, subject, schemaName, id: registered.id, ...(found.version === undefined ? {} : { version: found.version }) });
  }
  return rows;
}

export interface RegistryCheckReport {
  readonly problems: readonly SchemaProblem[];
  readonly compatible: readonly string[];
  /** Subjects not registered yet: nothing to be compatible with. */
  readonly unregistered: readonly string[];
}

interface CompatibilityAnswer {
  readonly is_compatible?: unknown;
  readonly messages?: unknown;
  readonly reason?: unknown;
}

/**
 * Asks the registry whether each current value schema is compatible with its subject's latest.
 * Registries apply Avro's resolution rules, which ignore logical types: a changed decimal scale
 * passes here, which is why the offline check (compatibility.ts) exists.
 */
export async function checkAgainstRegistry(registry: RegistryAt, topics: readonly TopicDefinition[]): Promise<RegistryCheckReport> {
  const access = accessOf(registry);
  const retry = registryRetry();
  const problems: SchemaProblem[] = [];
  const compatible: string[] = [];
  const unregistered: string[] = [];
  for (const { subject, schemaName } of valueSchemaTopics(topics)) {
    let answer: CompatibilityAnswer;
    try {
      answer = (await retry(() =>
        registryRequest(access, 'POST', `/compatibility/subjects/${encodeSubject(subject)}/versions/latest?verbose=true`, {
          schema: schemaTextOf(schemaName),
        }),
      )) as CompatibilityAnswer;
    } catch (error) {
      if (isNotFound(error)) {
        unregistered.push(subject);
        continue;
      }
      throw error;
    }
    if (answer.is_compatible === true) {
      compatible.push(subject);
      continue;
    }
    // Confluent explains in `messages`; Apicurio's Confluent API (without our proxy) in `reason`.
    const listed = Array.isArray(answer.messages) ? answer.messages.map(String) : [];
    const messages = listed.length > 0 ? listed : typeof answer.reason === 'string' ? [answer.reason] : [];
    problems.push({
      schema: schemaName,
      version: null,
      message: `not compatible with the latest version registered under ${subject}${messages.length > 0 ? `: ${messages.join('; ')}` : ''}`,
    });
  }
  return { problems, compatible, unregistered };
}

// ---- serde ------------------------------------------------------------------------------------

export interface AvroSerde {
  /** Confluent wire format of `value`, encoded with the current `schemaName` registered under `<topic>-value`. */
  encode<S extends ValueSchemaName>(topic: string, schemaName: S, value: ValueRecordOf<S>): Promise<Buffer>;
  /** Decodes with the writer's schema as registered; the shape is whatever that schema says. */
  decode(buffer: Buffer): Promise<unknown>;
  /** Decodes with the writer's schema resolved into our current `schemaName`: older records read through the evolution rules. */
  decodeAs<S extends ValueSchemaName>(schemaName: S, buffer: Buffer): Promise<ValueRecordOf<S>>;
}

export interface WireRecord {
  readonly schemaId: number;
  readonly payload: Buffer;
}

export function parseWireFormat(buffer: Buffer): WireRecord {
  if (buffer.length < wireHeaderLength) {
    throw new ValidationError('value', 'wire-format', `a Confluent-framed record has at least ${wireHeaderLength} bytes, this one ${buffer.length}`);
  }
  if (buffer[0] !== magicByte) {
    throw new ValidationError('value', 'wire-format', `magic byte is ${String(buffer[0])}, expected ${magicByte}: not a schema-registry record`);
  }
  return { schemaId: buffer.readInt32BE(1), payload: buffer.subarray(wireHeaderLength) };
}

export function toWireFormat(schemaId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(wireHeaderLength);
  header.writeUInt8(magicByte, 0);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, payload]);
}

function cached<K, V>(cache: Map<K, Promise<V>>, key: K, load: () => Promise<V>): Promise<V> {
  const existing = cache.get(key);
  if (existing !== undefined) return existing;
  // The promise itself is cached so concurrent callers share one request; a failure is evicted
  // so the next call asks again instead of failing forever.
  const loading = load();
  cache.set(key, loading);
  void loading.catch(() => cache.delete(key));
  return loading;
}

export function createAvroSerde(registry: SchemaRegistry): AvroSerde {
  const schemaIds = new Map<string, Promise<number>>();
  const writerTypes = new Map<number, Promise<avro.Type>>();
  const resolvers = new Map<string, avro.Resolver>();

  const readerTypeOf = valueTypeOf;

  // Producers look up the id of the exact schema they write (`POST /subjects/<subject>`) and
  // never register: registration is a deployment step (`schemas register`, run by `prepare`)
  // guarded by the compatibility check. Register-on-first-use would let any producer build push
  // an unreviewed schema into production; `getLatestSchemaId` would label our bytes with whatever
  // schema is newest, which need not be the one we encoded with.
  function schemaIdOf(subject: string, schemaName: ValueSchemaName): Promise<number> {
    return cached(schemaIds, `${subject}\u0000${schemaName}`, async () => {
      try {
        return await registry.getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema: schemaTextOf(schemaName) });
      } catch (error) {
        if (isLibraryNotFound(error)) {
          throw new UnavailableError(
            `schema ${schemaName} is not registered under ${subject} (yet); run \`npm run schemas:register\` (prepare does it)`,
            { cause: error, context: { subject, schemaName } },
          );
        }
        throw classifyRegistryError(error, `looking up the id of ${schemaName} under ${subject}`);
      }
    });
  }

  function writerTypeOf(schemaId: number): Promise<avro.Type> {
    return cached(writerTypes, schemaId, async () => {
      let schema: unknown;
      try {
        schema = await registry.getSchema(schemaId);
      } catch (error) {
        if (isLibraryNotFound(error)) {
          throw new ValidationError('value', 'schema-id-unknown', `the record names schema id ${schemaId}, which the registry does not know`, { cause: error });
        }
        throw classifyRegistryError(error, `fetching schema id ${schemaId}`);
      }
      if (!avro.Type.isType(schema)) {
        throw new ValidationError('value', 'schema-not-avro', `schema id ${schemaId} is not an Avro schema`);
      }
      return schema as avro.Type;
    });
  }

  function resolverOf(schemaName: ValueSchemaName, schemaId: number, writer: avro.Type): avro.Resolver {
    const key = `${schemaId}\u0000${schemaName}`;
    let resolver = resolvers.get(key);
    if (resolver === undefined) {
      const reader = readerTypeOf(schemaName);
      try {
        resolver = reader.createResolver(writer);
      } catch (error) {
        const reasons = findEvolutionProblems(reader, writer, `schema id ${schemaId}`);
        throw new ValidationError('value', 'schema-incompatible', `records of schema id ${schemaId} cannot be read as ${schemaName}: ${reasons.join('; ') || messageOf(error)}`, {
          cause: error,
        });
      }
      resolvers.set(key, resolver);
    }
    return resolver;
  }

  return {
    async encode(topic, schemaName, value) {
      const definition = topicDefinitions.find((candidate) => candidate.name === topic);
      assertInvariant(definition?.valueSchema === schemaName, 'a topic carries only its own value schema', { topic, schemaName, expected: definition?.valueSchema });
      const schemaId = await schemaIdOf(valueSubjectOf(topic), schemaName);
      // Encoded locally with the very schema whose id we looked up: no round trip per record.
      return toWireFormat(schemaId, encodeAvroValue(readerTypeOf(schemaName), value, schemaName));
    },

    async decode(buffer) {
      const { schemaId, payload } = parseWireFormat(buffer);
      const writer = await writerTypeOf(schemaId);
      return decodeAvroValue(writer, payload, `schema id ${schemaId}`);
    },

    async decodeAs(schemaName, buffer) {
      const { schemaId, payload } = parseWireFormat(buffer);
      const writer = await writerTypeOf(schemaId);
      // Always through a resolver, even for an "equal" writer: avsc's equality ignores decimal
      // scale, and the resolver is where a changed scale is refused.
      const value = decodeAvroValue(readerTypeOf(schemaName), payload, `${schemaName} (schema id ${schemaId})`, resolverOf(schemaName, schemaId, writer));
      // Decoded by the reader type of schemaName, so it has that record's shape.
      return value as ValueRecordOf<typeof schemaName>;
    },
  };
}
