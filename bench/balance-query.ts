// GET /api/clients/:clientId/balance over a ledger of a million payments: latency per request,
// closed loop (one request at a time, the next sent when the answer is read), as an operator or a
// dashboard calls it.
//
//   npx tsx bench/balance-query.ts [--requests 2000] [--without-indexes | --before-and-after [--before-requests 200]] [--plans] [--profile FILE]
//
// The admin process runs in-process (startAdmin, as the admin API's integration tests start it) on
// the native stack, over a ledger seeded directly with set-based SQL (bench/support/
// balance-ledger-seed.ts): 10,000 clients × 100 payments plus one client with 10,000. Requests go
// to random clients of that population, then to the largest client. --without-indexes drops the
// indexes of db/migrations/017_balance_indexes.sql before seeding, so "before" and "after" come
// from the same script; --before-and-after measures without them, then runs 017's own SQL and
// measures again, over the same seeded ledger in one run (seeding takes minutes here). The EXPLAIN
// (ANALYZE, BUFFERS) time of the endpoint's one statement (the store's own text,
// clientBalanceQuery) is printed for one ordinary client and for the largest (--plans prints the
// plans themselves, where each part's time is its SubPlan's).
// The baseline is Kafka's own ProducerPerformance on the same broker in the same run, with records
// of a PaymentReceived's size; the ratio is requests/s ÷ its records/s.
// --profile FILE: after the measurements, another --requests GETs of random clients run under the
// V8 CPU profiler of this process (the admin runs in it), written to FILE (.cpuprofile, for Chrome
// DevTools or speedscope), and the functions with the most self time are printed.
import { readFile, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createLogger } from '../core/logger.ts';
import { startAdmin } from '../processors/admin/start-admin.ts';
import { testAdminToken } from '../test/support/processor-process.ts';
import { formatTable, runBenchmark, withBenchStack, printRunHeader } from './support/bench-stack.ts';
import { aroundBaseline } from './support/producer-performance.ts';
import { paymentRecordBytes } from './support/payment-record-size.ts';
import { clientIdOf, largestClientIndex, seedBalanceLedger, type LedgerSeedShape } from './support/balance-ledger-seed.ts';
import { clientBalanceQuery } from '../processors/settlement/settlement-read-model.ts';
import { nearestRank } from './support/open-loop.ts';

const log = createLogger({ name: 'bench', level: 'silent' });
const migrationPath = new URL('../db/migrations/017_balance_indexes.sql', import.meta.url);
const shape: LedgerSeedShape = { clients: 10_000, paymentsPerClient: 100, largestClientPayments: 10_000 };
// Per measurement: the largest client gets a tenth as many requests as the random sample, and as
// many go unreported first as warm-up.
const shareOfRequests = (requests: number): number => Math.max(20, Math.round(requests / 10));

interface BenchOptions {
  readonly requests: number;
  readonly withoutIndexes: boolean;
  /** Without the indexes first (beforeRequests), then with them, over the same seeded ledger. */
  readonly beforeAndAfter: boolean;
  readonly beforeRequests: number;
  readonly plans: boolean;
  readonly profile: string | undefined;
}

function argumentsOf(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      requests: { type: 'string', default: '2000' },
      'without-indexes': { type: 'boolean', default: false },
      'before-and-after': { type: 'boolean', default: false },
      'before-requests': { type: 'string', default: '200' },
      plans: { type: 'boolean', default: false },
      profile: { type: 'string' },
    },
    strict: true,
  });
  const requests = Number(values.requests);
  const beforeRequests = Number(values['before-requests']);
  if (!Number.isInteger(requests) || requests < 100) throw new Error(`--requests must be an integer ≥ 100, got ${values.requests}`);
  if (!Number.isInteger(beforeRequests) || beforeRequests < 100) throw new Error(`--before-requests must be an integer ≥ 100, got ${values['before-requests']}`);
  if (values['without-indexes'] && values['before-and-after']) throw new Error('--without-indexes and --before-and-after exclude each other');
  return { requests, withoutIndexes: values['without-indexes'], beforeAndAfter: values['before-and-after'], beforeRequests, plans: values.plans, profile: values.profile };
}

/** The index names 017 creates, read from the file itself so the option follows the migration. */
async function balanceIndexNames(): Promise<string[]> {
  const text = await readFile(migrationPath, 'utf8');
  return [...text.matchAll(/CREATE\s+INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)/gi)].flatMap((match) => (match[1] === undefined ? [] : [match[1]]));
}

