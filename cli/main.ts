// The single operator entry point. Every command is also an npm script (see package.json).
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import { parse as parseLosslessJson } from 'lossless-json';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';
import { exitOnSignals } from '../core/shutdown.ts';
import { resolveEndpoints } from '../stack/endpoints.ts';
import { replicationSettingsOf } from '../topics/topic-plan.ts';
import { quarantineStates } from '../processors/webhook/ipn-quarantine.ts';
import { isProcessorName, processorNames, startProcessor } from './processes.ts';

const config = loadConfig();
const log = createLogger({ name: 'cli', level: config.LOG_LEVEL });
const endpoints = resolveEndpoints(config);

function positiveInteger(text: string): number {
  const value = Number.parseInt(text, 10);
  if (!Number.isSafeInteger(value) || value <= 0 || String(value) !== text) {
    throw new InvalidArgumentError('must be a positive integer');
  }
  return value;
}

// Each command loads its code when it runs, so `run <processor>` — every process start, every pod
// restart — loads only that processor (cli/processes.ts). The local-stack commands (`up`, `stack`)
// must load that way anyway: they start Hardhat, embedded PostgreSQL and processes through tsx, all
// devDependencies, and the production runtime (`npm ci --omit=dev` + dist/, see docs/deploy.md)
// never reaches them.
const loadLocalStack = () => import('../stack/start-stack.ts');
const loadUp = () => import('./up.ts');
const loadPrepare = () => import('./prepare.ts');
const loadSchemaCommands = () => import('../schemas/commands.ts');
const registryAccess = async () => (await import('../schemas/registry.ts')).schemaRegistryAccessOf(endpoints);
const loadQuarantine = () => import('../processors/admin/quarantine-cli.ts');
/** Records as JSON for people: decimals and bigints as text, dates as ISO strings. */
const toDisplayJson = async (value: unknown): Promise<string> => (await import('./tail-topic.ts')).toDisplayJson(value);

const program = new Command('payout-pipeline').description('Operator commands of the payout pipeline.');

program
  .command('up')
  .description('run the whole pipeline on the local stack: stack, migrations, topics, schemas, processors')
  .action(async () => (await loadUp()).up(config, log));

const stackCommand = program
  .command('stack')
  .description('start Kafka, the schema registry and PostgreSQL (env endpoints, else Docker, else native) until Ctrl-C')
  .action(async () => {
    const { describeStack, startStack } = await loadLocalStack();
    const stack = await startStack({ config, log });
    process.stdout.write(`${describeStack(stack)}\n\nPress Ctrl-C to stop.\n`);
    const stopOnce = (): void => void stack.stop().then(() => process.exit(0));
    process.once('SIGINT', stopOnce);
    process.once('SIGTERM', stopOnce);
  });
stackCommand
  .command('reset')
  .description('delete the local stack\'s data (STACK_DATA_DIR) so the next start is clean; stops nothing, refuses while it runs')
  .option('--yes', 'really delete (without it, only says what would be deleted)', false)
  .action(async (options: { yes: boolean }) => {
    const { describeStackReset, resetStackData } = await import('./stack-reset.ts');
    const outcome = await resetStackData(config.STACK_DATA_DIR, options.yes);
    process.stdout.write(`${describeStackReset(outcome)}\n`);
    if (outcome.kind === 'running' || outcome.kind === 'needs-confirmation') process.exitCode = 1;
  });

program
  .command('evm')
  .description('the local EVM')
  .command('deploy-local-usdt')
  .description('deploy the local USDT at its fixed address on a fresh local chain (EVM_RPC_URL) and fund the simulator\'s hot wallet (compose does this once per chain)')
  .action(async () => {
    const { deployLocalUsdt } = await import('../stack/evm/deploy-local-usdt.ts');
    await deployLocalUsdt(endpoints.evmRpcUrl, log);
  });

program
  .command('migrate')
  .description('apply the PostgreSQL migrations in db/migrations (idempotent)')
  .action(async () => (await loadPrepare()).migrate(endpoints, log));

const topics = program.command('topics').description('topics as code');
topics
  .command('apply')
  .description('create missing topics (replication: TOPIC_REPLICATION_FACTOR / TOPIC_MIN_INSYNC_REPLICAS, else topics/topics.ts, lowered to the brokers present) and report drift (idempotent)')
  .action(async () => {
    process.stdout.write(`${await (await loadPrepare()).applyAllTopics(endpoints, log, replicationSettingsOf(config))}\n`);
  });
topics
  .command('tail <topic>')
  .description("print a topic's records decoded through the schema registry, one JSON line each")
  .option('--from-beginning', 'read from the earliest offset', false)
  .option('--max <count>', 'stop after this many records', positiveInteger, 1_000)
  .option('--idle-timeout-ms <ms>', 'stop when no record arrived for this long', positiveInteger, 5_000)
  .action(async (topic: string, options: { fromBeginning: boolean; max: number; idleTimeoutMs: number }) => {
    const { tailTopic } = await import('./tail-topic.ts');
    await tailTopic(endpoints, { topic, ...options }, log, (line) => process.stdout.write(`${line}\n`));
  });

