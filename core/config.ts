// Configuration is read once, at start-up, from the environment by one zod schema into a frozen
// object. Every variable is documented in the README; a bad value stops the process with a message
// naming the variable, instead of surfacing later as a strange runtime error.
import { z } from 'zod';
import { PipelineError } from './errors.ts';

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

const configSchema = z.object({
  // Endpoints of an existing stack. When set they are used as they are and nothing is started.
  KAFKA_BROKERS: z
    .string()
    .regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, 'comma-separated host:port list')
    .optional(),
  SCHEMA_REGISTRY_URL: optionalUrl,
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'postgres:// URL').optional(),

  // Ports of the stack the project starts itself (native or Docker).
  KAFKA_PORT: port.default(9092),
  KAFKA_CONTROLLER_PORT: port.default(9093),
  SCHEMA_REGISTRY_PORT: port.default(8081),
  POSTGRES_PORT: port.default(5432),
  KAFKA_UI_PORT: port.default(8088),
  STACK_DATA_DIR: z.string().min(1).default('.cache/stack'),
  STACK_MODE: z.enum(['auto', 'external', 'docker', 'native']).default('auto'),

  KAFKA_CLIENT_ID: z.string().min(1).default('payout-pipeline'),
  KAFKA_REQUEST_TIMEOUT_MS: positiveInt.default(10_000),
  KAFKA_PRODUCE_TIMEOUT_MS: positiveInt.default(8_000),
  /** A consumer that sent no heartbeat for this long is dropped from its group. */
  KAFKA_SESSION_TIMEOUT: duration.default('15s'),
  /** How long a rebalance waits for members to rejoin (a SIGKILLed member is waited for up to this). */
  KAFKA_REBALANCE_TIMEOUT: duration.default('30s'),

  /**
   * The interface every process's HTTP server binds to. Loopback by default, so a development
   * machine does not offer the admin API to its network; a container needs 0.0.0.0.
   */
  LISTEN_HOST: listenHost.default('127.0.0.1'),

  WEBHOOK_PORT: port.default(8080),
  /** The public webhook's interface; LISTEN_HOST when unset. */
  WEBHOOK_HOST: listenHost.optional(),
  /** When set, the webhook serves /metrics (and /health, /ready) here instead of on its public port. */
  WEBHOOK_METRICS_PORT: port.optional(),
  /** The interface of that separate metrics port; LISTEN_HOST when unset. */
  METRICS_HOST: listenHost.optional(),
  /** Per source; generous, so a load test of 1,000 IPNs/s from one host is never throttled. */
  WEBHOOK_RATE_LIMIT_PER_MINUTE: positiveInt.max(10_000_000).default(120_000),
  WEBHOOK_BODY_LIMIT_BYTES: positiveInt.max(1_048_576).default(65_536),
  NOWPAYMENTS_IPN_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  PAYMENT_USD_MAX: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'a positive decimal')
    .default('100000'),
  RETRY_AFTER_SECONDS: positiveInt.max(3_600).default(30),
  /** IPN timestamps (created_at, updated_at) before this instant are refused (quarantined when signed). */
  IPN_TIMESTAMP_EARLIEST: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/, 'an ISO-8601 UTC instant such as 2009-01-01T00:00:00Z')
    .refine((text) => !Number.isNaN(Date.parse(text)) && Date.parse(text) >= Date.UTC(1970, 0, 1), 'a real instant from 1970 on')
    .default('2009-01-01T00:00:00Z'),
  /** … and so are timestamps further than this past the webhook's clock (clock skew allowance). */
  IPN_TIMESTAMP_FUTURE_TOLERANCE: duration.default('1d'),

  // Admin API (client payout configs, runtime settings).
  ADMIN_PORT: port.default(8090),
  /** The admin API's interface; LISTEN_HOST when unset (an internal interface, apart from the webhook's). */
  ADMIN_HOST: listenHost.optional(),
  /** A single plain token, named `admin` in the history. */
  ADMIN_TOKEN: z.string().min(24, 'at least 24 characters').optional(),
  /** Named tokens, `name:sha256hex,…`; the name is the actor recorded for what the token changes. */
  ADMIN_TOKENS: z
    .string()
    .regex(/^[A-Za-z0-9._@+-]{1,64}:[0-9a-fA-F]{64}(\s*,\s*[A-Za-z0-9._@+-]{1,64}:[0-9a-fA-F]{64})*$/, 'comma-separated name:sha256hex pairs')
    .optional(),
  ADMIN_RATE_LIMIT_PER_MINUTE: positiveInt.max(1_000_000).default(600),
  CLIENT_THRESHOLD_MIN_USD: decimalText.default('50'),
  CLIENT_THRESHOLD_MAX_USD: decimalText.default('100000'),
  WALLET_CHANGE_COOLDOWN: duration.default('24h'),

  // Router.
  ROUTER_PORT: port.default(8091),
  PLATFORM_FEE_PERCENT: decimalText.default('3'),

  // Accumulator: the global ETH → USDT micro-batch window.
  ACCUMULATOR_PORT: port.default(8092),
  MICRO_BATCH_THRESHOLD_USD: decimalText.default('20'),
  MICRO_BATCH_THRESHOLD_MAX_USD: decimalText.default('100000'),
  MICRO_BATCH_MAX_WAIT: duration.default('15m'),
  MICRO_BATCH_MEMBERS_MAX: positiveInt.max(100_000).default(5_000),
  /** How long the accumulator trusts ChangeNow's ETH → USDT range before asking again. */
  CONVERSION_RANGE_TTL: duration.default('1m'),
  /** How often the window's wall-clock punctuation runs (the time trigger and idle flushes). */
  WINDOW_PUNCTUATION_INTERVAL: duration.default('1s'),

  // Local EVM (Hardhat node) and the chain connector.
  /** JSON-RPC endpoint of an existing node. When set, no local EVM is started. */
  EVM_RPC_URL: optionalUrl,
  EVM_PORT: port.default(8545),
  /** The local node mines every transaction at once and an empty block this often, so confirmations accrue. */
  EVM_BLOCK_INTERVAL: duration.default('1s'),
  /** The USDT (ERC-20, 6 decimals) contract; the local stack deploys its own when unset. */
  USDT_CONTRACT_ADDRESS: z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'a 0x-prefixed 20-byte address').optional(),
  /** The host wallet's key (0x + 64 hex). Never logged. HOST_WALLET_KEY_FILE reads it from a file instead. */
  HOST_WALLET_PRIVATE_KEY: z.string().regex(/^0x[0-9a-fA-F]{64}$/, '0x followed by 64 hex digits').optional(),
  HOST_WALLET_KEY_FILE: z.string().min(1).optional(),
  CHAIN_CONNECTOR_PORT: port.default(8094),
  CHAIN_CONFIRMATIONS: z.coerce.number().int().min(1).max(100).default(2),
  /** Caps on EIP-1559 fees taken from the node; a transfer waits rather than pay more. */
  CHAIN_MAX_FEE_PER_GAS_GWEI: decimalText.default('300'),
  CHAIN_MAX_PRIORITY_FEE_GWEI: decimalText.default('3'),
  /** A broadcast transaction the node no longer knows, and not mined, for this long is rebroadcast. */
  CHAIN_DROPPED_AFTER: duration.default('30s'),
  CHAIN_POLL_INTERVAL: duration.default('500ms'),
  /** A broadcast transaction pending (known to the node, not mined) this long is replaced at a higher fee. */
  CHAIN_STUCK_AFTER: duration.default('3m'),
  /** Most gas one transfer may use (its estimate with headroom); a transfer needing more fails with the reason. */
  CHAIN_GAS_LIMIT_MAX: positiveInt.min(21_000).max(30_000_000).default(300_000),
  /** Each JSON-RPC call to the node gives up after this (then it is retried with backoff; nothing changes state). */
  CHAIN_RPC_TIMEOUT: duration.default('5s'),

  // ChangeNow (API v2) and its local simulator.
  /** ChangeNow's API root, e.g. https://api.changenow.io. Unset: the local simulator. */
  CHANGENOW_API_URL: optionalUrl,
  CHANGENOW_API_KEY: z.string().min(8, 'at least 8 characters').optional(),
  CHANGENOW_CONNECTOR_PORT: port.default(8093),
  CHANGENOW_RATE_LIMIT_PER_SECOND: positiveInt.max(1_000).default(10),
  CHANGENOW_REQUEST_TIMEOUT: duration.default('10s'),
  /** How long one API call is retried (429, 5xx, timeouts) before it gives up into a failed state. */
  CHANGENOW_RETRY_BUDGET: duration.default('2m'),
  /**
   * A command for which no exchange could be created within this long (ChangeNow down, refusing
   * with 5xx) ends FAILED with the last error. Safe: nothing was paid in before an exchange exists.
   */
  CHANGENOW_CREATE_DEADLINE: duration.default('10m'),
  /** Status polling starts at the first interval and backs off to the second. */
  CHANGENOW_POLL_INTERVAL: duration.default('2s'),
  CHANGENOW_POLL_INTERVAL_MAX: duration.default('1m'),
  CHANGENOW_SIMULATOR_PORT: port.default(8095),
  /** The simulator's prices in USD and its fee, applied to every exchange it runs. */
  SIMULATOR_ETH_USD: decimalText.default('3000'),
  SIMULATOR_FEE_PERCENT: decimalText.default('0.5'),
  /** The simulator's delay between two status steps once the pay-in arrived. */
  SIMULATOR_STEP_DELAY: duration.default('300ms'),

  // Settlement: distribution, the per-client window and payouts.
  SETTLEMENT_PORT: port.default(8096),
  PAYOUT_MAX_AGE: duration.default('90d'),
  PAYOUT_MAX_SWAP_USD: decimalText.default('5000'),
  /** A payout is held while estimated exchange and network fees exceed this share of it. */
  PAYOUT_FEE_FLOOR_PERCENT: decimalText.default('2'),
  PAYOUT_RETRY_ATTEMPTS_MAX: positiveInt.max(100).default(5),
  PAYOUT_RETRY_BACKOFF: duration.default('1m'),
  /**
   * Free payout groups one window evaluation reads and decides at most, so an evaluation's work
   * stays bounded however many clients wait; the rest (oldest first) are decided by the next ones.
   */
  PAYOUT_WINDOW_GROUPS_MAX: positiveInt.max(100_000).default(1_000),

  // Retention of the inbox and the outbox (core/processing/retention.ts), run by every consumer process.
  /**
   * Inbox rows of topics Kafka deletes records from are forgotten after this; it must exceed the
   * longest finite topic retention plus a segment's lifetime (checked at start). Inbox rows of
   * topics kept forever are never pruned.
   */
  INBOX_RETENTION: duration.default('60d'),
  /** Published outbox rows are deleted after this (unpublished rows never are). */
  OUTBOX_RETENTION: duration.default('7d'),
  RETENTION_INTERVAL: duration.default('1h'),
  // Liveness: what reconcile and the admin process raise as findings (alerts) about money that waits.
  /** A payout group held by quote_unavailable this long is a finding (above_exchange_maximum is one at once). */
  PAYOUT_HOLD_ALERT_AFTER: duration.default('1h'),
  /** A client whose unpaid credits reached its threshold and whose oldest credit is this old is a finding. */
  PAYOUT_OVERDUE_ALERT_AFTER: duration.default('7d'),
  /** A conversion or payout batch still requested or swapping this long after it was formed is a finding. */
  SWAP_STUCK_ALERT_AFTER: duration.default('1h'),
  /** Dead letters written within this window are a finding. */
  DEAD_LETTER_ALERT_WINDOW: duration.default('24h'),
  /** A standing finding is alerted again at most this often. */
  ALERT_REPEAT_INTERVAL: duration.default('6h'),
  /** How often the admin process runs the liveness check; 0 turns it off. */
  LIVENESS_CHECK_INTERVAL: z.union([z.literal('0').transform(() => 0), duration]).default('1m'),

  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
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
