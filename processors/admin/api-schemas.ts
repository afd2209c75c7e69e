// The zod schemas of the admin's list, statement and OpenAPI routes: the routes parse their query
// with them, the views are typed by them, and openapi.ts turns the very same objects into the
// OpenAPI 3.1 document (zod's own JSON Schema output, draft 2020-12, which is OpenAPI 3.1's
// dialect). They use zod's v4 API (`zod/v4`, shipped inside the installed zod 3.25) because its
// toJSONSchema is native; row schemas of the database keep using `zod` (slonik's sql.type).
// Money is a decimal string everywhere (never a JSON number); times are ISO 8601 in UTC.
import { z } from 'zod/v4';
import { isLosslessNumber } from 'lossless-json';
import { rejection } from '../../core/http/http-errors.ts';
import { pageLimitDefault, pageLimitMax } from './api-pagination.ts';

export const decimalText = z.string().regex(/^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/).describe('an exact decimal, as a string');
export const instantText = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/).describe('ISO 8601 instant in UTC');
/** The calendar date exists (Date.parse reads 2026-02-30 as 2 March) and the whole text parses. */
function isExistingDate(text: string): boolean {
  const [year, month, day] = text.slice(0, 10).split('-').map(Number);
  if (year === undefined || month === undefined || day === undefined) return false;
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day && !Number.isNaN(Date.parse(text));
}

const dateFilter = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?$/)
  .refine(isExistingDate, 'a date that exists')
  .describe('a date (YYYY-MM-DD, UTC midnight) or an ISO 8601 instant with a zone');
const clientIdText = z.string().regex(/^-?[0-9]{1,14}$/).describe('a Telegram channel id');
const idText = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/);

const pageQuery = {
  limit: z.string().regex(/^[1-9][0-9]{0,2}$/).optional().describe(`page size, 1..${pageLimitMax}, default ${pageLimitDefault}`),
  cursor: z.string().max(1024).optional().describe('next_cursor of the previous page (opaque)'),
};

// ---- errors -----------------------------------------------------------------------------------

export const errorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
    rule: z.string().optional(),
    problems: z.array(z.object({ field: z.string(), rule: z.string() })).optional(),
  }),
});

// ---- queries ----------------------------------------------------------------------------------

export const clientListQuery = z.strictObject({
  ...pageQuery,
  q: z.string().regex(/^-?[0-9]{0,14}$/).optional().describe('client id prefix'),
  strategy: z.enum(['instant', 'threshold']).optional(),
});

export const payoutBatchStates = ['requested', 'swapping', 'finished', 'failed'] as const;
export const payoutBatchListQuery = z.strictObject({
  ...pageQuery,
  state: z.enum(payoutBatchStates).optional(),
  client_id: clientIdText.optional(),
  from: dateFilter.optional().describe('created at or after'),
  to: dateFilter.optional().describe('created before'),
});

// needs_recovery and written_off: a conversion that failed after its pay-in, held for an operator or written off.
export const conversionBatchStates = ['requested', 'swapping', 'finished', 'failed', 'needs_recovery', 'written_off'] as const;
export const conversionBatchListQuery = z.strictObject({
  ...pageQuery,
  state: z.enum(conversionBatchStates).optional(),
  from: dateFilter.optional().describe('created at or after'),
  to: dateFilter.optional().describe('created before'),
});

export const alertListQuery = z.strictObject({
  ...pageQuery,
  status: z.enum(['open', 'all']).optional().describe('open (default): findings not cleared; all: every finding'),
});

export const consumerGroupListQuery = z.strictObject({ ...pageQuery });

export const deadLetterListQuery = z.strictObject({ ...pageQuery });

export const statementQuery = z.strictObject({
  payout_batch_id: idText.optional(),
  from: dateFilter.optional().describe('payments paid at or after'),
  to: dateFilter.optional().describe('payments paid before'),
  format: z.enum(['json', 'csv']).optional().describe('json (default) or csv; also chosen by Accept: text/csv'),
});

/** Parses a query with its schema; the first problem is a 400 naming its field and rule. */
export function parseQuery<Schema extends z.ZodType>(schema: Schema, query: unknown): z.output<Schema> {
  const result = schema.safeParse(query);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) throw rejection(400, 'invalid_query', 'query', 'valid query parameters', 'The query parameters are not valid.');
  if (issue.code === 'unrecognized_keys') {
    const field = issue.keys[0] ?? 'query';
    throw rejection(400, 'invalid_query', field, 'a known query parameter', `${field} is not a query parameter of this route.`);
  }
  const field = String(issue.path[0] ?? 'query');
  const rule = issue.code === 'invalid_value' ? `one of ${issue.values.map(String).join(', ')}` : issue.code === 'invalid_type' ? 'a single value' : issue.message;
  throw rejection(400, 'invalid_query', field, rule, `${field} is not valid: ${rule}.`);
}

