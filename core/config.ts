// Configuration is read once, at start-up, from the environment by one zod schema into a frozen
// object. Each variable carries its description here, and docs/configuration.md is generated from
// this schema (`npm run docs:config`); a bad value stops the process with a message naming the
// variable, instead of surfacing later as a strange runtime error.
import { z } from 'zod';
import { PipelineError } from './errors.ts';
import { parseWebhookUrls } from '../processors/notifier/webhook-urls.ts';

const port = z.coerce.number().int().min(1).max(65_535);
const positiveInt = z.coerce.number().int().positive();
const optionalUrl = z.string().url().optional();
/** An interface to bind to: an IPv4 or IPv6 address or a host name. */
const listenHost = z.string().regex(/^[A-Za-z0-9.:-]{1,253}$/, 'an IP address or host name, e.g. 127.0.0.1 or 0.0.0.0');
const decimalText = z.string().regex(/^(0|[1-9]\d*)(\.\d+)?$/, 'a plain non-negative decimal, e.g. 20 or 2.5');

const durationUnitsMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** A duration such as `900ms`, `30s`, `15m`, `24h`, `90d`, read into milliseconds. */
const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 30s, 15m, 24h or 90d')
  .transform((text) => {
    const [, count = '0', unit = 'ms'] = /^(\d+)(ms|s|m|h|d)$/.exec(text) ?? [];
    return Number(count) * durationUnitsMs[unit as keyof typeof durationUnitsMs];
  });

