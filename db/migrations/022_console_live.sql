-- The operator console's live data and operations (processors/admin/overview-store.ts,
-- processors/admin/dead-letter-replay-service.ts).

-- The overview is re-read every CONSOLE_EVENTS_INTERVAL (2 s) by each admin process: its reads of
-- what is in flight and of today's volume are index range scans, not scans of whole history.
CREATE INDEX conversion_batches_in_flight ON conversion_batches (created_at) WHERE state IN ('requested', 'swapping');
CREATE INDEX payout_batches_in_flight ON payout_batches (created_at) WHERE state IN ('requested', 'swapping');
CREATE INDEX webhook_payments_accepted ON webhook_payments (accepted_at);

-- Dead letters replayed one by one from the console. The replay group's committed offset
-- (dlq-replay-<topic>) is a watermark: everything below it was replayed. A record picked out of
-- order above it cannot move the watermark without marking the records it skips, so it is
-- remembered here; the console's `replayed` is "below the watermark or listed here".
CREATE TABLE dead_letter_replays (
  dead_letter_topic  text NOT NULL,
  kafka_partition    integer NOT NULL,
  kafka_offset       bigint NOT NULL,
  replay_id          text NOT NULL,
  replayed_at        timestamptz NOT NULL,
  PRIMARY KEY (dead_letter_topic, kafka_partition, kafka_offset)
);
