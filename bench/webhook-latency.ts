// Webhook latency at fixed offered rates, open loop (bench/support/open-loop.ts): each request's
// latency counts from its scheduled send time, so a webhook that falls behind shows its queue.
//
//   npx tsx bench/webhook-latency.ts [--rates 100,200,500,1000] [--seconds 15]
//
// The webhook runs as its own process (`cli run webhook`, as in production) on the native stack;
// the generator runs in this process with fresh signed `finished` IPNs prepared before the clock,
// posted over node:http (support/ipn-poster.ts).
// The baseline is Kafka's own ProducerPerformance on the same broker in the same run, with records
// of a PaymentReceived's size; the ratio is completed requests/s ÷ its records/s.
import { parseArgs } from 'node:util';
import { createLogger } from '../core/logger.ts';
import { signIpn } from '../processors/webhook/ipn-signature.ts';
import { finishedIpn, ipnText } from '../test/support/ipn.ts';
import { startBenchProcess } from './support/bench-process.ts';
import { formatTable, runBenchmark, withBenchStack, printRunHeader } from './support/bench-stack.ts';
import { createIpnPoster, type SignedIpn } from './support/ipn-poster.ts';
import { positiveIntegerArgument } from './support/positive-integer-argument.ts';
import { runOpenLoop, type OpenLoopResult } from './support/open-loop.ts';
import { aroundBaseline } from './support/producer-performance.ts';
import { paymentRecordBytes } from './support/payment-record-size.ts';

const ipnSecret = 'bench-ipn-secret-0123456789';
const log = createLogger({ name: 'bench', level: 'silent' });

function argumentsOf(argv: readonly string[]): { rates: number[]; seconds: number } {
  const { values } = parseArgs({ args: [...argv], options: { rates: { type: 'string', default: '100,200,500,1000' }, seconds: { type: 'string', default: '15' } }, strict: true });
  const rates = values.rates.split(',').map(Number);
  const seconds = positiveIntegerArgument('seconds', values.seconds);
  if (rates.some((rate) => !Number.isInteger(rate) || rate < 1)) throw new Error(`--rates must be positive integers, got ${values.rates}`);
  return { rates, seconds };
}

function signedIpns(count: number): SignedIpn[] {
  return Array.from({ length: count }, () => {
    const fields = finishedIpn();
    return { text: ipnText(fields), signature: signIpn(fields, ipnSecret) };
  });
}

async function main(): Promise<void> {
  const { rates, seconds } = argumentsOf(process.argv.slice(2));
  await withBenchStack({ NOWPAYMENTS_IPN_SECRET: ipnSecret }, log, async (stack) => {
    const webhook = await startBenchProcess(stack, 'webhook', 'WEBHOOK_PORT');
    const poster = createIpnPoster(`${webhook.url}/webhooks/nowpayments`);
    try {
      const post = async (ipn: SignedIpn): Promise<number> => (await poster.post(ipn)).status;
      // Warm-up (JIT, pool, producer, registry cache), not reported.
      const warmUp = signedIpns(Math.max(200, Math.min(...rates) * 2));
      await runOpenLoop({ ratePerSecond: Math.min(...rates), requests: warmUp.length, expectedStatus: 202, send: (index) => post(warmUp[index]!) });

      const { result: results, baseline: measuredBaseline } = await aroundBaseline({ brokers: stack.endpoints.kafkaBrokers, recordSize: paymentRecordBytes(), log }, async () => {
        const runs: OpenLoopResult[] = [];
        for (const rate of rates) {
          const ipns = signedIpns(rate * seconds);
          runs.push(await runOpenLoop({ ratePerSecond: rate, requests: ipns.length, expectedStatus: 202, send: (index) => post(ipns[index]!) }));
        }
        return runs;
      });
      const baseline = measuredBaseline.recordsPerSecond;

      printRunHeader(stack.mode, measuredBaseline.line);
      console.log('');
      console.log(
        formatTable(
          ['offered/s', 'sent', 'completed/s', 'ratio', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'not 202'],
          results.map((result) => [
            String(result.offeredPerSecond),
            String(result.sent),
            result.completedPerSecond.toFixed(0),
            (result.completedPerSecond / baseline).toFixed(4),
            result.latencyMs.p50.toFixed(1),
            result.latencyMs.p99.toFixed(1),
            result.latencyMs.p999.toFixed(1),
            result.latencyMs.max.toFixed(1),
            [...result.failures].map(([status, count]) => `${count}×${status === 0 ? 'error' : status}`).join(' ') || '0',
          ]),
        ),
      );
      console.log('');
      console.log('ratio = completed requests/s ÷ ProducerPerformance records/s (same broker, same run). Latency from each request\'s scheduled send time (open loop).');
      console.log(`reproduce: npx tsx bench/webhook-latency.ts --rates ${rates.join(',')} --seconds ${seconds}`);
    } finally {
      poster.close();
      await webhook.stop();
    }
  });
}

await runBenchmark(main);
