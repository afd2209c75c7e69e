// Turns whatever PostgreSQL, pg or slonik threw into a PipelineError whose `retriable` flag the
// shared retry can trust. Without this a database outage reaches createRetry as a plain Error and
// is never retried, while a unique violation (a replayed record, usually) looks like an outage.
//
// slonik 47 already wraps some SQLSTATEs (23505 → UniqueIntegrityConstraintViolationError, 23503
// → ForeignKeyIntegrityConstraintViolationError, 57014 → StatementTimeoutError, …) and keeps the pg
// error as `cause`; others (40001, 40P01, class 08, 57P01 from some paths) arrive as raw pg errors.
// Both shapes are handled by reading the SQLSTATE from anywhere in the cause chain.
import {
  BackendTerminatedError,
  BackendTerminatedUnexpectedlyError,
  CheckExclusionConstraintViolationError,
  CheckIntegrityConstraintViolationError,
  ConnectionError,
  ForeignKeyIntegrityConstraintViolationError,
  IdleTransactionTimeoutError,
  IntegrityConstraintViolationError,
  NotNullIntegrityConstraintViolationError,
  StatementTimeoutError,
  UniqueIntegrityConstraintViolationError,
} from 'slonik';
import { PipelineError, UnavailableError, type PipelineErrorOptions } from '../core/errors.ts';

export const sqlStates = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  notNullViolation: '23502',
  checkViolation: '23514',
  exclusionViolation: '23P01',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  queryCanceled: '57014',
  adminShutdown: '57P01',
  crashShutdown: '57P02',
  cannotConnectNow: '57P03',
  tooManyConnections: '53300',
  lockNotAvailable: '55P03',
  protocolViolation: '08P01',
} as const;

/** What PostgreSQL said, kept on every classified error so logs and alerts can name it. */
export interface DatabaseErrorDetails {
  readonly sqlState: string | undefined;
  readonly constraint: string | undefined;
  readonly table: string | undefined;
  readonly detail: string | undefined;
}

/** A database error that is not an outage. Subclasses say which rule or conflict it was. */
export class DatabaseError extends PipelineError {
  readonly details: DatabaseErrorDetails;

  constructor(message: string, details: DatabaseErrorDetails, options: PipelineErrorOptions = {}) {
    super(message, { ...options, context: { ...options.context, ...definedOnly(details) } });
    this.details = details;
  }
}

/** 23505. Usually a replay or a duplicate delivery hitting a dedupe key: the caller decides. */
export class UniqueViolationError extends DatabaseError {}

/** 23503. A row refers to one that does not exist (yet): not retriable as such. */
export class ForeignKeyViolationError extends DatabaseError {}

/** 23502, 23514, 23P01: the data breaks a rule written in the schema. */
export class ConstraintViolationError extends DatabaseError {}

/** 40001. Another transaction won; the whole transaction may be run again. */
export class SerializationFailureError extends DatabaseError {
  constructor(message: string, details: DatabaseErrorDetails, options: PipelineErrorOptions = {}) {
    super(message, details, { ...options, retriable: true });
  }
}

/** 40P01. PostgreSQL aborted this transaction to break a deadlock; running it again usually works. */
export class DeadlockError extends DatabaseError {
  constructor(message: string, details: DatabaseErrorDetails, options: PipelineErrorOptions = {}) {
    super(message, details, { ...options, retriable: true });
  }
}

/** 57014 by statement_timeout, 25P03 idle in transaction: load or lock contention, worth a retry. */
export class DatabaseTimeoutError extends DatabaseError {
  constructor(message: string, details: DatabaseErrorDetails, options: PipelineErrorOptions = {}) {
    super(message, details, { ...options, retriable: true });
  }
}

/**
 * 08P01 answered with severity ERROR: PostgreSQL refused one of OUR messages (a statement with more
 * than 65,535 parameters wraps the Bind message's 16-bit count) and kept the session. The same
 * statement fails the same way every time, so it is not an outage: retrying it forever stalled
 * settlement once. Not retriable, so the batch consumer isolates the record as poison.
 */
export class ProtocolViolationError extends DatabaseError {}

/** PostgreSQL cannot be reached or dropped the connection: an outage, so retriable. */
export class DatabaseUnavailableError extends UnavailableError {
  readonly details: DatabaseErrorDetails;

  constructor(message: string, details: DatabaseErrorDetails, options: PipelineErrorOptions = {}) {
    super(message, { ...options, context: { ...options.context, ...definedOnly(details) } });
    this.details = details;
  }
}

const connectionSqlStates: ReadonlySet<string> = new Set([
  sqlStates.adminShutdown,
  sqlStates.crashShutdown,
  sqlStates.cannotConnectNow,
  sqlStates.tooManyConnections,
]);

const networkErrorCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

// pg reports a dead or timed-out socket only in the message.
const connectionLostMessage = /connection terminated|connection timeout|timeout expired|not queryable|connection ended/i;