interface LatencyRow {
  readonly label: string;
  readonly requests: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

async function measure(label: string, clientIds: readonly string[], get: (clientId: string) => Promise<void>): Promise<LatencyRow> {
  const latencies: number[] = [];
  const started = performance.now();
  for (const clientId of clientIds) {
    const sent = performance.now();
    await get(clientId);
    latencies.push(performance.now() - sent);
  }
  const seconds = (performance.now() - started) / 1_000;
  const sorted = latencies.sort((left, right) => left - right);
  return { label, requests: clientIds.length, perSecond: clientIds.length / seconds, p50: nearestRank(sorted, 0.5), p95: nearestRank(sorted, 0.95), p99: nearestRank(sorted, 0.99), max: nearestRank(sorted, 1) };
}

const randomClients = (count: number): string[] => Array.from({ length: count }, () => clientIdOf(Math.floor(Math.random() * shape.clients)));

interface ExplainFigure {
  readonly planningMs: number;
  readonly executionMs: number;
  readonly plan: string;
}

/** EXPLAIN (ANALYZE, BUFFERS) of the store's own statement (its text and values), so it cannot drift from what the endpoint runs. */
async function explain(client: pg.Client, clientId: string): Promise<ExplainFigure> {
  const query = clientBalanceQuery(clientId);
  // slonik numbers its placeholders $slonik_N and renames them to $N when it executes; so here.
  const text = query.sql.replace(/\$slonik_(\d+)/g, '$$$1');
  const result = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, [...query.values]);
  const lines = result.rows.map((row) => row['QUERY PLAN']);
  const figure = (name: string): number => Number(/([\d.]+) ms/.exec(lines.find((line) => line.startsWith(name)) ?? '')?.[1] ?? Number.NaN);
  return { planningMs: figure('Planning Time'), executionMs: figure('Execution Time'), plan: lines.join('\n') };
}

interface Measured {
  readonly indexes: string;
  readonly rows: readonly LatencyRow[];
  readonly explained: readonly { name: string; ordinary: ExplainFigure; largest: ExplainFigure }[];
}

const ordinaryClient = clientIdOf(1);
const largestClient = clientIdOf(largestClientIndex(shape));

/** Warm-up, then the random clients and the largest client, then EXPLAIN of the statement. */
async function measureBalance(database: pg.Client, get: (clientId: string) => Promise<void>, indexes: string, requests: number): Promise<Measured> {
  // Warm-up (JIT, pool, the pages of the sampled rows), not reported.
  await measure('warm-up', [...randomClients(shareOfRequests(requests)), largestClient, largestClient], get);
  const rows = [
    await measure('random clients', randomClients(requests), get),
    await measure('largest client', Array.from({ length: shareOfRequests(requests) }, () => largestClient), get),
  ];
  const explained = [{ name: 'the balance statement (loadClientBalance)', ordinary: await explain(database, ordinaryClient), largest: await explain(database, largestClient) }];
  return { indexes, rows, explained };
}

function printMeasured(measured: Measured, baseline: number, plans: boolean): void {
  console.log('');
  console.log(`indexes of 017: ${measured.indexes}`);
  console.log(
    formatTable(
      ['GET /api/clients/:id/balance', 'requests', 'requests/s', 'ratio', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'clients'],
      measured.rows.map((row) => [
        row.label,
        String(row.requests),
        row.perSecond.toFixed(0),
        (row.perSecond / baseline).toFixed(5),
        row.p50.toFixed(2),
        row.p95.toFixed(2),
        row.p99.toFixed(2),
        row.max.toFixed(2),
        row.label === 'largest client' ? `${largestClient} (${shape.largestClientPayments} payments)` : `uniform over ${shape.clients} (${shape.paymentsPerClient} payments each)`,
      ]),
    ),
  );
  console.log('');
  console.log(
    formatTable(
      ['query (EXPLAIN ANALYZE, BUFFERS)', 'client 1 plan ms', 'client 1 exec ms', 'largest plan ms', 'largest exec ms', ''],
      measured.explained.map((row) => [
        row.name,
        row.ordinary.planningMs.toFixed(3),
        row.ordinary.executionMs.toFixed(3),
        row.largest.planningMs.toFixed(3),
        row.largest.executionMs.toFixed(3),
        '',
      ]),
    ),
  );
  if (plans) {
    for (const row of measured.explained) {
      console.log(`\n--- ${row.name}, client ${ordinaryClient}\n${row.ordinary.plan}\n--- ${row.name}, client ${largestClient}\n${row.largest.plan}`);
    }
  }
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples?: readonly number[];
}

