-- Why the global micro-batch window keeps due payments pending: the exchange's range for ETH → USDT
-- refuses the batch it would form (below its minimum), or a single payment is above its maximum.
-- The accumulator replaces these rows in the same transaction as each evaluation, so they always
-- describe the committed ledger; `since` survives while the hold stands, so its age is the wait's.
CREATE TABLE conversion_window_holds (
  state               text PRIMARY KEY CHECK (state IN ('below_exchange_minimum', 'above_exchange_maximum')),
  reason              text NOT NULL,
  payment_count       integer NOT NULL CHECK (payment_count > 0),
  held_usd            numeric(28, 8) NOT NULL CHECK (held_usd > 0),
  held_eth            numeric(38, 18) NOT NULL CHECK (held_eth > 0),
  oldest_received_at  timestamptz NOT NULL,
  since               timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL
);