const schemas = program.command('schemas').description('Avro schemas: check, register, generate types');
schemas
  .command('check')
  .description('fail on a schema change that is not BACKWARD compatible (with history and golden fixtures; and the registry with --registry)')
  .option('--registry', 'also ask the schema registry', false)
  .action(async (options: { registry: boolean }) =>
    (await loadSchemaCommands()).runSchemasCheck(options.registry ? { registry: await registryAccess() } : {}),
  );
schemas
  .command('register')
  .description('register every value schema under <topic>-value with BACKWARD compatibility')
  .action(async () => (await loadSchemaCommands()).runSchemasRegister({ registry: await registryAccess() }));
schemas
  .command('codegen')
  .description('generate schemas/generated/records.ts from schemas/avro')
  .option('--check', 'fail when the generated file is out of date', false)
  .action(async (options: { check: boolean }) => (await loadSchemaCommands()).runSchemasCodegen({ check: options.check }));
schemas
  .command('freeze')
  .description('record changed schemas as the next version in schemas/history, with golden fixtures')
  .action(async () => (await loadSchemaCommands()).runSchemasFreeze());

const docs = program.command('docs').description('generated documentation');
docs
  .command('config')
  .description('generate docs/configuration.md from the configuration schema in core/config.ts')
  .option('--check', 'fail when the file is out of date, naming the variables that differ', false)
  .action(async (options: { check: boolean }) => (await import('./config-reference.ts')).syncConfigReference({ check: options.check }));

program
  .command('prepare')
  .description('migrations, topics and schemas in one go (what `run --prepare` does first)')
  .action(async () => (await loadPrepare()).prepare(endpoints, log, replicationSettingsOf(config)));

program
  .command('run <processor>')
  .description(`run one processor as this process: ${processorNames.join(', ')}`)
  .option('--prepare', 'apply migrations, topics and schemas first', false)
  .action(async (name: string, options: { prepare: boolean }) => {
    if (!isProcessorName(name)) throw new InvalidArgumentError(`unknown processor "${name}"; known: ${processorNames.join(', ')}`);
    if (options.prepare) await (await loadPrepare()).prepare(endpoints, log, replicationSettingsOf(config));
    const processor = await startProcessor(name, config, endpoints);
    exitOnSignals(processor.shutdown, { log, drainTimeoutMs: config.SHUTDOWN_DRAIN_TIMEOUT });
  });

const pipelineConfig = program.command('config').description('runtime settings of the pipeline');
pipelineConfig
  .command('set-threshold <usd>')
  .description('set the global micro-batch threshold (USD) without a restart; audited')
  .option('--actor <name>', 'recorded as who changed it (default cli:<os user>)')
  .action(async (usd: string, options: { actor?: string }) => {
    const { runSetThreshold } = await import('../processors/admin/set-threshold.ts');
    const { outcome, published } = await runSetThreshold({ config, endpoints, log, value: usd, ...(options.actor === undefined ? {} : { actor: options.actor }) });
    process.stdout.write(
      `${outcome.kind === 'changed' ? 'changed' : 'unchanged'}: micro-batch threshold ${await toDisplayJson(outcome.state)}${published ? '' : ' (not published yet: a running relay will publish it)'}\n`,
    );
  });

program
  .command('window')
  .description('show the global micro-batch window: pending payments, their sum, the threshold in force')
  .action(async () => {
    const [{ createDatabasePool }, { describeWindow }, { windowRulesOf }] = await Promise.all([
      import('../db/pool.ts'),
      import('../processors/accumulator/micro-batch-evaluation.ts'),
      import('../processors/accumulator/start-accumulator.ts'),
    ]);
    const pool = await createDatabasePool(endpoints.databaseUrl);
    try {
      process.stdout.write(`${await toDisplayJson(await describeWindow(pool, windowRulesOf(config)))}\n`);
    } finally {
      await pool.end();
    }
  });

program
  .command('reconcile')
  .description("check the ledger's invariants and what waits over the whole database; exit code 1 on any violation, 3 on a liveness finding (none: 0)")
  .option('--no-publish', 'leave the alerts in the outbox for a running relay instead of publishing them now')
  .action(async (options: { publish: boolean }) => {
    const { runReconcile } = await import('./reconcile.ts');
    process.exitCode = await runReconcile({ config, endpoints, log, publish: options.publish, write: (text) => process.stdout.write(text) });
  });

const recovery = program.command('recovery').description('conversions that failed after their pay-in (needs_recovery)');
recovery
  .command('list')
  .description('every conversion that failed after its pay-in, open ones first, as JSON lines')
  .action(async () => (await import('./recovery.ts')).runRecoveryList(endpoints, (text) => process.stdout.write(text)));
