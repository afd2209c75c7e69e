// GET /api/clients/:clientId/balance over a ledger of a million payments: latency per request,
// closed loop (one request at a time, the next sent when the answer is read), as an operator or a
// dashboard calls it.
//
//   npx tsx bench/balance-query.ts [--requests 2000] [--without-indexes] [--plans]
//
// The admin process runs in-process (startAdmin, as the admin API's integration tests start it) on
// the native stack, over a ledger seeded directly with set-based SQL (bench/support/
// balance-ledger-seed.ts): 10,000 clients × 100 payments plus one client with 10,000. Requests go
// to random clients of that population, then to the largest client. --without-indexes drops the
// indexes of db/migrations/017_balance_indexes.sql before seeding, so "before" and "after" come
// from the same script. The EXPLAIN (ANALYZE, BUFFERS) time of each of the endpoint's queries is
// printed for one ordinary client and for the largest (--plans prints the plans themselves).
// The baseline is Kafka's own ProducerPerformance on the same broker in the same run, with records
// of a PaymentReceived's size; the ratio is requests/s ÷ its records/s.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createLogger } from '../core/logger.ts';
import { startAdmin } from '../processors/admin/start-admin.ts';
import { testAdminToken } from '../test/support/processor-process.ts';
import { formatTable, machineLine, runBenchmark, withBenchStack } from './support/bench-stack.ts';
import { runProducerPerformance } from './support/producer-performance.ts';
import { paymentRecordBytes } from './support/payment-record-size.ts';
import { clientIdOf, largestClientIndex, seedBalanceLedger, type LedgerSeedShape } from './support/balance-ledger-seed.ts';
import { balanceQueries } from './support/balance-queries.ts';

const log = createLogger({ name: 'bench', level: 'silent' });
const migrationPath = new URL('../db/migrations/017_balance_indexes.sql', import.meta.url);
const shape: LedgerSeedShape = { clients: 10_000, paymentsPerClient: 100, largestClientPayments: 10_000 };
const largestClientRequests = 200;
const warmUpRequests = 300;

function argumentsOf(argv: readonly string[]): { requests: number; withoutIndexes: boolean; plans: boolean } {
  const { values } = parseArgs({
    args: [...argv],
    options: { requests: { type: 'string', default: '2000' }, 'without-indexes': { type: 'boolean', default: false }, plans: { type: 'boolean', default: false } },
    strict: true,
  });
  const requests = Number(values.requests);
  if (!Number.isInteger(requests) || requests < 100) throw new Error(`--requests must be an integer ≥ 100, got ${values.requests}`);
  return { requests, withoutIndexes: values['without-indexes'], plans: values.plans };
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

/** Nearest rank over a sorted sample. */
function rank(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ?? Number.NaN;
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
  return { label, requests: clientIds.length, perSecond: clientIds.length / seconds, p50: rank(sorted, 0.5), p95: rank(sorted, 0.95), p99: rank(sorted, 0.99), max: rank(sorted, 1) };
}

const randomClients = (count: number): string[] => Array.from({ length: count }, () => clientIdOf(Math.floor(Math.random() * shape.clients)));

interface ExplainFigure {
  readonly planningMs: number;
  readonly executionMs: number;
  readonly plan: string;
}

async function explain(client: pg.Client, text: string, clientId: string): Promise<ExplainFigure> {
  const result = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, [clientId]);
  const lines = result.rows.map((row) => row['QUERY PLAN']);
  const figure = (name: string): number => Number(/([\d.]+) ms/.exec(lines.find((line) => line.startsWith(name)) ?? '')?.[1] ?? Number.NaN);
  return { planningMs: figure('Planning Time'), executionMs: figure('Execution Time'), plan: lines.join('\n') };
}

async function main(): Promise<void> {
  const { requests, withoutIndexes, plans } = argumentsOf(process.argv.slice(2));
  const settings = { ADMIN_TOKEN: testAdminToken, ADMIN_RATE_LIMIT_PER_MINUTE: '1000000' };
  await withBenchStack(settings, log, async (stack) => {
    const database = new pg.Client({ connectionString: stack.endpoints.databaseUrl });
    await database.connect();
    try {
      const indexNames = await balanceIndexNames();
      if (withoutIndexes) {
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
        const largest = clientIdOf(largestClientIndex(shape));
        // Warm-up (JIT, pool, plan cache, the pages of the sampled rows), not reported.
        await measure('warm-up', [...randomClients(warmUpRequests), largest, largest], get);

        const recordSize = paymentRecordBytes();
        const baselineBefore = await runProducerPerformance({ brokers: stack.endpoints.kafkaBrokers, records: 200_000, recordSize, label: 'ProducerPerformance (before)', log });
        const rows = [
          await measure('random clients', randomClients(requests), get),
          await measure('largest client', Array.from({ length: largestClientRequests }, () => largest), get),
        ];
        const baselineAfter = await runProducerPerformance({ brokers: stack.endpoints.kafkaBrokers, records: 200_000, recordSize, label: 'ProducerPerformance (after)', log });
        const baseline = (baselineBefore.recordsPerSecond + baselineAfter.recordsPerSecond) / 2;

        const ordinary = clientIdOf(1);
        const explained = [];
        for (const query of balanceQueries) {
          explained.push({ name: query.name, ordinary: await explain(database, query.text, ordinary), largest: await explain(database, query.text, largest) });
        }

        console.log('');
        console.log(machineLine(stack.mode));
        console.log(`indexes of 017: ${withoutIndexes ? 'DROPPED (--without-indexes)' : 'present'} (${indexNames.join(', ')})`);
        console.log(
          `baseline: Kafka ProducerPerformance, ${recordSize}-byte records, acks=all, defaults otherwise: ${baselineBefore.recordsPerSecond.toFixed(0)} before, ` +
            `${baselineAfter.recordsPerSecond.toFixed(0)} after, mean ${baseline.toFixed(0)} records/s`,
        );
        console.log('');
        console.log(
          formatTable(
            ['GET /api/clients/:id/balance', 'requests', 'requests/s', 'ratio', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'clients'],
            rows.map((row) => [
              row.label,
              String(row.requests),
              row.perSecond.toFixed(0),
              (row.perSecond / baseline).toFixed(5),
              row.p50.toFixed(2),
              row.p95.toFixed(2),
              row.p99.toFixed(2),
              row.max.toFixed(2),
              row.label === 'largest client' ? `${largest} (${shape.largestClientPayments} payments)` : `uniform over ${shape.clients} (${shape.paymentsPerClient} payments each)`,
            ]),
          ),
        );
        console.log('');
        console.log(
          formatTable(
            ['query (EXPLAIN ANALYZE, BUFFERS)', 'client 1 plan ms', 'client 1 exec ms', 'largest plan ms', 'largest exec ms', ''],
            explained.map((row) => [
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
          for (const row of explained) {
            console.log(`\n--- ${row.name}, client ${ordinary}\n${row.ordinary.plan}\n--- ${row.name}, client ${largest}\n${row.largest.plan}`);
          }
        }
        console.log('');
        console.log('Closed loop: one request at a time, latency from send to the whole body read. ratio = requests/s ÷ ProducerPerformance records/s (same broker, same run).');
        console.log(`reproduce: npx tsx bench/balance-query.ts --requests ${requests}${withoutIndexes ? ' --without-indexes' : ''}${plans ? ' --plans' : ''}`);
      } finally {
        await admin.stop();
      }
    } finally {
      await database.end();
    }
  });
}

await runBenchmark(main);
