// The producer every process sends through: kafkajs' idempotent producer, replaced by a fresh one
// (a new producer id) after any failed send.
//
// Why: kafkajs numbers a partition's batches before it sends them and takes the numbers back when
// the request fails. A request that fails on our side may still have been written by the broker
// (the connection dropped after the write, a timeout, a broker killed mid-answer), so after a
// failure the producer's numbers and the broker's can disagree. The next batch for that partition
// then either meets OUT_OF_ORDER_SEQUENCE_NUMBER (a refused send, harmless) or, worse, carries
// exactly the sequence range of the batch the broker already has — which the broker takes for a
// retry of it and acknowledges without writing: different records, acknowledged and dropped. The
// outbox relay would stamp them published. The broker killed in test/broker-failover.chaos.test.ts
// left a swap event lost that way.
//
// A new producer id starts every partition's sequence at 0 with nothing to be mistaken for, and
// nothing is lost by it: the rows of a failed send stay unpublished and are sent again (records
// are deduped by their business ids downstream; see docs/exactly-once.md).
import type { Logger } from '../logger.ts';
import { createIdempotentProducer, type KafkaClient, type Producer } from './kafka-client.ts';

/** What the pipeline sends records through; a kafkajs Producer is one too. */
export type RecordProducer = Pick<Producer, 'connect' | 'disconnect' | 'send'>;

interface Session {
  readonly producer: Producer;
  connected: Promise<void> | undefined;
}

export function createProducerSession(kafka: KafkaClient, log: Logger): RecordProducer {
  let session: Session = { producer: createIdempotentProducer(kafka), connected: undefined };
  let closed = false;

  const connect = (current: Session): Promise<void> => {
    current.connected ??= current.producer.connect().catch((error: unknown) => {
      current.connected = undefined;
      throw error;
    });
    return current.connected;
  };

  return {
    connect: () => connect(session),
    send: async (record) => {
      const current = session;
      await connect(current);
      try {
        return await current.producer.send(record);
      } catch (error) {
        // Only the first failure of a session replaces it; sends still in flight on the old one
        // fail or succeed under the old producer id, which nothing sends under again.
        if (current === session && !closed) {
          session = { producer: createIdempotentProducer(kafka), connected: undefined };
          log.warn({ err: error, topic: record.topic }, 'a send failed; later sends go out under a new producer id');
          current.producer.disconnect().catch(() => undefined);
        }
        throw error;
      }
    },
    disconnect: async () => {
      closed = true;
      await session.producer.disconnect();
    },
  };
}
