// Which inbox rows may be forgotten, and when. Pure: the job that deletes them is retention.ts.
//
// An inbox row (consumer, business id) is what makes a redelivered record change nothing. It is
// needed for as long as the record can come back: a rebalance or crash redelivers within seconds,
// but an operator can reset a group's offsets to the oldest record a topic still holds, or
// re-produce a record read from it. So:
// - Topics with a finite retention: Kafka deletes a record retention.ms after its timestamp, and
//   deletes whole segments, so a record can outlive that by up to a segment's lifetime (segment.ms,
//   7 days by default). The record's timestamp is at or before the inbox row's processed_at, so
//   an inbox window longer than retention + segment lifetime forgets a business id only after no
//   copy of the record is left to replay. `INBOX_RETENTION` must exceed it; start-up refuses less.
// - Topics kept forever (-1: payments-received, the compacted configuration topics, usdt-credits):
//   a record can be replayed at any time, so their inbox rows are never pruned. That is bounded by
//   the business, not by time: one row per payment, credit or configuration revision, as the
//   ledger itself keeps.
// - Dead-letter topics are not consumed (replay moves records back onto the original topic, with
//   a new timestamp), so they need no inbox window of their own.
import type { TopicDefinition } from '../../topics/topics.ts';

/** Kafka's default segment.ms: how much longer than retention.ms a record may still be read. */
export const segmentLifetimeMsMax = 7 * 24 * 60 * 60 * 1000;

export interface InboxRetentionPlan {
  /** Topics whose inbox rows may be deleted once older than the window. */
  readonly prunableTopics: readonly string[];
  readonly inboxRetentionMs: number;
}

/** The consumed topics whose records Kafka deletes; those kept forever are left out on purpose. */
export function finiteRetentionTopics(topics: readonly TopicDefinition[]): TopicDefinition[] {
  return topics.filter((topic) => topic.consumed && topic.retentionMs >= 0);
}

/** The shortest inbox window that keeps deduplication correct for these topics. */
export function inboxRetentionMsMin(topics: readonly TopicDefinition[]): number {
  const longest = Math.max(0, ...finiteRetentionTopics(topics).map((topic) => topic.retentionMs));
  return longest + segmentLifetimeMsMax;
}

export type InboxRetentionCheck = { readonly ok: true; readonly plan: InboxRetentionPlan } | { readonly ok: false; readonly reason: string };

export function planInboxRetention(topics: readonly TopicDefinition[], inboxRetentionMs: number): InboxRetentionCheck {
  const minimumMs = inboxRetentionMsMin(topics);
  if (inboxRetentionMs <= minimumMs) {
    return {
      ok: false,
      reason: `INBOX_RETENTION must be longer than the longest finite topic retention plus a segment's lifetime (${minimumMs} ms); an inbox row forgotten earlier lets a replayed record apply twice`,
    };
  }
  return { ok: true, plan: { prunableTopics: finiteRetentionTopics(topics).map((topic) => topic.name), inboxRetentionMs } };
}
