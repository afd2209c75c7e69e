// The one way the pipeline opens PostgreSQL: a slonik pool whose limits are written down here
// rather than inherited, and whose type parsers keep money out of JS numbers. slonik's own preset
// parses `numeric` with Number.parseFloat and timestamps into epoch numbers; pg-types alone returns
// `numeric`/`int8` as strings that invite a careless Number(). Here `numeric` becomes a Decimal
// (core/money.ts, 100 significant digits), `int8` a bigint, timestamps Dates. `json`/`jsonb` keep
// pg's JSON.parse, so a number inside a JSON column IS a JS number: never store money there unquoted.
// Rows of `sql.type(schema)` queries are checked against the schema (slonik alone only types them).
import {
  createDateTypeParser,
  createIntervalTypeParser,
  createPool,
  SchemaValidationError,
  type DatabasePool,
  type DriverTypeParser,
  type Interceptor,
  type QueryResultRow,
} from 'slonik';
import { PipelineError } from '../core/errors.ts';
import { Decimal } from '../core/money.ts';
import { classifyDatabaseError } from './errors.ts';

export interface DatabasePoolOptions {
  /** Connections per process; PostgreSQL's default max_connections is 100 for all processes together. */
  maximumPoolSize?: number;
  /** Giving up on opening one connection (TCP + auth). */
  connectionTimeoutMs?: number;
  /** Server-side statement_timeout: a stuck query is cancelled instead of holding locks forever. */
  statementTimeoutMs?: number;
  /** Idle pooled connections are closed after this. */
  idleTimeoutMs?: number;
  /** Server-side idle_in_transaction_session_timeout: a transaction forgotten open releases its locks. */
  idleInTransactionSessionTimeoutMs?: number;
  /**
   * How often slonik itself re-runs a transaction that failed with a class-40 error. Default 0:
   * retries belong to core/retry.ts (through classifyDatabaseError), so they are visible, bounded
   * in time and not multiplied by a second hidden layer.
   */
  transactionRetryLimit?: number;
  /** Shown in pg_stat_activity, so an operator can tell which processor holds a connection. */
  applicationName?: string;
  /**
   * DISCARD ALL when a connection goes back to the pool (slonik's default): clears session state a
   * caller may have left (SET, session advisory locks, temporary tables). A pool whose callers
   * keep no session state may turn it off and save a round trip per checkout.
   */
  resetSessionOnRelease?: boolean;
}

export const defaultDatabasePoolOptions = {
  maximumPoolSize: 10,
  connectionTimeoutMs: 5_000,
  statementTimeoutMs: 30_000,
  idleTimeoutMs: 10_000,
  idleInTransactionSessionTimeoutMs: 60_000,
  transactionRetryLimit: 0,
  resetSessionOnRelease: true,
} as const satisfies Required<Omit<DatabasePoolOptions, 'applicationName'>>;

/** numeric → Decimal, exactly: the Decimal constructor never rounds, whatever the precision. */
export function parseNumeric(value: string): Decimal {
  return new Decimal(value);
}

export function parseInt8(value: string): bigint {
  return BigInt(value);
}

// PostgreSQL prints timestamps as `2024-05-01 12:34:56.789012` and timestamptz with an offset
// that may lack minutes (`+00`) or carry seconds (`+05:53:28`, historic zones). Date.parse accepts
// neither reliably, so the text is rewritten to strict ISO 8601 first. Sub-millisecond digits are
// dropped: Date cannot hold them (no money is ever a timestamp).
const timestampText = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{2})?(?::?(\d{2}))?(?::?(\d{2}))?$/;

