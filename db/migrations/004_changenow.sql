-- The ChangeNow connector's state: one row per swap command (a conversion batch or a payout batch),
-- carried through its steps by the connector's worker. The row is the connector's memory across
-- crashes: what it intended, whether a create call may have reached ChangeNow, which exchange it
-- got, and what it asked the chain connector to pay in.
CREATE TABLE swap_commands (
  command_id          text PRIMARY KEY,
  command_kind        text NOT NULL CHECK (command_kind IN ('conversion', 'payout')),
  -- 'exchange': a ChangeNow exchange. 'direct': source and payout asset are the same (an instant
  -- client paid in ETH), so the pay-in transfer goes straight to the payout address.
  route               text NOT NULL CHECK (route IN ('exchange', 'direct')),
  from_currency       text NOT NULL,
  from_network        text NOT NULL,
  to_currency         text NOT NULL,
  to_network          text NOT NULL,
  from_amount         numeric(38, 18) NOT NULL CHECK (from_amount > 0),
  payout_address      text NOT NULL,
  refund_address      text NOT NULL,
  --   intent     stored with the command; nothing sent yet
  --   creating   a create call may have reached ChangeNow: look it up before creating again
  --   paying_in  exchange known (or direct route); the pay-in transfer is requested
  --   following  the pay-in is on chain; the exchange is followed until it ends
  --   finished / failed  terminal, with the swap event emitted in the same transaction
  state               text NOT NULL CHECK (state IN ('intent', 'creating', 'paying_in', 'following', 'finished', 'failed')),
  create_attempts     integer NOT NULL DEFAULT 0,
  create_started_at   timestamptz,
  exchange_id         text UNIQUE,
  pay_in_address      text,
  expected_amount_to  numeric(38, 18),
  exchange_status     text,
  transfer_id         text UNIQUE,
  amount_from         numeric(38, 18),
  amount_to           numeric(38, 18),
  payin_hash          text,
  payout_hash         text,
  failure_reason      text,
  -- Polls without a status change, for the follower's backoff.
  idle_polls          integer NOT NULL DEFAULT 0,
  next_attempt_at     timestamptz NOT NULL,
  last_error          text,
  correlation_id      text NOT NULL,
  requested_at        timestamptz NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  ended_at            timestamptz,
  CHECK ((state IN ('paying_in', 'following') AND route = 'exchange') <= (exchange_id IS NOT NULL)),
  CHECK ((state IN ('paying_in', 'following')) <= (transfer_id IS NOT NULL)),
  CHECK ((state = 'finished') <= (payout_hash IS NOT NULL AND amount_to IS NOT NULL)),
  CHECK ((state = 'failed') <= (failure_reason IS NOT NULL))
);

-- The worker picks what is due; terminal rows never are.
CREATE INDEX swap_commands_due ON swap_commands (next_attempt_at) WHERE state NOT IN ('finished', 'failed');
