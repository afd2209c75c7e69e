-- One ChangeNow rate budget per API key, shared by every process that calls ChangeNow with it (the
-- ChangeNow connector, settlement's quotes, the accumulator's range): ChangeNow limits requests per
-- key, not per process. A generic cell rate algorithm in one row: next_slot_at is the theoretical
-- arrival time of the next request; a caller reserves a slot with one atomic
--   UPDATE ... SET next_slot_at = greatest(next_slot_at, now) + interval RETURNING next_slot_at
-- (connectors/changenow/rate-budget.ts, the only writer) and sleeps until its slot. The row lock
-- of that UPDATE serialises reservations across processes, so no two callers get the same slot.
-- Keyed by sha256 of the API key: the key itself is never stored.
CREATE TABLE changenow_rate_budget (
  key_hash      text PRIMARY KEY CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  next_slot_at  timestamptz NOT NULL
);