recovery
  .command('resolve <batchId> <resolution>')
  .description('resolve one: refund_received (back to pending), recovered --usdt-amount X (credited), written_off --note WHY')
  .option('--usdt-amount <usdt>', 'for recovered: the USDT recovered, a decimal with at most 6 decimals')
  .option('--note <text>', 'why (required for written_off)')
  .option('--actor <name>', 'recorded as who resolved it (default cli:<os user>)')
  .action(async (batchId: string, resolution: string, options: { usdtAmount?: string; note?: string; actor?: string }) => {
    const { runRecoveryResolve } = await import('./recovery.ts');
    const outcome = await runRecoveryResolve({ config, endpoints, log, batchId, resolution, ...options });
    process.stdout.write(`${JSON.stringify(outcome)}\n`);
    // Nothing was resolved: a distinct exit code, so a script does not take it for done.
    if (outcome.kind !== 'resolved') process.exitCode = 2;
  });

program
  .command('replay <topic>')
  .description('move the dead letters of <topic> (from <topic>.dlq) back onto it, unchanged')
  .action(async (topic: string) => {
    const { replayDeadLetters } = await import('./replay-dead-letters.ts');
    const { startProgress } = await import('../core/progress.ts');
    let progress: ReturnType<typeof startProgress> | undefined;
    let replayed: number;
    try {
      ({ replayed } = await replayDeadLetters(endpoints, topic, log, (done, total) => {
        progress ??= startProgress({ label: `replaying ${topic}.dlq`, total, unit: 'records' });
        progress.update(done);
      }));
    } finally {
      progress?.stop();
    }
    process.stdout.write(`replayed ${replayed} record(s) from ${topic}.dlq to ${topic}\n`);
  });

/** A file's text, or standard input's for `-` or no file. */
async function readInput(file: string | undefined): Promise<string> {
  if (file !== undefined && file !== '-') return readFile(file, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

const ipn = program.command('ipn').description('NOWPayments IPN helpers');
ipn
  .command('sign [file]')
  .description('print the x-nowpayments-sig of an IPN body read from a file or stdin (the webhook\'s own canonical JSON and HMAC-SHA512)')
  .action(async (file: string | undefined) => {
    const body: unknown = parseLosslessJson(await readInput(file));
    const secret = config.NOWPAYMENTS_IPN_SECRET ?? (await loadUp()).localIpnSecret;
    const { signIpn } = await import('../processors/webhook/ipn-signature.ts');
    process.stdout.write(`${signIpn(body, secret)}\n`);
  });

const quarantine = program.command('quarantine').description('signed IPNs that failed validation, kept for an operator');
const quarantineContext = { config, endpoints, log };
const print = async (value: unknown): Promise<void> => void process.stdout.write(`${await toDisplayJson(value)}\n`);
quarantine
  .command('list')
  .description('quarantined IPNs, oldest first')
  .option('--state <state>', `${quarantineStates.join(', ')} or all`, 'held')
  .option('--limit <count>', 'at most this many', positiveInteger, 100)
  .action(async (options: { state: string; limit: number }) => {
    if (options.state !== 'all' && !(quarantineStates as readonly string[]).includes(options.state)) {
      throw new InvalidArgumentError(`--state must be one of ${quarantineStates.join(', ')}, all`);
    }
    const state = options.state === 'all' ? {} : { state: options.state as (typeof quarantineStates)[number] };
    for (const row of await (await loadQuarantine()).listQuarantine(quarantineContext, { ...state, limit: options.limit })) await print(row);
  });
quarantine
  .command('show <id>')
  .description('one quarantined IPN with its body exactly as received')
  .action(async (id: string) => print(await (await loadQuarantine()).showQuarantine(quarantineContext, id)));
quarantine
  .command('reinject <id>')
  .description('accept a corrected IPN through the webhook\'s validation and intake (the payment-id dedupe applies)')
  .option('--body <file>', 'the whole corrected IPN from a file (- for stdin)')
  .option('--set <field=value...>', 'replace fields of the quarantined body (value as JSON, else as text)', [])
  .option('--note <text>', 'why, for the record')
  .option('--actor <name>', 'recorded as who reinjected it (default cli:<os user>)')
  .action(async (id: string, options: { body?: string; set: string[]; note?: string; actor?: string }) => {
    const bodyText = options.body === undefined ? undefined : await readInput(options.body);
    await print(
      await (await loadQuarantine()).reinjectQuarantine(quarantineContext, id, {
        assignments: options.set,
        ...(bodyText === undefined ? {} : { bodyText }),
        ...(options.note === undefined ? {} : { note: options.note }),
        ...(options.actor === undefined ? {} : { actor: options.actor }),
      }),
    );
  });
quarantine
  .command('dismiss <id>')
  .description('close a quarantined IPN without moving money')
  .requiredOption('--reason <text>', 'why, for the record')
  .option('--actor <name>', 'recorded as who dismissed it (default cli:<os user>)')
  .action(async (id: string, options: { reason: string; actor?: string }) => {
    await print(await (await loadQuarantine()).dismissQuarantine(quarantineContext, id, { reason: options.reason, ...(options.actor === undefined ? {} : { actor: options.actor }) }));
  });

program.parseAsync().catch((error: unknown) => {
  log.error({ err: error }, error instanceof Error ? error.message : 'command failed');
  process.exitCode = 1;
});
