// The console's live data and operations (behind the same rate limit, authentication and error
// mapping as the rest of the admin API):
//   GET  /api/overview                                 the operator's snapshot (overview.ts)
//   GET  /api/events                                   server-sent events: overview, replay (live-events.ts)
//   GET  /api/dead-letters/:topic/records              a dead-letter topic's records, decoded (dead-letter-records.ts)
//   POST /api/dead-letters/:topic/replay               replay selected records or all → 202 {replay_id}
//   GET  /api/replays/:id                              a replay's progress (replay-jobs.ts)
//   POST /api/consumer-groups/:group/offset-reset      dry run, then apply with its confirm token (offset-reset.ts)
// The Kafka routes answer 503 when the process has no Kafka connection.
import type { Express, Request, RequestHandler, Response } from 'express';
import type { DatabasePool } from 'slonik';
import { parseJsonBody, rejection } from '../../core/http/http-errors.ts';
import type { KafkaClient } from '../../core/kafka/kafka-client.ts';
import type { Logger } from '../../core/logger.ts';
import type { RequestActor } from '../../core/http/request-validation.ts';
import { replayWatermarks } from '../../core/kafka/dead-letter-replay.ts';
import type { AvroSerde } from '../../schemas/registry.ts';
import { deadLetterSuffix } from '../../topics/topics.ts';
import { parsePageLimit } from './api-pagination.ts';
import { deadLetterRecordsQuery, offsetResetRequest, parseBody, parseQuery, replayRequest } from './api-schemas.ts';
import { decodePositions, readDeadLetterPage } from './dead-letter-records.ts';
import { deadLetterTopics } from './dead-letters.ts';
import type { LiveEvents } from './live-events.ts';
import { resetOffsets } from './offset-reset.ts';
import type { OverviewReader } from './overview-reader.ts';
import type { ReplayJobs } from './replay-jobs.ts';
import type { SharedKafkaAdmin } from './shared-kafka-admin.ts';

export interface LiveRoutesOptions {
  pool: DatabasePool;
  log: Logger;
  readOverview: OverviewReader;
  events: LiveEvents;
  /** Absent: the Kafka routes answer 503. */
  kafka?: { client: KafkaClient; admin: SharedKafkaAdmin; serde: AvroSerde; replays: ReplayJobs };
}

const groupIdPattern = /^.{1,255}$/s;
const replayIdPattern = /^[A-Za-z0-9-]{1,64}$/;

function deadLetterTopicOf(request: Request): string {
  const topic = String(request.params['topic']);
  if (!deadLetterTopics.includes(topic)) {
    throw rejection(404, 'topic_not_found', 'topic', `a dead-letter topic (…${deadLetterSuffix})`, `${topic} is not a dead-letter topic of the pipeline.`);
  }
  return topic;
}

export function mountLiveRoutes(app: Express, options: LiveRoutesOptions, http: { jsonBody: RequestHandler[]; actorOf: (request: Request, response: Response) => RequestActor }): void {
  const { jsonBody, actorOf } = http;
  const { log } = options;
  const kafkaOf = () => {
    if (options.kafka === undefined) throw rejection(503, 'unavailable', 'kafka', 'a Kafka connection', 'This admin process has no Kafka connection.');
    return options.kafka;
  };

  app.get('/api/overview', async (_request: Request, response: Response) => {
    response.json(await options.readOverview());
  });

  app.get('/api/events', (_request: Request, response: Response) => {
    options.events.open(response);
  });

  app.get('/api/dead-letters/:topic/records', async (request: Request, response: Response) => {
    const topic = deadLetterTopicOf(request);
    const query = parseQuery(deadLetterRecordsQuery, request.query);
    const limit = parsePageLimit(query.limit);
    const positions = decodePositions(query.cursor);
    const kafka = kafkaOf();
    const page = await kafka.admin.use((admin) =>
      readDeadLetterPage({ kafka: kafka.client, admin, serde: kafka.serde, database: options.pool, deadLetterTopic: topic, positions, limit }),
    );
    response.json(page);
  });

  app.post('/api/dead-letters/:topic/replay', ...jsonBody, async (request: Request, response: Response) => {
    const topic = deadLetterTopicOf(request);
    const body = parseBody(replayRequest, parseJsonBody(request.body));
    const kafka = kafkaOf();
    if ('records' in body) {
      // Every selected record must be on the topic now: an offset past the end or deleted by retention is named.
      const marks = await kafka.admin.use((admin) => replayWatermarks(admin, topic.slice(0, -deadLetterSuffix.length), topic));
      body.records.forEach((record, index) => {
        const mark = marks.find((candidate) => candidate.partition === record.partition);
        const offset = BigInt(record.offset);
        if (mark === undefined || offset < mark.low || offset >= mark.high) {
          throw rejection(404, 'record_not_found', `records.${index}`, 'a record on the dead-letter topic', `${topic} has no record at partition ${record.partition}, offset ${record.offset}.`);
        }
      });
    }
    const view = kafka.replays.start(
      topic,
      'records' in body ? { kind: 'records', records: body.records.map((record) => ({ partition: record.partition, offset: BigInt(record.offset) })) } : { kind: 'all' },
    );
    log.info({ actor: actorOf(request, response).actor, topic, replayId: view.replay_id, records: 'records' in body ? body.records.length : 'all' }, 'dead-letter replay started');
    response.status(202).json({ replay_id: view.replay_id });
  });

  app.get('/api/replays/:id', (request: Request, response: Response) => {
    const id = String(request.params['id']);
    const view = replayIdPattern.test(id) ? kafkaOf().replays.get(id) : undefined;
    if (view === undefined) throw rejection(404, 'replay_not_found', 'id', 'a replay started by this admin process', `No replay ${id} is known to this admin process.`);
    response.json(view);
  });

  app.post('/api/consumer-groups/:group/offset-reset', ...jsonBody, async (request: Request, response: Response) => {
    const group = String(request.params['group']);
    if (!groupIdPattern.test(group)) throw rejection(400, 'invalid_path', 'group', 'a consumer group id (1..255 characters)', 'group is not a consumer group id.');
    const body = parseBody(offsetResetRequest, parseJsonBody(request.body));
    if (!body.dry_run && body.confirm_token === undefined) {
      throw rejection(400, 'invalid_body', 'confirm_token', 'required when dry_run is false', 'Send the confirm_token of a dry run to apply the reset.');
    }
    const kafka = kafkaOf();
    const result = await kafka.admin.use((admin) =>
      resetOffsets(kafka.client, admin, { group, topic: body.topic, to: body.to, dryRun: body.dry_run, ...(body.confirm_token === undefined ? {} : { confirmToken: body.confirm_token }) }),
    );
    if (result.applied) log.info({ actor: actorOf(request, response).actor, group, topic: body.topic, partitions: result.partitions }, 'consumer group offsets reset');
    response.json(result);
  });
}
