// Ingest end to end: signed IPNs posted to the webhook until every payment is a ledger row the
// router wrote. The webhook and the router run as their own processes (`cli run`), as in
// production; the generator runs here with N signed `finished` IPNs for registered threshold
// clients prepared before the clock, sent by C concurrent senders (closed loop: this measures the
// rate the pipeline sustains, bench/webhook-latency.ts measures latency at a fixed rate).
//
//   npx tsx bench/ingest.ts [--payments 20000] [--concurrency 256]
//
// 256 senders because a closed loop's rate is its concurrency over the answer time: with 64 the
// loop measured its own round trips (64 ÷ ~50 ms ≈ 1,300/s) while the machine still had CPU left.
//
// Reported: payments/s from the first request to the last ledger row (the goal is ≥ 2,000/s),
// the webhook's own rate (first request → last answer), the router's lag behind it, and their
// ratios to Kafka's ProducerPerformance on the same broker in the same run. The accumulator is not
// started and the micro-batch threshold is out of reach, so the rows stay pending_conversion.
import { parseArgs } from 'node:util';
import { sql } from 'slonik';
import { z } from 'zod';
import { createLogger } from '../core/logger.ts';
import { createDatabasePool } from '../db/pool.ts';
import { signIpn } from '../processors/webhook/ipn-signature.ts';
import { finishedIpn, ipnText } from '../test/support/ipn.ts';
import { formatOrderId } from '../processors/webhook/order-id.ts';
import { registerClient } from '../test/support/settlement-fixtures.ts';
import { formatTable, runBenchmark, secondsSince, withBenchStack, printRunHeader } from './support/bench-stack.ts';
import { createIpnPoster, type SignedIpn } from './support/ipn-poster.ts';
import { startBenchProcess } from './support/bench-process.ts';
import { aroundBaseline } from './support/producer-performance.ts';
import { paymentRecordBytes } from './support/payment-record-size.ts';
import { positiveIntegerArgument } from './support/positive-integer-argument.ts';

const ipnSecret = 'bench-ipn-secret-0123456789';
const clientCount = 200;
const log = createLogger({ name: 'bench', level: 'silent' });

function argumentsOf(argv: readonly string[]): { payments: number; concurrency: number } {
  const { values } = parseArgs({ args: [...argv], options: { payments: { type: 'string', default: '20000' }, concurrency: { type: 'string', default: '256' } }, strict: true });
  return { payments: positiveIntegerArgument('payments', values.payments), concurrency: positiveIntegerArgument('concurrency', values.concurrency) };
}

async function main(): Promise<void> {
  const { payments, concurrency } = argumentsOf(process.argv.slice(2));
  await withBenchStack({ NOWPAYMENTS_IPN_SECRET: ipnSecret, MICRO_BATCH_THRESHOLD_USD: '100000' }, log, async (stack) => {
    const database = await createDatabasePool(stack.endpoints.databaseUrl);
    const webhook = await startBenchProcess(stack, 'webhook', 'WEBHOOK_PORT');
    const router = await startBenchProcess(stack, 'router', 'ROUTER_PORT');
    const poster = createIpnPoster(`${webhook.url}/webhooks/nowpayments`, concurrency);
    try {
      const clients = await Promise.all(Array.from({ length: clientCount }, () => registerClient(database, { thresholdUsd: '1000000' })));
      const signed = (count: number) =>
        Array.from({ length: count }, (_, index) => {
          const client = clients[index % clients.length]!;
          const fields = finishedIpn({ order_id: formatOrderId({ clientId: client.clientId, userId: '1', subscriptionId: '1' }) });
          return { text: ipnText(fields), signature: signIpn(fields, ipnSecret) };
        });
      const post = async (ipn: SignedIpn): Promise<void> => {
        const { status, body } = await poster.post(ipn);
        if (status !== 202) throw new Error(`webhook answered ${status}: ${body.slice(0, 200)}`);
      };
      const sendAll = async (ipns: readonly SignedIpn[]): Promise<void> => {
        let next = 0;
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next < ipns.length) {
              const ipn = ipns[next];
              next += 1;
              if (ipn !== undefined) await post(ipn);
            }
          }),
        );
      };
      const ledgerRows = async (): Promise<number> =>
        database.oneFirst(sql.type(z.object({ count: z.number() }))`SELECT count(*)::int AS count FROM payment_ledger`);

      // Warm-up (JIT, pools, producers, the router's group join), not reported.
      const warmUp = signed(Math.min(2_000, payments));
      await sendAll(warmUp);
      const warmRows = warmUp.length;
      while ((await ledgerRows()) < warmRows) await new Promise((resolve) => setTimeout(resolve, 100));

      const ipns = signed(payments);
      const { result: seconds, baseline: measuredBaseline } = await aroundBaseline({ brokers: stack.endpoints.kafkaBrokers, recordSize: paymentRecordBytes(), log }, async () => {
        const start = process.hrtime.bigint();
        await sendAll(ipns);
        const webhook = secondsSince(start);
        while ((await ledgerRows()) < warmRows + payments) await new Promise((resolve) => setTimeout(resolve, 20));
        return { webhook, endToEnd: secondsSince(start) };
      });
      const webhookSeconds = seconds.webhook;
      const endToEndSeconds = seconds.endToEnd;
      const baseline = measuredBaseline.recordsPerSecond;

      printRunHeader(stack.mode, measuredBaseline.line);
      console.log(`${payments} payments, ${concurrency} concurrent senders, ${clientCount} clients`);
      console.log('');
      const row = (name: string, seconds: number, note: string): string[] => [name, seconds.toFixed(2), (payments / seconds).toFixed(0), (payments / seconds / baseline).toFixed(4), note];
      console.log(
        formatTable(
          ['stage', 'seconds', 'payments/s', 'ratio', 'note'],
          [
            row('webhook (first request → last 202)', webhookSeconds, ''),
            row('ingest (first request → last ledger row)', endToEndSeconds, `router finished ${(endToEndSeconds - webhookSeconds).toFixed(2)} s after the last 202`),
          ],
        ),
      );
      console.log('');
      console.log('ratio = payments/s ÷ ProducerPerformance records/s (same broker, same run).');
      console.log(`reproduce: npx tsx bench/ingest.ts --payments ${payments} --concurrency ${concurrency}`);
    } finally {
      poster.close();
      await router.stop();
      await webhook.stop();
      await database.end();
    }
  });
}

await runBenchmark(main);