// ---- responses --------------------------------------------------------------------------------

function pageOf<Item extends z.ZodType>(item: Item) {
  return z.object({ items: z.array(item), next_cursor: z.string().nullable() });
}

export const clientListItem = z.object({
  client_id: z.string(),
  strategy: z.enum(['instant', 'threshold']),
  threshold_usd: decimalText.nullable(),
  payout_currency: z.string(),
  payout_network: z.string(),
  unpaid_usdt: decimalText.describe('credited, not yet paid out'),
  unconverted_usd: decimalText.describe('net USD of payments not yet converted'),
  state: z.enum(['paid_up', 'waiting_for_conversion', 'below_threshold', 'payout_due', 'held', 'payout_in_flight', 'failed_retrying', 'needs_recovery']),
  reason: z.string(),
  last_payout: z
    .object({ batch_id: z.string(), state: z.enum(payoutBatchStates), created_at: instantText, completed_at: instantText.nullable(), payout_hash: z.string().nullable() })
    .nullable(),
  created_at: instantText,
});
export const clientListPage = pageOf(clientListItem);

export const payoutBatchListItem = z.object({
  batch_id: z.string(),
  client_id: z.string(),
  reason: z.string(),
  state: z.enum(payoutBatchStates),
  payout_currency: z.string(),
  payout_network: z.string(),
  source_currency: z.string(),
  source_amount: decimalText,
  usd_value: decimalText,
  payout_amount: decimalText.nullable(),
  payout_hash: z.string().nullable(),
  failure_reason: z.string().nullable(),
  attempts: z.number().int(),
  retry_of: z.string().nullable(),
  created_at: instantText,
  completed_at: instantText.nullable(),
});
export const payoutBatchListPage = pageOf(payoutBatchListItem);

export const conversionBatchListItem = z.object({
  batch_id: z.string(),
  state: z.enum(conversionBatchStates),
  trigger: z.string(),
  member_count: z.number().int(),
  total_usd: decimalText,
  total_eth: decimalText,
  usdt_received: decimalText.nullable(),
  exchange_id: z.string().nullable(),
  exchange_status: z.string().nullable(),
  failure_reason: z.string().nullable(),
  created_at: instantText,
  finished_at: instantText.nullable(),
  failed_at: instantText.nullable(),
});
export const conversionBatchListPage = pageOf(conversionBatchListItem);

export const alertListItem = z.object({
  finding_id: z.string(),
  kind: z.string(),
  subject: z.string(),
  severity: z.enum(['warning', 'critical']),
  detail: z.string(),
  open: z.boolean(),
  first_seen_at: instantText,
  last_seen_at: instantText,
  last_alerted_at: instantText,
  alerts_emitted: z.number().int(),
  cleared_at: instantText.nullable(),
});
export const alertListPage = pageOf(alertListItem);

export const consumerGroupListItem = z.object({
  group_id: z.string(),
  state: z.string(),
  members: z.number().int(),
  total_lag: z.string().regex(/^[0-9]+$/).describe('records, as a decimal string (a sum of Kafka offsets)'),
  partitions: z.array(
    z.object({
      topic: z.string(),
      partition: z.number().int(),
      committed_offset: z.string().regex(/^-?[0-9]+$/).describe('-1 when nothing is committed'),
      end_offset: z.string().regex(/^[0-9]+$/),
      lag: z.string().regex(/^[0-9]+$/),
    }),
  ),
});
export const consumerGroupListPage = pageOf(consumerGroupListItem);

const recordCount = z.string().regex(/^[0-9]+$/);
export const deadLetterTopicItem = z.object({
  topic: z.string(),
  source_topic: z.string(),
  records: recordCount.describe('records kept on the dead-letter topic'),
  not_replayed: recordCount.describe('records not moved back yet (by the replay command, or the console\'s replay of all or of selected records)'),
  partitions: z.array(z.object({ partition: z.number().int(), records: recordCount, not_replayed: recordCount })),
});
export const deadLetterListPage = pageOf(deadLetterTopicItem);

export const statementRow = z.object({
  payment_id: z.string(),
  paid_at: instantText,
  usd_gross: decimalText,
  platform_fee_usd: decimalText,
  usd_net: decimalText,
  eth_net: decimalText,
  conversion_batch_id: z.string().nullable().describe('null for an instant payment (paid in ETH, never converted)'),
  conversion_share: decimalText.nullable().describe("the payment's share of its conversion: usd_net / the conversion's total_usd, 18 decimals"),
  usdt_credited: decimalText.nullable(),
  payout_batch_id: z.string().nullable(),
  payout_state: z.enum(payoutBatchStates).nullable(),
  payout_tx_hash: z.string().nullable(),
  payout_currency: z.string().nullable(),
  payout_amount: decimalText.nullable().describe("the payout batch's whole amount in payout_currency"),
});

