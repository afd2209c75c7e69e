-- An operator's request to retry a failed payout batch now (POST /api/payout-batches/:id/retry).
-- The admin process records the request and notifies settlement in one transaction; settlement —
-- the only writer of payout_batches — handles it once under its settlement lock: it makes the
-- batch's retry due (next_retry_at) or refuses, and records what it did here. The batch's retry is
-- then formed by settlement's window like any due retry.
CREATE TABLE payout_retry_requests (
  request_id    text PRIMARY KEY,
  batch_id      text NOT NULL REFERENCES payout_batches (batch_id),
  requested_by  text NOT NULL,
  requested_at  timestamptz NOT NULL,
  handled_at    timestamptz,
  outcome       text CHECK (outcome IN ('retry_scheduled', 'not_failed', 'already_retried')),
  -- When the retry is due: now, or an automatic retry's earlier time. Only for retry_scheduled.
  retry_at      timestamptz,
  -- What settlement found, for people: the batch's state, or the retry that already exists.
  detail        text,
  CHECK ((handled_at IS NULL) = (outcome IS NULL)),
  CHECK ((outcome = 'retry_scheduled') = (retry_at IS NOT NULL) OR outcome IS NULL),
  CHECK (retry_at IS NULL OR outcome IS NOT NULL)
);
-- One open request per batch: a second operator asking while one is open gets the open one.
CREATE UNIQUE INDEX payout_retry_requests_one_open ON payout_retry_requests (batch_id) WHERE handled_at IS NULL;
CREATE INDEX payout_retry_requests_open ON payout_retry_requests (requested_at) WHERE handled_at IS NULL;
CREATE INDEX payout_retry_requests_batch ON payout_retry_requests (batch_id);
