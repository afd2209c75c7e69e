-- Settlement: what a finished or failed conversion did to its members, the per-client payout
-- batches with their members and retries, operator requests, and why a group is held.
--
-- Membership tables keep history: a payment that went back to pending after a failed conversion,
-- or a credit released by a failed payout, keeps its old membership row (released_at set), while a
-- partial unique index allows at most ONE live (unreleased) membership per payment and per credit.
-- That index is invariant 2 of ../shared/MISSION.md written as a constraint.

-- ---- conversions ----------------------------------------------------------------------------

ALTER TABLE conversion_batches
  -- ETH actually sent to the exchange, and the two transaction hashes of the swap.
  ADD COLUMN eth_sent         numeric(38, 18) CHECK (eth_sent > 0),
  ADD COLUMN payin_hash       text,
  ADD COLUMN payout_hash      text,
  -- The exchange's last reported status (new, waiting, exchanging, ...), for operators.
  ADD COLUMN exchange_status  text,
  ADD COLUMN failed_at        timestamptz,
  ADD CONSTRAINT conversion_batches_finished_has_usdt CHECK (state <> 'finished' OR (usdt_received > 0 AND finished_at IS NOT NULL)),
  ADD CONSTRAINT conversion_batches_failed_has_reason CHECK (state <> 'failed' OR (failure_reason IS NOT NULL AND failed_at IS NOT NULL));

-- Every payment that ever joined a conversion batch, with its amounts at the time.
CREATE TABLE conversion_batch_members (
  batch_id        text NOT NULL REFERENCES conversion_batches (batch_id),
  payment_id      text NOT NULL REFERENCES payment_ledger (payment_id),
  usd_net         numeric(28, 8) NOT NULL,
  eth_net         numeric(38, 18) NOT NULL,
  joined_at       timestamptz NOT NULL,
  -- Set when the batch failed (or received nothing) and the payment went back to pending.
  released_at     timestamptz,
  release_reason  text,
  PRIMARY KEY (batch_id, payment_id),
  CHECK ((released_at IS NULL) = (release_reason IS NULL))
);
CREATE UNIQUE INDEX conversion_batch_members_one_live ON conversion_batch_members (payment_id) WHERE released_at IS NULL;

-- Recorded by the database whenever a ledger row gets a conversion batch, whoever writes it (the
-- accumulator forms batches; it need not know about this history). A payment still live in another
-- batch makes the insert, and so the whole batch formation, fail on the unique index above.
CREATE FUNCTION record_conversion_batch_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.conversion_batch_id IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.conversion_batch_id IS DISTINCT FROM NEW.conversion_batch_id) THEN
    INSERT INTO conversion_batch_members (batch_id, payment_id, usd_net, eth_net, joined_at)
    VALUES (NEW.conversion_batch_id, NEW.payment_id, NEW.usd_net, NEW.eth_net, NEW.updated_at);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER payment_ledger_conversion_batch_member
  AFTER INSERT OR UPDATE OF conversion_batch_id ON payment_ledger
  FOR EACH ROW EXECUTE FUNCTION record_conversion_batch_member();

INSERT INTO conversion_batch_members (batch_id, payment_id, usd_net, eth_net, joined_at)
  SELECT conversion_batch_id, payment_id, usd_net, eth_net, updated_at FROM payment_ledger WHERE conversion_batch_id IS NOT NULL;

-- A payment is paid out when the payout that carried it finished with a payout hash: an instant
-- payment by its own payout batch (or a retry of it), a threshold payment by its credit's batch.
ALTER TABLE payment_ledger
  ADD COLUMN paid_out_at timestamptz,
  ADD CONSTRAINT payment_ledger_paid_out_state CHECK (paid_out_at IS NULL OR state IN ('instant_payout', 'converted'));

-- ---- credits --------------------------------------------------------------------------------

COMMENT ON COLUMN usdt_credits.exact_share IS
  'The exact proportional share received x usd_net / sum(usd_net) in USDT base units (10^-6), as a reduced fraction "numerator/denominator".';
COMMENT ON COLUMN usdt_credits.rounding_applied IS
  'usdt_amount minus the exact share, in USDT, rounded half-even to 18 decimals (the exact value is exact_share); always within one base unit.';
COMMENT ON COLUMN usdt_credits.payout_batch_id IS
  'The live payout batch carrying the credit (requested, swapping or finished); NULL while unpaid and free, or after its batch failed.';

-- ---- payouts --------------------------------------------------------------------------------