export const statementBody = z.object({
  client_id: z.string(),
  period: z.object({ payout_batch_id: z.string().nullable(), from: instantText.nullable(), to: instantText.nullable() }),
  generated_at: instantText,
  rows: z.array(statementRow),
  totals: z.object({
    payments: z.number().int(),
    usd_gross: decimalText,
    platform_fee_usd: decimalText,
    usd_net: decimalText,
    eth_net: decimalText,
    usdt_credited: decimalText,
  }),
  payouts: z
    .array(
      z.object({
        batch_id: z.string(),
        state: z.enum(payoutBatchStates),
        source_currency: z.string(),
        source_amount: decimalText.describe('what the payout sent (USDT for a threshold payout): equals the sum of its rows\' usdt_credited'),
        usdt_credited: decimalText.describe('sum of usdt_credited of this statement\'s rows in the batch'),
        payout_currency: z.string(),
        payout_amount: decimalText.nullable(),
        payout_tx_hash: z.string().nullable(),
      }),
    )
    .describe('every payout batch the rows name'),
});

// ---- access: console sessions and the audit ---------------------------------------------------

export const adminRoleEnum = z.enum(['viewer', 'operator']);

export const loginRequest = z.strictObject({ token: z.string().min(1).max(512).describe('an admin token (ADMIN_TOKEN, ADMIN_VIEWER_TOKEN or one of ADMIN_TOKENS)') });

export const sessionBody = z.object({
  actor: z.string().describe("the token's name: who acts"),
  role: adminRoleEnum,
  csrf_token: z.string().describe('send it as X-CSRF-Token on every request other than GET/HEAD made with the cookie'),
  expires_at: instantText,
});

export const auditListQuery = z.strictObject({
  ...pageQuery,
  actor: z.string().regex(/^[A-Za-z0-9._@+-]{1,64}$/).optional().describe("only this actor's requests"),
});

export const auditListItem = z.object({
  id: z.string().regex(/^[0-9]+$/),
  at: instantText,
  actor: z.string().nullable().describe('null when the request never authenticated'),
  role: adminRoleEnum.nullable(),
  method: z.string(),
  path: z.string(),
  status: z.number().int(),
  correlation_id: z.string(),
});
export const auditListPage = pageOf(auditListItem);
export type AuditListItem = z.output<typeof auditListItem>;
export type SessionBody = z.output<typeof sessionBody>;

// ---- live data and operations (the console) ---------------------------------------------------

const offsetText = z.string().regex(/^[0-9]{1,19}$/).describe('a Kafka offset, as a decimal string (int64)');
const signedOffsetText = z.string().regex(/^-?[0-9]{1,19}$/);

export const overviewBody = z.object({
  at: instantText,
  micro_batch: z.object({
    pending_usd: decimalText.describe('net USD of the payments pending conversion'),
    threshold_usd: decimalText.describe('the threshold the accumulator decides with'),
    pending_payments: z.number().int(),
    oldest_pending_at: instantText.nullable(),
    max_wait_seconds: z.number().int().describe('MICRO_BATCH_MAX_WAIT'),
    flush_in_seconds: z.number().int().nullable().describe('until the oldest pending payment closes a batch by max wait; null when nothing is pending'),
  }),
  conversions_in_flight: z.array(z.object({ batch_id: z.string(), state: z.string(), stage: z.string(), since: instantText, amount_usd: decimalText })).describe('oldest first, at most 50'),
  payouts_in_flight: z
    .array(z.object({ batch_id: z.string(), client_id: z.string(), state: z.string(), stage: z.string(), since: instantText, amount: decimalText, currency: z.string() }))
    .describe('oldest first, at most 50; amount in currency (what the batch sends)'),
  volume_today: z.object({ payments: z.number().int(), usd: decimalText }).describe('payments accepted by the webhook since midnight UTC'),
  open_alerts: z.array(z.object({ id: z.string(), kind: z.string(), severity: z.string(), since: instantText, summary: z.string() })).describe('oldest first, at most 50'),
  consumer_lag: z.array(z.object({ group: z.string(), topic: z.string(), lag: z.string().regex(/^[0-9]+$/) })).nullable().describe('null when Kafka did not answer'),
  dead_letters: z.array(z.object({ topic: z.string(), not_replayed: z.string().regex(/^[0-9]+$/) })).nullable().describe('null when Kafka did not answer'),
  host_wallet: z
    .object({ address: z.string(), eth: decimalText, usdt: decimalText, low_eth: decimalText, low_usdt: decimalText })
    .nullable()
    .describe('null when this process cannot know it (no sender address yet, or the EVM node did not answer)'),
});

