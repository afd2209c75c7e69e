import { describe, expect, it } from 'vitest';
import { createLogger } from '../logger.ts';
import type { KafkaClient, Producer } from './kafka-client.ts';
import { createProducerSession } from './producer-session.ts';

const log = createLogger({ name: 'producer-session-test', level: 'silent' });

/**
 * A stand-in for kafkajs' client that hands out numbered producers: each send resolves or rejects
 * as the test says, and every producer remembers what happened to it. Only the session's own rule
 * (which producer a send goes to, and when a producer is replaced) is under test here; the hazard
 * it guards against needs a real broker and is exercised by test/broker-failover.chaos.test.ts.
 */
function fakeKafka(outcomes: Array<'ok' | 'fail' | Promise<void>>) {
  const producers: Array<{ id: number; connects: number; disconnects: number; sends: string[] }> = [];
  const kafka = {
    producer: () => {
      const state = { id: producers.length + 1, connects: 0, disconnects: 0, sends: [] as string[] };
      producers.push(state);
      return {
        connect: () => {
          state.connects += 1;
          return Promise.resolve();
        },
        disconnect: () => {
          state.disconnects += 1;
          return Promise.resolve();
        },
        send: async ({ topic }: { topic: string }) => {
          state.sends.push(topic);
          const outcome = outcomes.shift() ?? 'ok';
          if (outcome instanceof Promise) await outcome;
          if (outcome === 'fail') throw new Error(`send to ${topic} failed`);
          return [];
        },
      } as unknown as Producer;
    },
  } as unknown as KafkaClient;
  return { kafka, producers };
}

describe('createProducerSession', () => {
  it('keeps one producer while sends succeed, and connects it once', async () => {
    const { kafka, producers } = fakeKafka(['ok', 'ok', 'ok']);
    const session = createProducerSession(kafka, log);
    await session.connect();
    for (const topic of ['a', 'b', 'c']) await session.send({ topic, messages: [] });
    expect(producers).toEqual([{ id: 1, connects: 1, disconnects: 0, sends: ['a', 'b', 'c'] }]);
  });

  it('after a failed send, sends the next record under a new producer (a new producer id) and closes the old one', async () => {
    const { kafka, producers } = fakeKafka(['ok', 'fail', 'ok']);
    const session = createProducerSession(kafka, log);
    await session.send({ topic: 'a', messages: [] });
    await expect(session.send({ topic: 'b', messages: [] })).rejects.toThrow('send to b failed');
    await session.send({ topic: 'c', messages: [] });
    expect(producers).toEqual([
      { id: 1, connects: 1, disconnects: 1, sends: ['a', 'b'] },
      { id: 2, connects: 1, disconnects: 0, sends: ['c'] },
    ]);
  });

  it('replaces the producer once when several sends in flight on it fail', async () => {
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { kafka, producers } = fakeKafka(['fail', held, 'ok']);
    const session = createProducerSession(kafka, log);
    await session.connect();
    const first = session.send({ topic: 'a', messages: [] });
    const second = session.send({ topic: 'b', messages: [] });
    await expect(first).rejects.toThrow();
    release();
    await second;
    await session.send({ topic: 'c', messages: [] });
    expect(producers.map((producer) => producer.sends)).toEqual([['a', 'b'], ['c']]);
  });

  it('does not replace the producer once disconnected', async () => {
    const { kafka, producers } = fakeKafka(['fail']);
    const session = createProducerSession(kafka, log);
    const sending = session.send({ topic: 'a', messages: [] });
    await session.disconnect();
    await expect(sending).rejects.toThrow();
    expect(producers).toHaveLength(1);
  });
});