ALTER TABLE payout_batches
  -- A retry is a new batch (new command id) for the same members and destination; retry_of is
  -- unique, so a failed batch is retried at most once and a chain never forks into two payouts.
  ADD COLUMN retry_of            text UNIQUE REFERENCES payout_batches (batch_id),
  -- The first batch of the chain (an instant payment's own batch, for instance); NULL on that first batch.
  ADD COLUMN origin_batch_id     text REFERENCES payout_batches (batch_id),
  -- A failed batch waiting for its automatic (or operator-requested) retry.
  ADD COLUMN next_retry_at       timestamptz,
  ADD COLUMN retry_requested_by  text,
  ADD COLUMN retry_requested_at  timestamptz,
  -- Set when the last automatic retry failed too: an operator has been alerted.
  ADD COLUMN retries_exhausted_at timestamptz,
  ADD COLUMN requested_by        text,
  ADD COLUMN exchange_status     text,
  ADD COLUMN failed_at           timestamptz,
  ADD CONSTRAINT payout_batches_retry_reason CHECK ((reason = 'retry') = (retry_of IS NOT NULL)),
  ADD CONSTRAINT payout_batches_retry_origin CHECK ((retry_of IS NULL) = (origin_batch_id IS NULL)),
  ADD CONSTRAINT payout_batches_failed_has_reason CHECK (state <> 'failed' OR (failure_reason IS NOT NULL AND failed_at IS NOT NULL)),
  ADD CONSTRAINT payout_batches_retry_only_failed CHECK (state = 'failed' OR next_retry_at IS NULL),
  ADD CONSTRAINT payout_batches_finished_completed CHECK (state <> 'finished' OR completed_at IS NOT NULL);
CREATE INDEX payout_batches_retry_due ON payout_batches (next_retry_at) WHERE state = 'failed' AND next_retry_at IS NOT NULL;
CREATE INDEX payout_batches_client ON payout_batches (client_id, created_at);

ALTER TABLE usdt_credits
  ADD CONSTRAINT usdt_credits_payout_batch_fk FOREIGN KEY (payout_batch_id) REFERENCES payout_batches (batch_id);
CREATE INDEX usdt_credits_payout_batch ON usdt_credits (payout_batch_id) WHERE payout_batch_id IS NOT NULL;
CREATE INDEX usdt_credits_conversion_batch ON usdt_credits (conversion_batch_id);

-- Every credit that ever joined a payout batch. A failed batch's members are released (their
-- history stays); a finished batch's members stay live for good, so a paid credit can never join
-- another batch.
CREATE TABLE payout_batch_members (
  payout_batch_id  text NOT NULL REFERENCES payout_batches (batch_id),
  credit_id        text NOT NULL REFERENCES usdt_credits (credit_id),
  usdt_amount      numeric(38, 6) NOT NULL CHECK (usdt_amount >= 0),
  joined_at        timestamptz NOT NULL,
  released_at      timestamptz,
  release_reason   text,
  PRIMARY KEY (payout_batch_id, credit_id),
  CHECK ((released_at IS NULL) = (release_reason IS NULL))
);
CREATE UNIQUE INDEX payout_batch_members_one_live ON payout_batch_members (credit_id) WHERE released_at IS NULL;
CREATE INDEX payout_batch_members_credit ON payout_batch_members (credit_id);

-- Operator requests to pay a client's unpaid groups now (POST /api/clients/:clientId/payouts). The
-- admin API writes the row and notifies settlement; settlement handles it once and records what
-- it did.
CREATE TABLE payout_trigger_requests (
  request_id    text PRIMARY KEY,
  client_id     text NOT NULL REFERENCES clients (client_id),
  requested_by  text NOT NULL,
  requested_at  timestamptz NOT NULL,
  handled_at    timestamptz,
  outcome       text,
  CHECK ((handled_at IS NULL) = (outcome IS NULL))
);
CREATE INDEX payout_trigger_requests_open ON payout_trigger_requests (requested_at) WHERE handled_at IS NULL;

-- Why settlement holds a group that is otherwise due (threshold or max age reached, or an operator
-- asked): the last decision per group, for GET /api/clients/:clientId/balance. Deleted when the
-- group is paid or no longer held. unpaid_usdt is the group's amount when it was decided, so a
-- reader can tell a hold about an older amount.
CREATE TABLE payout_group_holds (
  client_id            text NOT NULL,
  wallet_address       text NOT NULL,
  payout_currency      text NOT NULL,
  payout_network       text NOT NULL,
  state                text NOT NULL CHECK (state IN ('below_exchange_minimum', 'above_exchange_maximum', 'fee_floor_not_met', 'quote_unavailable')),
  reason               text NOT NULL,
  unpaid_usdt          numeric(38, 6) NOT NULL,
  minimum_usdt         numeric(38, 18),
  maximum_usdt         numeric(38, 18),
  estimated_fee_usdt   numeric(38, 18),
  fee_floor_percent    numeric(9, 6),
  evaluated_at         timestamptz NOT NULL,
  PRIMARY KEY (client_id, wallet_address, payout_currency, payout_network)
);

-- Where each unpaid credit stands in the per-client window: in_flight (in a live payout batch),
-- held_for_retry (its last payout batch failed and that batch's retry is not formed yet), or free
-- (the window may batch it). Settlement's window and the admin's balance read the same view, so
-- what an operator is shown is what the window decides on.
CREATE VIEW unpaid_credit_states AS
  SELECT c.credit_id, c.client_id, c.payment_id, c.conversion_batch_id, c.usdt_amount, c.wallet_address, c.payout_currency,
         c.payout_network, c.credited_at, c.payout_batch_id,
         held.batch_id AS held_by_batch_id,
         CASE WHEN c.payout_batch_id IS NOT NULL THEN 'in_flight'
              WHEN held.batch_id IS NOT NULL THEN 'held_for_retry'
              ELSE 'free' END AS window_state
  FROM usdt_credits c
  LEFT JOIN LATERAL (
    SELECT b.batch_id
    FROM payout_batch_members m JOIN payout_batches b ON b.batch_id = m.payout_batch_id
    WHERE m.credit_id = c.credit_id AND b.state = 'failed'
      AND NOT EXISTS (SELECT 1 FROM payout_batches r WHERE r.retry_of = b.batch_id)
    ORDER BY b.created_at DESC, b.batch_id
    LIMIT 1
  ) held ON true
  WHERE c.paid_out_at IS NULL;