/** The requests under the CPU profiler; prints the top self-time functions, writes the profile. */
async function profileRequests(file: string, requests: number, get: (clientId: string) => Promise<void>): Promise<void> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    const row = await measure('random clients (profiled)', randomClients(requests), get);
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
    await writeFile(file, JSON.stringify(profile));
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const self = new Map<string, number>();
    const samples = profile.samples ?? [];
    for (const id of samples) {
      const frame = byId.get(id)?.callFrame;
      if (frame === undefined) continue;
      const where = frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(processors|core|db|bench)\//, '$1/');
      const key = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + 1);
    }
    const top = [...self.entries()].sort((left, right) => right[1] - left[1]).slice(0, 30);
    console.log(`\nCPU profile of ${row.requests} requests (p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms under the profiler) written to ${file}; top self time:`);
    console.log(formatTable(['self %', 'function'], top.map(([key, count]) => [((100 * count) / samples.length).toFixed(1), key])));
  } finally {
    session.disconnect();
  }
}

async function main(): Promise<void> {
  const options = argumentsOf(process.argv.slice(2));
  const settings = { ADMIN_TOKEN: testAdminToken, ADMIN_RATE_LIMIT_PER_MINUTE: '1000000' };
  await withBenchStack(settings, log, async (stack) => {
    const database = new pg.Client({ connectionString: stack.endpoints.databaseUrl });
    await database.connect();
    try {
      const indexNames = await balanceIndexNames();
      const dropped = options.withoutIndexes || options.beforeAndAfter;
      if (dropped) {
        for (const name of indexNames) await database.query(`DROP INDEX IF EXISTS ${name}`);
        console.log(`dropped the 017 indexes: ${indexNames.join(', ')}`);
      }
      console.log(`seeding ${shape.clients} clients × ${shape.paymentsPerClient} payments + 1 client × ${shape.largestClientPayments} …`);
      const seedStarted = performance.now();
      const counts = await seedBalanceLedger(database, shape, (step, seconds) => console.log(`  ${step}: ${seconds.toFixed(1)} s`));
      console.log(`seeded in ${((performance.now() - seedStarted) / 1_000).toFixed(0)} s: ${JSON.stringify(counts)}`);

      // Neither the cooldown sweep nor the liveness check runs: only the requests measured use the database.
      const admin = await startAdmin({ config: stack.config, endpoints: stack.endpoints, port: 0, log, cooldownSweepIntervalMs: 0, livenessCheckIntervalMs: 0 });
      try {
        const get = async (clientId: string): Promise<void> => {
          const response = await fetch(`${admin.url}/api/clients/${clientId}/balance`, { headers: { authorization: `Bearer ${testAdminToken}` } });
          await response.arrayBuffer();
          if (response.status !== 200) throw new Error(`GET balance of ${clientId} answered ${response.status}`);
        };
        const { result: measured, baseline } = await aroundBaseline({ brokers: stack.endpoints.kafkaBrokers, recordSize: paymentRecordBytes(), log }, async () => {
          const runs: Measured[] = [];
          if (options.beforeAndAfter) {
            console.log('measuring without the 017 indexes …');
            runs.push(await measureBalance(database, get, `DROPPED (${indexNames.join(', ')})`, options.beforeRequests));
            // The migration's own text, so "after" is exactly what 017 creates.
            const started = performance.now();
            await database.query(await readFile(migrationPath, 'utf8'));
            await database.query('ANALYZE');
            console.log(`017 applied and ANALYZE in ${((performance.now() - started) / 1_000).toFixed(1)} s`);
          }
          console.log(`measuring ${dropped && !options.beforeAndAfter ? 'without' : 'with'} the 017 indexes …`);
          runs.push(
            await measureBalance(database, get, dropped && !options.beforeAndAfter ? `DROPPED (${indexNames.join(', ')})` : `present (${indexNames.join(', ')})`, options.requests),
          );
          return runs;
        });

        if (options.profile !== undefined) await profileRequests(options.profile, options.requests, get);
        printRunHeader(stack.mode, baseline.line);
        for (const each of measured) printMeasured(each, baseline.recordsPerSecond, options.plans);
        console.log('');
        console.log('Closed loop: one request at a time, latency from send to the whole body read. ratio = requests/s ÷ ProducerPerformance records/s (same broker, same run).');
        const flags = [
          `--requests ${options.requests}`,
          ...(options.withoutIndexes ? ['--without-indexes'] : []),
          ...(options.beforeAndAfter ? ['--before-and-after', `--before-requests ${options.beforeRequests}`] : []),
          ...(options.plans ? ['--plans'] : []),
          ...(options.profile !== undefined ? [`--profile ${options.profile}`] : []),
        ];
        console.log(`reproduce: npx tsx bench/balance-query.ts ${flags.join(' ')}`);
      } finally {
        await admin.stop();
      }
    } finally {
      await database.end();
    }
  });
}

await runBenchmark(main);
