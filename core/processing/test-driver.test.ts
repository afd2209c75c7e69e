// The runtime's guarantees, proved through the test driver (the same chunk-apply code the Kafka
// consumer runs, over the in-memory persistence): inbox, outbox, dead letters, poison bisection,
// punctuation on the manual clock, the after-commit hook and the drain.
import { describe, expect, it } from 'vitest';
import { InvariantViolation } from '../errors.ts';
import { topicNames } from '../../topics/topics.ts';
import { paymentReceivedRecord } from '../../test/support/payment-record.ts';
import type { PaymentReceived } from '../../schemas/generated/records.ts';
import { createMemoryRuntimePersistence } from './memory-runtime-persistence.ts';
import { createTestDriver } from './test-driver.ts';
import { createPaymentBook, createTestProcessor, echoTopic, misbehaviour, type PaymentBook } from './test-processor.ts';

const topic = topicNames.paymentsReceived;

function payment(paymentId: string, clientId = '7'): { key: string; value: PaymentReceived } {
  return { key: clientId, value: paymentReceivedRecord(paymentId, clientId) };
}

function driverOf(book: PaymentBook, persistence = createMemoryRuntimePersistence()) {
  return createTestDriver({ processor: createTestProcessor(book), persistence });
}

describe('inbox', () => {
  it('applies a business id once: twice in a chunk, again in a later chunk, and after a restart', async () => {
    const book = createPaymentBook();
    const persistence = createMemoryRuntimePersistence();
    const driver = driverOf(book, persistence);
    await driver.pipe(topic, 'payment-received', [payment('p1'), payment('p1'), payment('p2')]);
    await driver.pipe(topic, 'payment-received', [payment('p1'), payment('p2')]);
    await driver.stop();
    // A new "process" over the same database: the inbox survives it.
    const restarted = driverOf(book, persistence);
    await restarted.pipe(topic, 'payment-received', [payment('p2'), payment('p3')]);

    expect(Object.fromEntries(book.applied)).toEqual({ p1: 1, p2: 1, p3: 1 });
    expect(restarted.emitted.map((record) => record.key)).toEqual(['7', '7', '7']);
    expect(restarted.emitted.map((record) => record.topic)).toEqual([echoTopic, echoTopic, echoTopic]);
    expect(persistence.claimsOf('test')).toEqual(new Set(['p1', 'p2', 'p3']));
  });
});

describe('outbox', () => {
  it('writes emitted records only when the chunk commits: a handler throw leaves nothing', async () => {
    const book = createPaymentBook();
    const driver = driverOf(book);
    // p1 is emitted before the bug in the same chunk: the whole transaction rolls back.
    await expect(driver.pipe(topic, 'payment-received', [payment('p1'), payment('b1', misbehaviour.bug)])).rejects.toBeInstanceOf(InvariantViolation);
    expect(driver.emitted).toEqual([]);
    expect(driver.deadLetters).toEqual([]);
    expect(book.applied.size).toBe(0);
    expect(driver.persistence.claimsOf('test').size).toBe(0);
    expect(driver.committedOffset(topic)).toBe(0n);

    await driver.pipe(topic, 'payment-received', [payment('p1')]);
    expect(driver.emitted.map((record) => record.correlationId)).toEqual([`${topic}/0/2`]);
  });
});

describe('dead letters', () => {
  it('dead-letters an undecodable record with its reason, and the partition moves on', async () => {
    const driver = driverOf(createPaymentBook());
    await driver.pipeRaw(topic, [{ key: 'k', value: Buffer.from('not avro'), headers: { 'x-trace': 'abc' } }]);
    await driver.pipe(topic, 'payment-received', [payment('p1')]);

    expect(driver.deadLetters).toHaveLength(1);
    const [letter] = driver.deadLetters;
    expect(letter?.topic).toBe(`${topic}.dlq`);
    expect(letter?.payload).toEqual(Buffer.from('not avro'));
    expect(letter?.headers).toMatchObject({ 'dlq-rule': 'wire-format', 'dlq-consumer': 'test', 'dlq-original-topic': topic, 'dlq-original-offset': '0', 'x-trace': 'abc' });
    expect(driver.emitted).toHaveLength(1);
    expect(driver.committedOffset(topic)).toBe(2n);
  });

  it('dead-letters a tombstone', async () => {
    const driver = driverOf(createPaymentBook());
    await driver.pipeRaw(topic, [{ key: 'k', value: null }]);
    expect(driver.deadLetters.map((letter) => letter.headers['dlq-rule'])).toEqual(['value-present']);
  });

  it('dead-letters a rejected record with field, rule and reason, and releases its claim so a replay applies it', async () => {
    const book = createPaymentBook();
    const driver = driverOf(book);
    await driver.pipe(topic, 'payment-received', [payment('r1', misbehaviour.reject), payment('p1')]);

    expect(driver.deadLetters).toHaveLength(1);
    expect(driver.deadLetters[0]?.headers).toMatchObject({
      'dlq-field': 'client_id',
      'dlq-rule': 'accepted-client',
      'dlq-reason': 'client reject is refused',
      'dlq-message-id': 'r1',
      'dlq-original-offset': '0',
    });
    expect(driver.persistence.claimsOf('test')).toEqual(new Set(['p1']));

    // The cause is fixed and the dead letter replayed: applied once.
    book.rejecting = false;
    await driver.pipeRaw(topic, [{ key: 'reject', value: driver.deadLetters[0]?.payload ?? null }]);
    expect(book.applied.get('r1')).toBe(1);
    expect(driver.deadLetters).toHaveLength(1);
  });
});