export const configSchema = z.object({
  // Endpoints of an existing stack. When set they are used as they are and nothing is started.
  KAFKA_BROKERS: z
    .string()
    .regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, 'comma-separated host:port list')
    .optional()
    .describe('Brokers of an existing Kafka; when set, no broker is started.'),
  SCHEMA_REGISTRY_URL: optionalUrl.describe('URL of an existing Confluent-compatible schema registry; when set, none is started.'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'postgres:// URL')
    .optional()
    .describe('An existing PostgreSQL; when set, none is started.'),

  // Ports of the stack the project starts itself (native or Docker).
  KAFKA_PORT: port.default(9092).describe('Kafka client port of the local stack.'),
  KAFKA_CONTROLLER_PORT: port.default(9093).describe('KRaft controller port of the native broker.'),
  SCHEMA_REGISTRY_PORT: port.default(8081).describe('Schema registry port of the local stack.'),
  POSTGRES_PORT: port.default(5432).describe('PostgreSQL port of the local stack.'),
  KAFKA_UI_PORT: port.default(8088).describe('Kafka UI port (Docker mode only; there is no native Kafka UI).'),
  STACK_DATA_DIR: z.string().min(1).default('.cache/stack').describe('Where the local stack keeps its data across restarts; `stack reset --yes` deletes it.'),
  STACK_MODE: z
    .enum(['auto', 'external', 'docker', 'native'])
    .default('auto')
    .describe('How the stack is found: `auto` tries the endpoints from the environment, then Docker, then native; the others force one.'),

  // Security of an existing (managed) Kafka and registry; core/kafka/kafka-security.ts checks the combinations at start.
  KAFKA_SASL_MECHANISM: z
    .enum(['none', 'scram-sha-256', 'scram-sha-512', 'plain'])
    .default('none')
    .describe('SASL mechanism of the brokers (Confluent Cloud: plain; MSK and Aiven: scram-sha-512); needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD.'),
  KAFKA_SASL_USERNAME: z.string().min(1).optional().describe('SASL user name (Confluent Cloud: the API key).'),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional().describe('SASL password (Confluent Cloud: the API secret); never logged.'),
  KAFKA_SSL: z
    .enum(['true', 'false'])
    .transform((text) => text === 'true')
    .default('false')
    .describe('`true` connects to the brokers over TLS, verifying their certificate (required with KAFKA_SASL_MECHANISM=plain).'),
  KAFKA_SSL_CA_FILE: z
    .string()
    .min(1)
    .optional()
    .describe("PEM file of the CA(s) that signed the brokers' certificates; unset, Node's bundled public CAs are trusted."),
  KAFKA_SSL_CERT_FILE: z.string().min(1).optional().describe('PEM client certificate, for brokers that require mutual TLS (with KAFKA_SSL_KEY_FILE).'),
  KAFKA_SSL_KEY_FILE: z.string().min(1).optional().describe("PEM private key of KAFKA_SSL_CERT_FILE (unencrypted); never logged."),
  SCHEMA_REGISTRY_USERNAME: z
    .string()
    .min(1)
    .optional()
    .describe('Basic-auth user of the schema registry (Confluent Cloud: the registry API key); with SCHEMA_REGISTRY_PASSWORD.'),
  SCHEMA_REGISTRY_PASSWORD: z.string().min(1).optional().describe('Basic-auth password of the schema registry; never logged.'),

  // Replication of the pipeline's topics per environment, read by `topics apply` (topics/topic-plan.ts checks them together).
  TOPIC_REPLICATION_FACTOR: positiveInt
    .max(32_767)
    .optional()
    .describe(
      "Replicas of every pipeline topic `topics apply` creates, instead of the definitions' 3; still lowered to the brokers present (the log line says so).",
    ),
  TOPIC_MIN_INSYNC_REPLICAS: positiveInt
    .max(32_767)
    .optional()
    .describe(
      "`min.insync.replicas` of every pipeline topic, instead of the definitions' 2; at most the replication factor. On a cluster with fewer brokers than the replication factor it is lowered to one less than the brokers.",
    ),

  KAFKA_CLIENT_ID: z.string().min(1).default('payout-pipeline').describe('Kafka client id prefix; each processor appends its name.'),
  KAFKA_REQUEST_TIMEOUT_MS: positiveInt.default(10_000).describe('kafkajs request timeout, in milliseconds.'),
  KAFKA_SESSION_TIMEOUT: duration
    .default('15s')
    .describe('A consumer that sent no heartbeat for this long is dropped from its group (it heartbeats every fifth of it).'),
  KAFKA_REBALANCE_TIMEOUT: duration
    .default('30s')
    .describe('How long a rebalance waits for members to rejoin; bounds recovery after a SIGKILLed member.'),
  SHUTDOWN_DRAIN_TIMEOUT: duration
    .default('30s')
    .describe(
      'How long a processor drains after SIGTERM (finishing the work in flight, committing, closing) before it exits 1 anyway. Keep the pod\'s terminationGracePeriodSeconds above it plus any preStop delay.',
    ),
  KAFKA_FETCH_MAX_WAIT: duration
    .default('500ms')
    .describe(
      "How long the broker holds a consumer's fetch when nothing new has arrived (Kafka's own default). A stopping consumer waits for the fetch in flight, so this bounds how long a SIGTERM drain waits on it; new records end the wait at once whatever it is.",
    ),

  LISTEN_HOST: listenHost
    .default('127.0.0.1')
    .describe(
      "The interface every process's HTTP server binds to. Loopback, so a development machine does not offer its admin API to the network; set 0.0.0.0 in a container (the compose profile does).",
    ),

  WEBHOOK_PORT: port.default(8080).describe('The webhook\'s HTTP port.'),
  WEBHOOK_HOST: listenHost.optional().describe("The public webhook's interface; LISTEN_HOST when unset."),
  WEBHOOK_METRICS_PORT: port
    .optional()
    .describe('When set, the webhook serves /metrics (and /health, /ready) on this port instead of its public one.'),
  METRICS_HOST: listenHost.optional().describe('The interface of WEBHOOK_METRICS_PORT, e.g. an internal one; LISTEN_HOST when unset.'),
  WEBHOOK_RATE_LIMIT_PER_MINUTE: positiveInt
    .max(10_000_000)
    .default(120_000)
    .describe(
      'IPN requests per source per minute (429 past it); generous, so a load test of 1,000 IPNs/s from one host is never throttled. Counted per TCP peer in the memory of each worker, so each of WEBHOOK_WORKERS enforces its share (the limit ÷ workers, rounded up; connections are dealt to workers in turn): behind a proxy all callers share it.',
    ),
  WEBHOOK_WORKERS: positiveInt
    .max(64)
    .default(1)
    .describe(
      'Webhook worker processes sharing WEBHOOK_PORT (Node cluster); 1 runs the webhook in one process, as before. Each worker has its own database pool (10 connections), so mind max_connections. One process kept up with 1,000 IPNs/s offered on the 2-core reference machine with the whole stack on it (bench/README.md); 2 was slower there, where both cores were already busy, and is meant for a machine with cores to spare (not the default: the e2e tests that kill the webhook have not been run green with it).',
    ),
  WEBHOOK_BODY_LIMIT_BYTES: positiveInt.max(1_048_576).default(65_536).describe('Larger IPN bodies are answered 413.'),
  NOWPAYMENTS_IPN_SECRET: z
    .string()
    .min(16, 'at least 16 characters')
    .optional()
    .describe('HMAC key of the IPN signatures. Required by the webhook; `npm start` uses a development secret when unset.'),
  PAYMENT_USD_MAX: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'a positive decimal')
    .default('100000')
    .describe('An IPN whose price_amount is larger is refused as absurd (quarantined when signed).'),
  RETRY_AFTER_SECONDS: positiveInt.max(3_600).default(30).describe('The Retry-After of the webhook\'s 503 answers.'),
  IPN_TIMESTAMP_EARLIEST: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/, 'an ISO-8601 UTC instant such as 2009-01-01T00:00:00Z')
    .refine((text) => !Number.isNaN(Date.parse(text)) && Date.parse(text) >= Date.UTC(1970, 0, 1), 'a real instant from 1970 on')
    .default('2009-01-01T00:00:00Z')
    .describe('IPN timestamps (created_at, updated_at) before this instant are refused (quarantined when signed).'),
  IPN_TIMESTAMP_FUTURE_TOLERANCE: duration
    .default('1d')
    .describe("… and so are timestamps further than this past the webhook's clock (the clock skew allowed)."),

  // Admin API (client payout configs, runtime settings).
  ADMIN_PORT: port.default(8090).describe('The admin API\'s port.'),
  ADMIN_HOST: listenHost
    .optional()
    .describe("The admin API's interface (an internal one, apart from the webhook's); LISTEN_HOST when unset."),
  ADMIN_TOKEN: z
    .string()
    .min(24, 'at least 24 characters')
    .optional()
    .describe(
      'One plain bearer token of /api/*, acting as `admin`. The admin API needs ADMIN_TOKEN or ADMIN_TOKENS; `npm start` uses a development token when both are unset.',
    ),
  ADMIN_TOKENS: z
    .string()
    .regex(
      /^[A-Za-z0-9._@+-]{1,64}:[0-9a-fA-F]{64}(:(viewer|operator))?(\s*,\s*[A-Za-z0-9._@+-]{1,64}:[0-9a-fA-F]{64}(:(viewer|operator))?)*$/,
      'comma-separated name:sha256hex[:role] entries, role viewer or operator',
    )
    .optional()
    .describe(
      'Named tokens, `name:sha256hex[:role],…`, of which only the digests are kept; the name is the actor recorded for what the token changes. The role is `operator` (the default: may act) or `viewer` (may only read: GET and HEAD).',
    ),
  ADMIN_VIEWER_TOKEN: z
    .string()
    .min(24, 'at least 24 characters')
    .optional()
    .describe('One plain read-only token of /api/*, acting as `viewer` with the role viewer (GET and HEAD only; any action is 403).'),
  CONSOLE_SESSION_TTL: duration
    .default('8h')
    .describe('How long a console session (the `pp_session` cookie of POST /api/session) lasts; a session is never extended, the operator logs in again.'),
  CONSOLE_COOKIE_SECURE: z
    .enum(['true', 'false'])
    .transform((text) => text === 'true')
    .default('false')
    .describe('`true` marks the session cookie `Secure` (sent over HTTPS only); set it whenever the console is reached through TLS.'),
  CONSOLE_LOGIN_RATE_LIMIT_PER_MINUTE: positiveInt
    .max(10_000)
    .default(10)
    .describe('POST /api/session (console log-ins) per source per minute, on top of ADMIN_RATE_LIMIT_PER_MINUTE: it bounds guessing a token through the log-in form.'),
  ADMIN_RATE_LIMIT_PER_MINUTE: positiveInt
    .max(1_000_000)
    .default(600)
    .describe('/api/* requests per source per minute (429 past it), counted before the token is checked.'),
  CONSOLE_EXPLORER_TX_URL: z
    .string()
    .regex(/^https?:\/\/\S*\{tx\}\S*$/, 'an http(s) URL containing {tx}')
    .optional()
    .describe('The block explorer link of a transaction in the console, {tx} replaced by its hash (e.g. https://etherscan.io/tx/{tx}); unset, hashes are shown without links.'),
  CLIENT_THRESHOLD_MIN_USD: decimalText.default('50').describe('The smallest payout threshold a threshold client may set.'),
  CLIENT_THRESHOLD_MAX_USD: decimalText.default('100000').describe('The largest payout threshold a threshold client may set.'),
  WALLET_CHANGE_COOLDOWN: duration
    .default('24h')
    .describe("Delay before a change of an existing client's payout destination takes effect (cancellable meanwhile)."),

  // Router.
  ROUTER_PORT: port.default(8091).describe("The router's /health, /ready and /metrics port."),
  PLATFORM_FEE_PERCENT: decimalText.default('3').describe('The platform fee taken from every payment, an exact decimal percentage (at most 6 decimals).'),

  // Accumulator: the global ETH → USDT micro-batch window.
  ACCUMULATOR_PORT: port.default(8092).describe("The accumulator's /health, /ready and /metrics port."),
  MICRO_BATCH_THRESHOLD_USD: decimalText
    .default('20')
    .describe('The micro-batch threshold (pending net USD of all clients) until it is changed at runtime.'),
  MICRO_BATCH_THRESHOLD_MAX_USD: decimalText.default('100000').describe('The ceiling of the runtime micro-batch threshold.'),
  MICRO_BATCH_MAX_WAIT: duration.default('15m').describe('The oldest pending payment closes a batch after waiting this long, whatever the sum.'),
  MICRO_BATCH_MEMBERS_MAX: positiveInt.max(100_000).default(5_000).describe('The most payments in one conversion batch.'),
  CONVERSION_RANGE_TTL: duration
    .default('1m')
    .describe("How long the accumulator trusts ChangeNow's ETH → USDT range before asking again."),
  WINDOW_PUNCTUATION_INTERVAL: duration
    .default('1s')
    .describe("How often the windows' wall-clock punctuation runs (the time triggers and idle flushes of the accumulator and settlement)."),

  // Local EVM (Hardhat node) and the chain connector.
  EVM_RPC_URL: optionalUrl.describe('JSON-RPC endpoint of an existing EVM node; when set, no local EVM is started.'),
  EVM_PORT: port.default(8545).describe('The local EVM\'s port.'),
  EVM_BLOCK_INTERVAL: duration
    .default('1s')
    .describe('The local node mines every transaction at once and an empty block this often, so confirmations accrue.'),
  USDT_CONTRACT_ADDRESS: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, 'a 0x-prefixed 20-byte address')
    .optional()
    .describe('The USDT (ERC-20, 6 decimals) contract; unset, the one the local stack deploys.'),
  HOST_WALLET_PRIVATE_KEY: z
    .string()
    .regex(/^0x[0-9a-fA-F]{64}$/, '0x followed by 64 hex digits')
    .optional()
    .describe(
      "The host wallet's key; never logged. Required by the connectors (or HOST_WALLET_KEY_FILE); `npm start` and the tests use the local chain's development account.",
    ),
  HOST_WALLET_KEY_FILE: z.string().min(1).optional().describe('A file holding the host wallet\'s key instead (a mounted secret; its content is trimmed).'),
  CHAIN_CONNECTOR_PORT: port.default(8094).describe("The chain connector's /health, /ready and /metrics port."),
  CHAIN_CONFIRMATIONS: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(2)
    .describe('Blocks (inclusive) before a transfer is CONFIRMED or REVERTED.'),
  CHAIN_MAX_FEE_PER_GAS_GWEI: decimalText
    .default('300')
    .describe('Cap on the EIP-1559 max fee per gas; above it a transfer waits with the reason rather than pay more.'),
  CHAIN_MAX_PRIORITY_FEE_GWEI: decimalText.default('3').describe("Cap on the tip (the node's suggestion is taken up to this)."),
  CHAIN_DROPPED_AFTER: duration
    .default('30s')
    .describe('A broadcast transaction unknown to the node, and not mined, for this long is DROPPED and its same bytes sent again.'),
  CHAIN_POLL_INTERVAL: duration.default('500ms').describe('How often the chain worker runs when no request arrives.'),
  CHAIN_STUCK_AFTER: duration
    .default('3m')
    .describe(
      'A broadcast transaction pending (known to the node, not mined) this long since its last broadcast is replaced by the same payment at ≥ +10 % fees, within the caps.',
    ),
  CHAIN_GAS_LIMIT_MAX: positiveInt
    .min(21_000)
    .max(30_000_000)
    .default(300_000)
    .describe('Most gas one transfer may use (its estimate with headroom); a transfer needing more FAILS with the reason.'),
  CHAIN_RPC_TIMEOUT: duration
    .default('5s')
    .describe('Time limit of one JSON-RPC call to the node (then it is retried with backoff; nothing changes state).'),

  // ChangeNow (API v2) and its local simulator.
  CHANGENOW_API_URL: optionalUrl.describe("ChangeNow's API root, e.g. https://api.changenow.io; when set, no simulator is started."),
  CHANGENOW_API_KEY: z
    .string()
    .min(8, 'at least 8 characters')
    .optional()
    .describe(
      "Sent as x-changenow-api-key; never logged. Required by the ChangeNow connector, the accumulator and settlement; `npm start` and the tests use the simulator's development key.",
    ),
  CHANGENOW_CONNECTOR_PORT: port.default(8093).describe("The ChangeNow connector's /health, /ready and /metrics port."),
  CHANGENOW_RATE_LIMIT_PER_SECOND: positiveInt
    .max(1_000)
    .default(10)
    .describe('Requests per second to ChangeNow with one API key, one budget in PostgreSQL shared by every process that calls it (requests wait their turn).'),
  SWAP_CONCURRENCY: positiveInt
    .max(64)
    .default(8)
    .describe(
      'Swap commands the ChangeNow connector steps at once, each under its own advisory lock and on its own database connection (the pool grows by this many). A create step takes a few 100 ms, so 8 keep the default budget of 10 requests/s busy; with a raised CHANGENOW_RATE_LIMIT_PER_SECOND use about a third of it (32 at 100/s).',
    ),
  CHANGENOW_REQUEST_TIMEOUT: duration.default('10s').describe('Time limit of one attempt of a ChangeNow call.'),
  CHANGENOW_RETRY_BUDGET: duration
    .default('2m')
    .describe('How long one ChangeNow call keeps retrying (429, 5xx, timeouts) before it fails with its last reason.'),
  CHANGENOW_CREATE_DEADLINE: duration
    .default('10m')
    .describe(
      'A command for which no exchange could be created within this long (ChangeNow down or answering 5xx) ends FAILED with the last error; safe, because nothing is paid in before an exchange exists.',
    ),
  CHANGENOW_POLL_INTERVAL: duration
    .default('2s')
    .describe('First interval of the exchange status polls (and the pause after a failed step).'),
  CHANGENOW_POLL_INTERVAL_MAX: duration.default('1m').describe('The status polls back off to this while the status does not move.'),
  CHANGENOW_SIMULATOR_PORT: port.default(8095).describe('The ChangeNow simulator\'s port.'),
  SIMULATOR_ETH_USD: decimalText.default('3000').describe("The simulator's ETH price in USD (USDT is at 1)."),
  SIMULATOR_FEE_PERCENT: decimalText.default('0.5').describe("The simulator's exchange fee, on top of a fixed network fee per currency."),
  SIMULATOR_STEP_DELAY: duration.default('300ms').describe("The simulator's delay between two exchange statuses once the pay-in arrived."),

  // Settlement: distribution, the per-client window and payouts.
  SETTLEMENT_PORT: port.default(8096).describe("Settlement's /health, /ready and /metrics port."),
  PAYOUT_MAX_AGE: duration.default('90d').describe('A payout group whose oldest credit is this old pays out whatever its amount.'),
  PAYOUT_MAX_SWAP_USD: decimalText.default('5000').describe('The largest payout batch; bigger groups are split into batches of whole credits.'),
  PAYOUT_FEE_FLOOR_PERCENT: decimalText
    .default('2')
    .describe('A payout waits while its estimated exchange and network fees exceed this share of it (not when forced).'),
  PAYOUT_RETRY_ATTEMPTS_MAX: positiveInt
    .max(100)
    .default(5)
    .describe('Automatic retries of a failed payout before an operator is needed.'),
  PAYOUT_RETRY_BACKOFF: duration.default('1m').describe('Delay before the first automatic retry of a failed payout, doubled each time.'),
  PAYOUT_WINDOW_GROUPS_MAX: positiveInt
    .max(100_000)
    .default(1_000)
    .describe(
      'Free payout groups one window evaluation reads and decides at most, so its work stays bounded however many clients wait; the rest are decided by the next evaluations.',
    ),

  // Retention of the inbox and the outbox (core/processing/retention.ts), run by every consumer process.
  INBOX_RETENTION: duration
    .default('60d')
    .describe(
      'Inbox rows of topics Kafka deletes records from are deleted after this; it must exceed the longest finite topic retention plus a segment lifetime (7 days), checked at start. Inbox rows of topics kept forever are never pruned.',
    ),
  OUTBOX_RETENTION: duration.default('7d').describe('Published outbox rows are deleted after this (unpublished rows never are).'),
  RETENTION_INTERVAL: duration.default('1h').describe('How often each consumer process runs the retention pass.'),
  // Liveness: what reconcile and the admin process raise as findings (alerts) about money that waits.
  PAYOUT_HOLD_ALERT_AFTER: duration
    .default('1h')
    .describe(
      'A payout group held quote_unavailable, or the due micro-batch held below the exchange minimum, this long is a liveness finding.',
    ),
  PAYOUT_OVERDUE_ALERT_AFTER: duration
    .default('7d')
    .describe('A client whose unpaid credits reached its threshold and whose oldest credit is this old is a finding.'),
  SWAP_STUCK_ALERT_AFTER: duration
    .default('1h')
    .describe('A conversion or payout batch still requested or swapping this long after it was formed is a finding.'),
  DEAD_LETTER_ALERT_WINDOW: duration.default('24h').describe('Dead letters written within this window are a finding (one per topic).'),
  ALERT_REPEAT_INTERVAL: duration.default('6h').describe('A standing finding is alerted again at most this often.'),
  LIVENESS_CHECK_INTERVAL: z
    .union([z.literal('0').transform(() => 0), duration])
    .default('1m')
    .describe('How often the admin process runs the liveness check; 0 turns it off.'),

  CONSUMER_LAG_INTERVAL: z
    .union([z.literal('0').transform(() => 0), duration])
    .default('15s')
    .describe('How often the admin process reads every consumer group\'s lag from Kafka for `payout_pipeline_consumer_lag`; 0 turns it off.'),

  // The operator console's live data (processors/admin/live-events.ts, overview.ts).
  CONSOLE_EVENTS_INTERVAL: duration
    .default('2s')
    .describe('How often the admin process re-reads the overview for GET /api/events; a stream gets an `overview` event only when it changed.'),
  CONSOLE_EVENT_STREAMS_MAX: positiveInt
    .max(10_000)
    .default(100)
    .describe('The most GET /api/events streams one admin process serves at once; one more is answered 503.'),
  HOST_WALLET_LOW_ETH: decimalText
    .default('0.05')
    .describe("The host wallet's ETH balance below which the console's overview shows it as low (gas for every transfer, and instant payouts)."),
  HOST_WALLET_LOW_USDT: decimalText
    .default('100')
    .describe("The host wallet's USDT balance below which the console's overview shows it as low (threshold payouts are paid from it)."),

  // The notifier: alert events to webhook URLs (processors/notifier/).
  NOTIFIER_PORT: port.default(8097).describe("The notifier's /health, /ready and /metrics port."),
  NOTIFIER_WEBHOOK_URLS: z
    .string()
    .min(1, 'comma-separated http(s) URLs')
    .optional()
    .transform((text, context) => {
      const parsed = parseWebhookUrls(text);
      if (parsed.ok) return parsed.urls;
      context.addIssue({ code: z.ZodIssueCode.custom, message: parsed.problem });
      return z.NEVER;
    })
    .describe(
      'Where the notifier posts every alert event (Slack-compatible JSON); unset, the notifier runs and delivers nowhere. The path of a Slack webhook is its secret: keep this in the secret store.',
    ),
  NOTIFIER_ATTEMPTS_MAX: positiveInt.max(100).default(10).describe('Attempts of one delivery (an alert to one URL) before it is dead-lettered on `alerts.dlq`.'),
  NOTIFIER_BACKOFF_INITIAL: duration.default('1s').describe('Delay before the second attempt of a failed delivery, doubled for each further attempt.'),
  NOTIFIER_BACKOFF_MAX: duration.default('5m').describe('The longest delay between two attempts of a delivery.'),
  NOTIFIER_REQUEST_TIMEOUT: duration.default('10s').describe('Time limit of one POST to a webhook URL.'),
  NOTIFIER_POLL_INTERVAL: duration.default('1s').describe('How often the notifier looks for deliveries whose next attempt is due.'),

  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('The pino log level of every process.'),
});

export type Config = Readonly<z.infer<typeof configSchema>>;

export function loadConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  const blankAsMissing = Object.fromEntries(Object.entries(environment).filter(([, value]) => value !== ''));
  const parsed = configSchema.safeParse(blankAsMissing);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new PipelineError(`Invalid configuration:\n  ${problems.join('\n  ')}`, { context: { problems } });
  }
  return Object.freeze(parsed.data);
}

/** The IPN secret is mandatory for the webhook; other processes never need it. */
export function requireIpnSecret(config: Config): string {
  if (config.NOWPAYMENTS_IPN_SECRET === undefined) {
    throw new PipelineError('NOWPAYMENTS_IPN_SECRET is required to run the webhook (at least 16 characters).');
  }
  return config.NOWPAYMENTS_IPN_SECRET;
}
