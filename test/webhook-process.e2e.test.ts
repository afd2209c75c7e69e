// Proves the operator path end to end with real processes: `cli run webhook` serves IPNs as its
// own process, `cli topics tail` reads the produced record back through the registry, and SIGTERM
// drains the webhook to a clean exit.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { endpointsAsEnvironment } from '../stack/endpoints.ts';
import { finishedIpn, paymentIdOf, postIpn, testIpnSecret } from './support/ipn.ts';

const run = promisify(execFile);
let webhook: ChildProcess;
let baseUrl: string;
let environment: NodeJS.ProcessEnv;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitUntilReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${url}/ready`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`webhook not ready within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://localhost:${port}`;
  environment = {
    ...process.env,
    ...endpointsAsEnvironment(inject('endpoints')),
    NOWPAYMENTS_IPN_SECRET: testIpnSecret,
    WEBHOOK_PORT: String(port),
    LOG_LEVEL: 'warn',
  };
  webhook = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', 'webhook'], { env: environment, stdio: 'inherit' });
  await waitUntilReady(baseUrl, 60_000);
});

afterAll(() => {
  if (webhook.exitCode === null) webhook.kill('SIGKILL');
});

it('serves an IPN, the CLI reads the record back, and SIGTERM drains to exit code 0', async () => {
  const ipn = finishedIpn();
  expect((await postIpn(baseUrl, ipn)).status).toBe(202);

  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', 'cli/main.ts', 'topics', 'tail', 'payments-received', '--from-beginning', '--idle-timeout-ms', '4000', '--max', '100000'],
    { env: environment, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
  );
  const lines = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { value: { payment_id: string; usd_amount: string } });
  const mine = lines.filter((line) => line.value.payment_id === paymentIdOf(ipn));
  expect(mine).toHaveLength(1);
  expect(mine[0]?.value.usd_amount).toBe('50');

  const exited = new Promise<number | null>((resolve) => webhook.once('exit', (code) => resolve(code)));
  webhook.kill('SIGTERM');
  expect(await exited).toBe(0);
});