describe('poison records', () => {
  it('bisects a chunk around a bad record: the good ones are applied once, the bad one dead-lettered', async () => {
    const book = createPaymentBook();
    const driver = driverOf(book);
    const chunk = [payment('g1'), payment('g2'), payment('x1', misbehaviour.poison), payment('g3'), payment('g4'), payment('g5')];
    await driver.pipe(topic, 'payment-received', chunk);

    expect(Object.fromEntries(book.applied)).toEqual({ g1: 1, g2: 1, g3: 1, g4: 1, g5: 1 });
    expect(driver.emitted.map((record) => record.correlationId)).toEqual(['0', '1', '3', '4', '5'].map((offset) => `${topic}/0/${offset}`));
    expect(driver.deadLetters).toHaveLength(1);
    expect(driver.deadLetters[0]?.headers).toMatchObject({ 'dlq-rule': 'applicable', 'dlq-message-id': 'x1', 'dlq-original-offset': '2' });
    // Its claim rolled back with the failed transaction: `replay` finds the id free.
    expect(driver.persistence.claimsOf('test').has('x1')).toBe(false);
    expect(driver.committedOffset(topic)).toBe(6n);
    // One committed chunk, the results of each part that committed.
    expect(driver.afterCommits).toHaveLength(1);
    expect(driver.afterCommits[0]?.flat()).toEqual(['g1', 'g2', 'g3', 'g4', 'g5']);
  });

  it('writes the letter of an undecodable record once, whichever part of a bisected chunk commits first', async () => {
    const book = createPaymentBook();
    const driver = driverOf(book);
    const framed = (paymentId: string, clientId = '7') => ({ key: clientId, value: driver.encode('payment-received', paymentReceivedRecord(paymentId, clientId)) });
    await driver.pipeRaw(topic, [{ key: 'k', value: Buffer.from('garbage') }, framed('g1'), framed('x1', misbehaviour.poison), framed('g2')]);

    expect(Object.fromEntries(book.applied)).toEqual({ g1: 1, g2: 1 });
    expect(driver.deadLetters.map((letter) => letter.headers['dlq-rule'])).toEqual(['wire-format', 'applicable']);
  });
});

describe('punctuation on the manual clock', () => {
  it('fires when the clock is advanced past each interval', async () => {
    let runs = 0;
    const driver = createTestDriver({
      processor: createTestProcessor(createPaymentBook()),
      punctuation: { intervalMs: 1_000, run: () => Promise.resolve(void (runs += 1)) },
    });
    await driver.advance(999);
    expect(runs).toBe(0);
    await driver.advance(1);
    expect(runs).toBe(1);
    await driver.advance(5_000);
    expect(runs).toBe(6);
    await driver.stop();
    await driver.advance(5_000);
    expect(runs).toBe(6);
  });

  it('never overlaps: ticks that find the previous run going are skipped', async () => {
    let started = 0;
    let running = 0;
    let overlapped = false;
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const driver = createTestDriver({
      processor: createTestProcessor(createPaymentBook()),
      punctuation: {
        intervalMs: 100,
        run: async () => {
          started += 1;
          running += 1;
          if (running > 1) overlapped = true;
          await gate;
          running -= 1;
        },
      },
    });
    await driver.advance(1_000);
    expect(started).toBe(1);
    release();
    await driver.advance(100);
    expect(started).toBe(2);
    expect(overlapped).toBe(false);
    await driver.stop();
  });
});

describe('after-commit hook', () => {
  it('is called once per committed chunk with its results, and not for a failed attempt', async () => {
    const calls: (readonly (readonly string[])[])[] = [];
    const book = createPaymentBook();
    const driver = createTestDriver({ processor: createTestProcessor(book, (results) => calls.push(results)) });
    await driver.pipe(topic, 'payment-received', [payment('p1'), payment('p2')]);
    await expect(driver.pipe(topic, 'payment-received', [payment('p3'), payment('b1', misbehaviour.bug)])).rejects.toBeInstanceOf(InvariantViolation);
    await driver.pipe(topic, 'payment-received', [payment('p1')]);
    await driver.pipe(topic, 'payment-received', [payment('p3')]);

    // The duplicate-only chunk committed with no handler run: an empty list of results.
    expect(calls).toEqual([[['p1', 'p2']], [], [['p3']]]);
  });
});

describe('drain', () => {
  it('stop waits for the chunk in flight, then the outbox is published', async () => {
    const book = createPaymentBook();
    let open = (): void => undefined;
    book.gate = new Promise<void>((resolve) => (open = resolve));
    const driver = driverOf(book);
    const piped = driver.pipe(topic, 'payment-received', [payment('p1'), payment('g1', misbehaviour.gated)]);
    let stopped = false;
    const stopping = driver.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stopped).toBe(false);
    expect(driver.published).toEqual([]);

    open();
    await piped;
    await stopping;
    expect(Object.fromEntries(book.applied)).toEqual({ p1: 1, g1: 1 });
    expect(driver.published.map((row) => row.key)).toEqual(['7', misbehaviour.gated]);
    await expect(driver.pipe(topic, 'payment-received', [payment('p9')])).rejects.toThrow('stopped');
  });
});
