// One Kafka admin connection per admin process, shared by the consumer-lag metric, the overview
// poller and the console's operations (offset reset, dead-letter depth), instead of a connection
// per request or per stream. Connected on first use; a connection-level failure drops it, so the
// next use reconnects (a broker restart does not leave the process with a dead client).
import type { Admin, KafkaClient } from '../../core/kafka/kafka-client.ts';

export interface SharedKafkaAdmin {
  use<T>(work: (admin: Admin) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// kafkajs' errors that say the connection (not the request) is broken.
const connectionErrorNames = new Set(['KafkaJSConnectionError', 'KafkaJSNumberOfRetriesExceeded', 'KafkaJSRequestTimeoutError', 'KafkaJSConnectionClosedError', 'KafkaJSBrokerNotFound']);

export function isConnectionError(error: unknown): boolean {
  return error instanceof Error && connectionErrorNames.has(error.name);
}

export function createSharedKafkaAdmin(kafka: KafkaClient): SharedKafkaAdmin {
  let connecting: Promise<Admin> | undefined;
  let closed = false;

  async function drop(): Promise<void> {
    const broken = connecting;
    connecting = undefined;
    await (await broken?.catch(() => undefined))?.disconnect().catch(() => undefined);
  }

  return {
    async use(work) {
      if (closed) throw new Error('the Kafka admin connection is closed (the process is shutting down)');
      if (connecting === undefined) {
        const admin = kafka.admin();
        connecting = admin.connect().then(() => admin);
      }
      let admin: Admin;
      try {
        admin = await connecting;
      } catch (error) {
        await drop();
        throw error;
      }
      try {
        return await work(admin);
      } catch (error) {
        if (isConnectionError(error)) await drop();
        throw error;
      }
    },
    async close() {
      closed = true;
      await drop();
    },
  };
}
