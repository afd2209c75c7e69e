// `cli run webhook` with WEBHOOK_WORKERS=2: two worker processes behind one port (Node cluster),
// each with its own pool, intake and outbox relay. Proves through the public interfaces that the
// number of workers does not change exactly once: every payment sent twice at once is accepted once
// and answered duplicate once, whichever worker takes which copy; each accepted payment leaves one
// row and one outbox record, published by the workers' relays; /metrics is the sum over the
// workers; SIGTERM drains both to exit code 0.
import { sql } from 'slonik';
import { z } from 'zod';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { finishedIpn, paymentIdOf, postIpn } from './support/ipn.ts';
import { startProcessorProcess, type ProcessorProcess } from './support/processor-process.ts';
import { openTestDatabase } from './support/database.ts';
import { eventually } from './support/eventually.ts';

let webhook: ProcessorProcess;

beforeAll(async () => {
  webhook = await startProcessorProcess('webhook', 'WEBHOOK_PORT', { environment: { WEBHOOK_WORKERS: '2' } });
});

afterAll(async () => {
  await webhook.kill();
});

function counterValue(metrics: string, outcome: string): number {
  const line = metrics.split('\n').find((candidate) => candidate.startsWith(`webhook_ipn_total{outcome="${outcome}",`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

it('accepts each of 100 payments sent twice at once exactly once across two workers, publishes each once, and drains on SIGTERM', async () => {
  const ipns = Array.from({ length: 100 }, () => finishedIpn());
  const answers = await Promise.all(ipns.flatMap((ipn) => [postIpn(webhook.url, ipn), postIpn(webhook.url, ipn)].map(async (pending) => (await pending).status)));
  const statusesOf = (index: number): number[] => [answers[2 * index], answers[2 * index + 1]].map(Number).sort();
  for (let index = 0; index < ipns.length; index += 1) expect(statusesOf(index)).toEqual([200, 202]);

  const metrics = await (await fetch(`${webhook.url}/metrics`)).text();
  expect(counterValue(metrics, 'produced')).toBe(100);
  expect(counterValue(metrics, 'duplicate')).toBe(100);

  const ids = ipns.map(paymentIdOf);
  const database = await openTestDatabase();
  try {
    const accepted = await database.oneFirst(sql.type(z.object({ count: z.number() }))`
      SELECT count(*)::int AS count FROM webhook_payments WHERE payment_id = ANY(${sql.array(ids, 'text')})`);
    expect(accepted).toBe(100);
    // One record per payment, and the relays publish all of them.
    await eventually(async () => {
      const rows = await database.any(sql.type(z.object({ payment_id: z.string(), records: z.number(), published: z.number() }))`
        SELECT headers->>'payment-id' AS payment_id, count(*)::int AS records, count(published_at)::int AS published
        FROM outbox WHERE topic = 'payments-received' AND headers->>'payment-id' = ANY(${sql.array(ids, 'text')})
        GROUP BY 1`);
      expect(rows).toHaveLength(100);
      for (const row of rows) expect(row).toEqual({ payment_id: row.payment_id, records: 1, published: 1 });
    });
  } finally {
    await database.end();
  }

  expect(await webhook.terminate()).toBe(0);
});
