// The console's dead-letter replays (POST /api/dead-letters/:topic/replay, GET /api/replays/:id):
// each runs in the background on the same code path as the `replay` command
// (core/kafka/dead-letter-replay.ts, which argues why a replay is exactly once in effect), and its
// progress goes to GET /api/events as `replay` events.
//
// Jobs are kept in memory by the admin process that started them (the last 100), not in a table:
// a job is the progress of one request, and what matters after it — which records are replayed —
// is durable in Kafka (the replay group's offset) and in dead_letter_replays. A restarted admin
// process forgets the job (GET /api/replays/:id is then 404); replaying again is harmless. One
// replay per topic at a time: two all-replays would share the replay group and split its partitions.
import type { DatabasePool } from 'slonik';
import { sql } from 'slonik';
import { z } from 'zod';
import type { KafkaClient } from '../../core/kafka/kafka-client.ts';
import type { RecordProducer } from '../../core/kafka/producer-session.ts';
import { replayDeadLetterRecords, replayWatermarks, type DeadLetterSelection } from '../../core/kafka/dead-letter-replay.ts';
import type { Logger } from '../../core/logger.ts';
import { rejection } from '../../core/http/http-errors.ts';
import { deadLetterSuffix } from '../../topics/topics.ts';
import type { ReplayView } from './api-schemas.ts';
import type { SharedKafkaAdmin } from './shared-kafka-admin.ts';

export interface ReplayJobs {
  /** Starts a replay; 409 when one of the same topic is running. */
  start(deadLetterTopic: string, selection: DeadLetterSelection): ReplayView;
  get(replayId: string): ReplayView | undefined;
  /** Waits for running replays (each one bounded by its topic's size). */
  close(): Promise<void>;
}

const jobsKept = 100;
const progressEveryMs = 250;

const replayedRow = z.object({ kafka_partition: z.number().int(), kafka_offset: z.string() });

export function createReplayJobs(options: {
  kafka: KafkaClient;
  kafkaAdmin: SharedKafkaAdmin;
  producer: RecordProducer;
  pool: DatabasePool;
  log: Logger;
  newId: () => string;
  now: () => Date;
  /** Every change of a job's view (throttled while it runs). */
  onChange: (view: ReplayView) => void;
}): ReplayJobs {
  const { log, pool } = options;
  const jobs = new Map<string, ReplayView>();
  const running = new Map<string, Promise<void>>();

  async function run(view: ReplayView, selection: DeadLetterSelection): Promise<void> {
    const deadLetterTopic = view.topic;
    const topic = deadLetterTopic.slice(0, -deadLetterSuffix.length);
    let lastSent = 0;
    const onProgress = (replayed: number, total: number): void => {
      view.replayed = replayed;
      view.total = total;
      if (Date.now() - lastSent >= progressEveryMs) {
        lastSent = Date.now();
        options.onChange({ ...view });
      }
    };
    try {
      const outcome = await options.kafkaAdmin.use(async (admin) => {
        let alreadyReplayed: Set<string> | undefined;
        if (selection.kind === 'all') {
          // Records replayed one by one above the watermark are passed, not produced a second time.
          const marks = await replayWatermarks(admin, topic, deadLetterTopic);
          const rows = await pool.any(sql.type(replayedRow)`
            SELECT kafka_partition, kafka_offset::text AS kafka_offset FROM dead_letter_replays WHERE dead_letter_topic = ${deadLetterTopic}
              AND kafka_offset >= ${String(marks.reduce((lowest, mark) => (mark.start < lowest ? mark.start : lowest), marks[0]?.start ?? 0n))}::int8`);
          alreadyReplayed = new Set(rows.map((row) => `${row.kafka_partition}/${row.kafka_offset}`));
        }
        return replayDeadLetterRecords({
          kafka: options.kafka,
          admin,
          producer: options.producer,
          topic,
          deadLetterTopic,
          selection,
          onProgress,
          ...(alreadyReplayed === undefined ? {} : { alreadyReplayed: (partition: number, offset: string) => alreadyReplayed.has(`${partition}/${offset}`) }),
          onRecordReplayed: async ({ partition, offset }) => {
            await pool.query(sql.unsafe`
              INSERT INTO dead_letter_replays (dead_letter_topic, kafka_partition, kafka_offset, replay_id, replayed_at)
              VALUES (${deadLetterTopic}, ${partition}, ${offset}::int8, ${view.replay_id}, ${sql.timestamp(options.now())})
              ON CONFLICT DO NOTHING`);
          },
        });
      });
      view.replayed = outcome.replayed;
      view.total = outcome.total;
      if (outcome.replayed < outcome.total) {
        view.state = 'failed';
        view.error = `${outcome.total - outcome.replayed} of the selected records are no longer on ${deadLetterTopic} (deleted by retention?)`;
      } else {
        view.state = 'done';
      }
      log.info({ replayId: view.replay_id, topic: deadLetterTopic, replayed: outcome.replayed }, 'dead letters replayed from the console');
    } catch (error) {
      view.state = 'failed';
      view.error = error instanceof Error ? error.message : String(error);
      log.warn({ err: error, replayId: view.replay_id, topic: deadLetterTopic }, 'dead-letter replay failed');
    }
    options.onChange({ ...view });
  }

  return {
    start(deadLetterTopic, selection) {
      if (running.has(deadLetterTopic)) {
        throw rejection(409, 'replay_running', 'topic', 'one replay per topic at a time', `A replay of ${deadLetterTopic} is running; wait for it to finish.`);
      }
      const view: ReplayView = { replay_id: options.newId(), topic: deadLetterTopic, state: 'running', total: selection.kind === 'records' ? selection.records.length : 0, replayed: 0, error: null };
      jobs.set(view.replay_id, view);
      for (const id of jobs.keys()) {
        if (jobs.size <= jobsKept) break;
        if (jobs.get(id)?.state !== 'running') jobs.delete(id);
      }
      options.onChange({ ...view });
      running.set(
        deadLetterTopic,
        run(view, selection).finally(() => running.delete(deadLetterTopic)),
      );
      return { ...view };
    },
    get(replayId) {
      const view = jobs.get(replayId);
      return view === undefined ? undefined : { ...view };
    },
    async close() {
      await Promise.all(running.values());
    },
  };
}