/** Classifies any error from pg or slonik; a PipelineError passes through unchanged. */
export function classifyDatabaseError(error: unknown): PipelineError {
  if (error instanceof PipelineError) return error;
  const details = detailsOf(error);
  const { sqlState } = details;
  const described = describe(error, details);
  const options = { cause: error };

  if (error instanceof UniqueIntegrityConstraintViolationError || sqlState === sqlStates.uniqueViolation) {
    return new UniqueViolationError(`Unique constraint ${details.constraint ?? '?'} violated: ${described}`, details, options);
  }
  if (error instanceof ForeignKeyIntegrityConstraintViolationError || sqlState === sqlStates.foreignKeyViolation) {
    return new ForeignKeyViolationError(`Foreign key ${details.constraint ?? '?'} violated: ${described}`, details, options);
  }
  if (
    error instanceof NotNullIntegrityConstraintViolationError ||
    error instanceof CheckIntegrityConstraintViolationError ||
    error instanceof CheckExclusionConstraintViolationError ||
    error instanceof IntegrityConstraintViolationError ||
    sqlState?.startsWith('23') === true
  ) {
    return new ConstraintViolationError(`Constraint ${details.constraint ?? '?'} violated: ${described}`, details, options);
  }
  if (sqlState === sqlStates.serializationFailure) {
    return new SerializationFailureError(`Serialization failure: ${described}`, details, options);
  }
  if (sqlState === sqlStates.deadlockDetected) {
    return new DeadlockError(`Deadlock detected: ${described}`, details, options);
  }
  if (error instanceof StatementTimeoutError || error instanceof IdleTransactionTimeoutError) {
    return new DatabaseTimeoutError(`Database timeout: ${described}`, details, options);
  }
  if (sqlState === sqlStates.protocolViolation && severityOf(error) === 'ERROR') {
    return new ProtocolViolationError(`PostgreSQL refused the statement: ${described}`, details, options);
  }
  if (isConnectionProblem(error, sqlState)) {
    return new DatabaseUnavailableError(`PostgreSQL is unavailable: ${described}`, details, options);
  }
  return new DatabaseError(`Database error: ${described}`, details, options);
}

/** The SQLSTATE of a pg error, found however deep slonik wrapped it. */
export function sqlStateOf(error: unknown): string | undefined {
  for (const link of causeChain(error)) {
    if (isPgDatabaseError(link)) return link.code;
  }
  return undefined;
}

/** For callers that treat a duplicate as "already done" (dedupe tables, idempotent inserts). */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const classified = classifyDatabaseError(error);
  return (
    classified instanceof UniqueViolationError &&
    (constraint === undefined || classified.details.constraint === constraint)
  );
}

/** ERROR ends the statement; FATAL ends the session (then the connection is gone: an outage). */
function severityOf(error: unknown): string | undefined {
  for (const link of causeChain(error)) {
    if (isPgDatabaseError(link)) return link.severity;
  }
  return undefined;
}

interface PgDatabaseErrorShape {
  code: string;
  severity: string;
  message: string;
  constraint?: string;
  table?: string;
  detail?: string;
}

// pg's DatabaseError carries `severity` and a five-character `code`; Node's system errors also
// have five-letter codes (EPIPE), so the code alone cannot tell them apart.
function isPgDatabaseError(value: unknown): value is PgDatabaseErrorShape {
  if (typeof value !== 'object' || value === null) return false;
  const { code, severity } = value as { code?: unknown; severity?: unknown };
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof severity === 'string';
}

function* causeChain(error: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (typeof current === 'object' && current !== null && !seen.has(current) && seen.size < 8) {
    seen.add(current);
    yield current;
    if (current instanceof AggregateError) yield* current.errors as unknown[];
    current = (current as { cause?: unknown }).cause;
  }
}

function detailsOf(error: unknown): DatabaseErrorDetails {
  let pgError: PgDatabaseErrorShape | undefined;
  let constraint: string | undefined;
  let table: string | undefined;
  for (const link of causeChain(error)) {
    if (link instanceof IntegrityConstraintViolationError) {
      constraint ??= link.constraint ?? undefined;
      table ??= link.table ?? undefined;
    }
    if (pgError === undefined && isPgDatabaseError(link)) pgError = link;
  }
  return {
    sqlState: pgError?.code,
    constraint: constraint ?? pgError?.constraint,
    table: table ?? pgError?.table,
    detail: pgError?.detail,
  };
}

function isConnectionProblem(error: unknown, sqlState: string | undefined): boolean {
  if (sqlState !== undefined && (sqlState.startsWith('08') || connectionSqlStates.has(sqlState))) return true;
  for (const link of causeChain(error)) {
    if (
      link instanceof ConnectionError ||
      link instanceof BackendTerminatedError ||
      link instanceof BackendTerminatedUnexpectedlyError
    ) {
      return true;
    }
    const { code, message } = link as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && networkErrorCodes.has(code)) return true;
    if (typeof message === 'string' && connectionLostMessage.test(message)) return true;
  }
  return false;
}

// The pg message is the useful one ("duplicate key value violates unique constraint …");
// slonik's wrapper only says "Query violates a unique integrity constraint.".
function describe(error: unknown, details: DatabaseErrorDetails): string {
  let message: string | undefined;
  for (const link of causeChain(error)) {
    if (isPgDatabaseError(link)) {
      message = link.message;
      break;
    }
    if (message === undefined && link instanceof Error && link.message !== '') message = link.message;
  }
  const parts = [message ?? String(error)];
  if (details.detail !== undefined) parts.push(details.detail);
  if (details.sqlState !== undefined) parts.push(`SQLSTATE ${details.sqlState}`);
  return parts.join(' — ');
}

function definedOnly(details: DatabaseErrorDetails): Record<string, string> {
  const context: Record<string, string> = {};
  for (const [key, value] of Object.entries(details)) {
    if (typeof value === 'string') context[key] = value;
  }
  return context;
}
