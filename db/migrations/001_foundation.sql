-- Foundation schema of the payout pipeline. Money is NUMERIC with the same precision and scale
-- as the Avro decimal it mirrors (USD 28,8; ETH and generic crypto 38,18; USDT 38,6), never float.
-- The pool's type parsers read NUMERIC as decimal.js and INT8 as bigint.

-- Merchants ("clients") and their payout configuration. The compacted client-payout-configs topic
-- carries the same data; this table is the processors' queryable copy.
CREATE TABLE clients (
  client_id                    text PRIMARY KEY CHECK (client_id ~ '^-?[0-9]{1,14}$'),
  revision                     integer NOT NULL CHECK (revision >= 1),
  strategy                     text NOT NULL CHECK (strategy IN ('instant', 'threshold')),
  threshold_usd                numeric(28, 8) CHECK (threshold_usd > 0),
  wallet_address               text NOT NULL,
  payout_currency              text NOT NULL,
  payout_network               text NOT NULL,
  pending_wallet_address       text,
  pending_wallet_effective_at  timestamptz,
  created_at                   timestamptz NOT NULL DEFAULT now(),
  updated_at                   timestamptz NOT NULL DEFAULT now(),
  CHECK (strategy = 'instant' OR threshold_usd IS NOT NULL),
  CHECK ((pending_wallet_address IS NULL) = (pending_wallet_effective_at IS NULL))
);

-- Every accepted configuration change, kept forever: who changed what, when.
CREATE TABLE client_config_history (
  client_id   text NOT NULL,
  revision    integer NOT NULL,
  config      jsonb NOT NULL,
  changed_by  text NOT NULL,
  changed_at  timestamptz NOT NULL,
  PRIMARY KEY (client_id, revision)
);

-- Every IPN the webhook verified, whatever its status, once per (payment, status). Repeats only
-- bump the counter, so an operator sees how often NOWPayments retried.
CREATE TABLE ipn_receipts (
  payment_id         text NOT NULL,
  payment_status     text NOT NULL,
  client_id          text,
  body               text NOT NULL,
  first_received_at  timestamptz NOT NULL,
  last_received_at   timestamptz NOT NULL,
  times_received     integer NOT NULL DEFAULT 1 CHECK (times_received >= 1),
  PRIMARY KEY (payment_id, payment_status)
);

-- Finished payments the webhook has produced to payments-received, acknowledged by the broker.
-- The primary key is what makes a repeated IPN produce nothing new.
CREATE TABLE webhook_payments (
  payment_id        text PRIMARY KEY,
  client_id         text NOT NULL,
  order_id          text NOT NULL,
  usd_amount        numeric(28, 8) NOT NULL CHECK (usd_amount > 0),
  eth_amount        numeric(38, 18) NOT NULL CHECK (eth_amount > 0),
  correlation_id    text NOT NULL,
  kafka_partition   integer NOT NULL,
  kafka_offset      bigint NOT NULL,
  produced_at       timestamptz NOT NULL
);

-- Accepted payments whose client is not registered: the money arrived, so they stay visible here
-- (and in the ledger as 'unroutable' once routed) until the client registers.
CREATE VIEW unroutable_payments AS
  SELECT w.*
  FROM webhook_payments w
  LEFT JOIN clients c ON c.client_id = w.client_id
  WHERE c.client_id IS NULL;