export function parseTimestamp(value: string, withTimeZone: boolean): Date {
  const match = timestampText.exec(value);
  if (match === null) {
    // infinity, BC dates and years past 9999 have no faithful Date; failing beats a wrong date.
    throw new PipelineError(`Cannot represent PostgreSQL timestamp "${value}" as a Date`, { context: { value } });
  }
  const [, date, time, fraction = '', offsetHours, offsetMinutes = '00', offsetSeconds] = match;
  const milliseconds = fraction === '' ? '' : fraction.slice(0, 4).padEnd(4, '0');
  let offset = 'Z';
  if (withTimeZone && offsetHours !== undefined) offset = `${offsetHours}:${offsetMinutes}`;
  let epochMs = Date.parse(`${date}T${time}${milliseconds}${offset}`);
  if (withTimeZone && offsetSeconds !== undefined) {
    const sign = offsetHours?.startsWith('-') === true ? -1 : 1;
    epochMs -= sign * Number(offsetSeconds) * 1_000;
  }
  if (Number.isNaN(epochMs)) {
    throw new PipelineError(`Cannot represent PostgreSQL timestamp "${value}" as a Date`, { context: { value } });
  }
  return new Date(epochMs);
}

/** Every parser is listed, because passing `typeParsers` replaces slonik's preset entirely. */
export function createMoneySafeTypeParsers(): readonly DriverTypeParser[] {
  return [
    { name: 'numeric', parse: parseNumeric },
    { name: 'int8', parse: parseInt8 },
    { name: 'timestamp', parse: (value) => parseTimestamp(value, false) },
    { name: 'timestamptz', parse: (value) => parseTimestamp(value, true) },
    // From slonik's preset: `date` stays 'YYYY-MM-DD' (a Date would shift it by the local zone),
    // `interval` becomes seconds.
    createDateTypeParser(),
    createIntervalTypeParser(),
  ];
}

/**
 * Opens the pool. slonik connects once at creation to look up type OIDs, so an unreachable
 * server fails here, as a retriable DatabaseUnavailableError.
 */
export async function createDatabasePool(databaseUrl: string, options: DatabasePoolOptions = {}): Promise<DatabasePool> {
  const settings = { ...defaultDatabasePoolOptions, ...options };
  try {
    return await createPool(withApplicationName(databaseUrl, options.applicationName), {
      maximumPoolSize: settings.maximumPoolSize,
      minimumPoolSize: 0,
      connectionTimeout: settings.connectionTimeoutMs,
      // One attempt per acquire: a down server is reported at once and retried by core/retry.ts.
      connectionRetryLimit: 0,
      statementTimeout: settings.statementTimeoutMs,
      idleTimeout: settings.idleTimeoutMs,
      idleInTransactionSessionTimeout: settings.idleInTransactionSessionTimeoutMs,
      transactionRetryLimit: settings.transactionRetryLimit,
      // Same reason as transactionRetryLimit, for class-40 errors outside explicit transactions.
      queryRetryLimit: 0,
      gracefulTerminationTimeout: 5_000,
      captureStackTrace: false,
      typeParsers: createMoneySafeTypeParsers(),
      ...(settings.resetSessionOnRelease ? {} : { resetConnection: () => Promise.resolve() }),
      interceptors: [createResultParserInterceptor()],
    });
  } catch (error) {
    throw classifyDatabaseError(error);
  }
}

/**
 * slonik 47 attaches the zod schema of `sql.type(schema)` to the query but never applies it; this
 * interceptor (the one slonik's README recommends) does, so a column that arrives as another type
 * than the code expects fails the query with a SchemaValidationError instead of flowing on.
 */
export function createResultParserInterceptor(): Interceptor {
  return {
    name: 'payout-pipeline/result-parser',
    transformRow: (context, query, row) => {
      const parser = context.resultParser;
      if (parser === undefined) return row;
      const parsed = parser.safeParse(row);
      if (!parsed.success) throw new SchemaValidationError(query, row, parsed.error.issues);
      return parsed.data as QueryResultRow;
    },
  };
}

function withApplicationName(databaseUrl: string, applicationName: string | undefined): string {
  if (applicationName === undefined) return databaseUrl;
  const url = new URL(databaseUrl);
  url.searchParams.set('application_name', applicationName);
  return url.toString();
}
