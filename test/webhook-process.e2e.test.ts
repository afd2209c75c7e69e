// Proves the operator path end to end with real processes: `cli run webhook` serves IPNs as its
// own process, `cli topics tail` reads the produced record back through the registry, and SIGTERM
// drains the webhook to a clean exit.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { finishedIpn, paymentIdOf, postIpn } from './support/ipn.ts';
import { processorEnvironment, startProcessorProcess, type ProcessorProcess } from './support/processor-process.ts';

const run = promisify(execFile);
let webhook: ProcessorProcess;

beforeAll(async () => {
  webhook = await startProcessorProcess('webhook', 'WEBHOOK_PORT');
});

afterAll(async () => {
  await webhook.kill();
});

it('serves an IPN, the CLI reads the record back, and SIGTERM drains to exit code 0', async () => {
  const ipn = finishedIpn();
  expect((await postIpn(webhook.url, ipn)).status).toBe(202);

  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', 'cli/main.ts', 'topics', 'tail', 'payments-received', '--from-beginning', '--idle-timeout-ms', '4000', '--max', '100000'],
    { env: processorEnvironment(), timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
  );
  const lines = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { value: { payment_id: string; usd_amount: string } });
  const mine = lines.filter((line) => line.value.payment_id === paymentIdOf(ipn));
  expect(mine).toHaveLength(1);
  expect(mine[0]?.value.usd_amount).toBe('50');

  expect(await webhook.terminate()).toBe(0);
});