-- The payment ledger (the seeds' payout_accumulation): one row per accepted payment, ever.
-- The platform fee is taken from both sides of the payment: usd_net is what the client's share is
-- computed on, eth_net is what is converted or paid out; the fee's ETH stays in the host wallet.
CREATE TABLE payment_ledger (
  payment_id           text PRIMARY KEY,
  client_id            text NOT NULL,
  user_id              text NOT NULL,
  subscription_id      text NOT NULL,
  state                text NOT NULL CHECK (state IN (
                         'unroutable', 'pending_conversion', 'swapping', 'converted', 'instant_payout')),
  fee_percent          numeric(9, 6) NOT NULL CHECK (fee_percent >= 0 AND fee_percent < 100),
  usd_gross            numeric(28, 8) NOT NULL CHECK (usd_gross > 0),
  platform_fee_usd     numeric(28, 8) NOT NULL CHECK (platform_fee_usd >= 0),
  usd_net              numeric(28, 8) NOT NULL CHECK (usd_net > 0),
  eth_gross            numeric(38, 18) NOT NULL CHECK (eth_gross > 0),
  platform_fee_eth     numeric(38, 18) NOT NULL CHECK (platform_fee_eth >= 0),
  eth_net              numeric(38, 18) NOT NULL CHECK (eth_net > 0),
  conversion_batch_id  text,
  payout_batch_id      text,
  paid_at              timestamptz NOT NULL,
  received_at          timestamptz NOT NULL,
  routed_at            timestamptz,
  updated_at           timestamptz NOT NULL DEFAULT now(),
  CHECK (usd_net = usd_gross - platform_fee_usd),
  CHECK (eth_net = eth_gross - platform_fee_eth),
  CHECK ((state IN ('swapping', 'converted')) = (conversion_batch_id IS NOT NULL)),
  CHECK ((state = 'instant_payout') = (payout_batch_id IS NOT NULL))
);
CREATE INDEX payment_ledger_pending ON payment_ledger (received_at) WHERE state = 'pending_conversion';
CREATE INDEX payment_ledger_client ON payment_ledger (client_id);

-- Global ETH → USDT micro-batches.
CREATE TABLE conversion_batches (
  batch_id        text PRIMARY KEY,
  state           text NOT NULL CHECK (state IN ('requested', 'swapping', 'finished', 'failed')),
  trigger         text NOT NULL CHECK (trigger IN ('threshold', 'max_wait', 'manual')),
  member_count    integer NOT NULL CHECK (member_count >= 1),
  total_usd       numeric(28, 8) NOT NULL CHECK (total_usd > 0),
  total_eth       numeric(38, 18) NOT NULL CHECK (total_eth > 0),
  threshold_usd   numeric(28, 8) NOT NULL,
  exchange_id     text,
  usdt_received   numeric(38, 6) CHECK (usdt_received >= 0),
  failure_reason  text,
  created_at      timestamptz NOT NULL,
  finished_at     timestamptz
);

-- USDT credits: each client's share of a finished conversion, paid out by a payout batch.
CREATE TABLE usdt_credits (
  credit_id            text PRIMARY KEY,
  client_id            text NOT NULL,
  payment_id           text NOT NULL UNIQUE REFERENCES payment_ledger (payment_id),
  conversion_batch_id  text NOT NULL REFERENCES conversion_batches (batch_id),
  usdt_amount          numeric(38, 6) NOT NULL CHECK (usdt_amount >= 0),
  exact_share          text NOT NULL,
  rounding_applied     numeric(38, 18) NOT NULL,
  wallet_address       text NOT NULL,
  payout_currency      text NOT NULL,
  payout_network       text NOT NULL,
  payout_batch_id      text,
  paid_out_at          timestamptz,
  credited_at          timestamptz NOT NULL,
  CHECK ((paid_out_at IS NULL) OR (payout_batch_id IS NOT NULL))
);
CREATE INDEX usdt_credits_unpaid ON usdt_credits (client_id, wallet_address, payout_currency, payout_network)
  WHERE paid_out_at IS NULL;

-- Per-client payouts (threshold, max age, manual) and instant payouts.
CREATE TABLE payout_batches (
  batch_id          text PRIMARY KEY,
  client_id         text NOT NULL,
  reason            text NOT NULL CHECK (reason IN ('instant', 'threshold', 'max_age', 'manual', 'retry')),
  state             text NOT NULL CHECK (state IN ('requested', 'swapping', 'finished', 'failed')),
  wallet_address    text NOT NULL,
  payout_currency   text NOT NULL,
  payout_network    text NOT NULL,
  source_currency   text NOT NULL,
  source_amount     numeric(38, 18) NOT NULL CHECK (source_amount > 0),
  usd_value         numeric(28, 8) NOT NULL,
  exchange_id       text,
  payin_hash        text,
  payout_hash       text,
  payout_amount     numeric(38, 18),
  failure_reason    text,
  attempts          integer NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL,
  completed_at      timestamptz,
  CHECK (state <> 'finished' OR payout_hash IS NOT NULL)
);

-- Inbox: business ids (payment id, command id, event id) each consumer has applied. Offsets are
-- not enough: an operator can re-produce a record at a new offset.
CREATE TABLE processed_messages (
  consumer      text NOT NULL,
  message_id    text NOT NULL,
  topic         text NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);

-- Outbox: records written in the same transaction as the effect that caused them; a relay
-- publishes them in id order and stamps published_at. payload is the Avro binary body of the record
-- under schema_name (the relay adds the registry's wire header), or — for a dead letter, whose
-- schema_name is NULL — the original record's bytes as they were consumed.
CREATE TABLE outbox (
  id              bigserial PRIMARY KEY,
  topic           text NOT NULL,
  message_key     text,
  schema_name     text,
  payload         bytea,
  headers         jsonb NOT NULL DEFAULT '{}'::jsonb,
  correlation_id  text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  published_at    timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Runtime settings (micro-batch threshold, ...) and their audit trail.
CREATE TABLE pipeline_settings (
  setting     text PRIMARY KEY,
  value       text NOT NULL,
  updated_at  timestamptz NOT NULL
);

CREATE TABLE config_audit (
  change_id   text PRIMARY KEY,
  setting     text NOT NULL,
  old_value   text,
  new_value   text NOT NULL,
  changed_by  text NOT NULL,
  changed_at  timestamptz NOT NULL
);
