-- The notifier's deliveries (processors/notifier/): one row per (alert event, webhook URL).
-- The primary key is the de-duplication: the consumer inserts the rows of an alert with
-- ON CONFLICT DO NOTHING in the chunk's transaction (with the inbox claim), so a replay, a restart or
-- a rebalance never plans the same alert for the same URL twice; the worker moves a row to
-- `delivered` right after the receiver answered 2xx, so it is never posted again after that.
-- A row that used its attempts is `dead_lettered`: its dead letter went to the outbox in the same
-- transaction. `source_*` and `raw` keep the consumed alert record, so the dead letter carries the
-- record's bytes unchanged for `replay` (which then finds the row and sends nothing again; see the
-- processor's README).
CREATE TABLE notifier_deliveries (
  alert_id          text        NOT NULL,
  url               text        NOT NULL,
  state             text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead_lettered')),
  message           jsonb       NOT NULL,
  attempts          integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at   timestamptz NOT NULL,
  last_error        text,
  source_topic      text        NOT NULL,
  source_partition  integer     NOT NULL,
  source_offset     text        NOT NULL,
  message_key       text,
  correlation_id    text        NOT NULL,
  raw               bytea       NOT NULL,
  created_at        timestamptz NOT NULL,
  finished_at       timestamptz,
  PRIMARY KEY (alert_id, url)
);

-- The worker's queue: the due pending rows, oldest first.
CREATE INDEX notifier_deliveries_due ON notifier_deliveries (next_attempt_at) WHERE state = 'pending';