export const deadLetterRecordsQuery = z.strictObject({ ...pageQuery });

export const deadLetterRecordItem = z.object({
  partition: z.number().int(),
  offset: offsetText,
  timestamp: instantText,
  key: z.string().nullable(),
  headers: z.record(z.string(), z.string()).describe('every header as UTF-8 text (dlq-reason, dlq-rule, … among them)'),
  value: z.unknown().describe('the record decoded through the schema registry, money as strings; null when it does not decode'),
  raw_base64: z.string().nullable().describe('the raw value when it does not decode'),
  decode_error: z.string().nullable(),
  replayed: z.boolean(),
});
export const deadLetterRecordPage = pageOf(deadLetterRecordItem);

export const replayRequest = z.union([
  z.strictObject({ records: z.array(z.strictObject({ partition: z.number().int().min(0).max(99_999), offset: offsetText })).min(1).max(1_000) }),
  z.strictObject({ all: z.literal(true) }),
]);

export const replayAccepted = z.object({ replay_id: z.string() });

export const replayView = z.object({
  replay_id: z.string(),
  topic: z.string(),
  state: z.enum(['running', 'done', 'failed']),
  total: z.number().int(),
  replayed: z.number().int(),
  error: z.string().nullable(),
});

export const offsetResetRequest = z.strictObject({
  topic: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/),
  to: z.union([z.enum(['earliest', 'latest']), z.strictObject({ timestamp: dateFilter })]),
  dry_run: z.boolean(),
  confirm_token: z.string().regex(/^[0-9a-f]{64}$/).optional().describe('the dry run\'s confirm_token; required when dry_run is false'),
});

export const offsetResetPlan = z.object({
  group: z.string(),
  topic: z.string(),
  partitions: z.array(
    z.object({
      partition: z.number().int(),
      current: signedOffsetText.describe('-1 when the group has committed nothing there'),
      target: offsetText,
      delta: signedOffsetText.describe('target − current (from the log start when nothing is committed)'),
    }),
  ),
  confirm_token: z.string().describe('sha256 of the plan: apply with it, refused (409 plan_changed) if the plan has changed since'),
  applied: z.boolean(),
});

/** A JSON body (parsed losslessly) with its schema; the first problem is a 400 naming its field. */
export function parseBody<Schema extends z.ZodType>(schema: Schema, body: unknown): z.output<Schema> {
  const result = schema.safeParse(plainNumbers(body));
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) throw rejection(400, 'invalid_body', 'body', 'a valid body', 'The body is not valid.');
  if (issue.code === 'unrecognized_keys') {
    const field = [...issue.path, issue.keys[0] ?? ''].join('.');
    throw rejection(400, 'invalid_body', field, 'a known field', `${field} is not a field of this body.`);
  }
  if (issue.code === 'invalid_union') {
    // Which shape was meant is unknown: name the body, with the accepted shapes.
    throw rejection(400, 'invalid_body', issue.path.length === 0 ? 'body' : issue.path.join('.'), 'one of the documented shapes', 'The body does not have one of the documented shapes (see /api/openapi.json).');
  }
  const field = issue.path.length === 0 ? 'body' : issue.path.join('.');
  throw rejection(400, 'invalid_body', field, issue.message, `${field} is not valid: ${issue.message}.`);
}

/** lossless-json's numbers as JS numbers when they are safe integers; any other number stays text (and fails a number schema). */
function plainNumbers(value: unknown): unknown {
  if (isLosslessNumber(value)) return Number.isSafeInteger(Number(value.value)) && /^-?[0-9]+$/.test(value.value) ? Number(value.value) : value.value;
  if (Array.isArray(value)) return value.map(plainNumbers);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plainNumbers(item)]));
  return value;
}

export type OverviewBody = z.output<typeof overviewBody>;
export type DeadLetterRecordItem = z.output<typeof deadLetterRecordItem>;
export type ReplayView = z.output<typeof replayView>;
export type OffsetResetPlanBody = z.output<typeof offsetResetPlan>;

export type ClientListItem = z.output<typeof clientListItem>;
export type PayoutBatchListItem = z.output<typeof payoutBatchListItem>;
export type ConversionBatchListItem = z.output<typeof conversionBatchListItem>;
export type AlertListItem = z.output<typeof alertListItem>;
export type ConsumerGroupListItem = z.output<typeof consumerGroupListItem>;
export type DeadLetterTopicItem = z.output<typeof deadLetterTopicItem>;
export type StatementRow = z.output<typeof statementRow>;
export type StatementBody = z.output<typeof statementBody>;
