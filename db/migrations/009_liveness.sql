-- Liveness (invariant 7 of the mission): money that is not paid is always in a named state with a
-- reason and an age, and a wait that cannot clear by itself is raised as an alert.
--
-- 1. A conversion that failed after its pay-in left is never paid in again automatically: its
--    members stay in the batch as `needs_recovery` until an operator says what happened to the ETH
--    (refund received → back to pending; USDT recovered → credited; written off → recorded).
-- 2. A payout hold keeps the time it started (`held_since`), so "held for more than an hour" can
--    be asked; settlement's window rewrites `evaluated_at` on every pass.
-- 3. The findings the liveness check raised, so the same standing finding is alerted on appearance
--    and then at most once per interval, and its clearance is announced once.

-- ---- needs_recovery -------------------------------------------------------------------------

-- The ledger's unnamed CHECKs of 001 (the state list, and "a conversion batch exactly while
-- swapping or converted") are replaced by named ones that know the two new states.
DO $$
DECLARE
  name text;
BEGIN
  FOR name IN
    SELECT conname FROM pg_constraint
    WHERE conrelid = 'payment_ledger'::regclass AND contype = 'c'
      AND (pg_get_constraintdef(oid) LIKE '%unroutable%' OR pg_get_constraintdef(oid) LIKE '%conversion_batch_id IS NOT NULL%')
  LOOP
    EXECUTE format('ALTER TABLE payment_ledger DROP CONSTRAINT %I', name);
  END LOOP;
  FOR name IN
    SELECT conname FROM pg_constraint
    WHERE conrelid = 'conversion_batches'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%''requested''%''failed''%'
  LOOP
    EXECUTE format('ALTER TABLE conversion_batches DROP CONSTRAINT %I', name);
  END LOOP;
END
$$;

ALTER TABLE payment_ledger
  ADD CONSTRAINT payment_ledger_state CHECK (state IN (
    'unroutable', 'pending_conversion', 'swapping', 'needs_recovery', 'converted', 'written_off', 'instant_payout')),
  ADD CONSTRAINT payment_ledger_conversion_batch CHECK (
    (state IN ('swapping', 'needs_recovery', 'converted', 'written_off')) = (conversion_batch_id IS NOT NULL));

-- needs_recovery: failed after the pay-in, members held; written_off: an operator wrote it off.
ALTER TABLE conversion_batches
  ADD CONSTRAINT conversion_batches_state CHECK (state IN ('requested', 'swapping', 'finished', 'failed', 'needs_recovery', 'written_off'));

-- One row per conversion that failed after its pay-in: what the exchange reported, and how an
-- operator resolved it. The batch row says where it stands; this row says why and who.
CREATE TABLE conversion_recoveries (
  batch_id          text PRIMARY KEY REFERENCES conversion_batches (batch_id),
  exchange_id       text,
  exchange_status   text,
  -- What ChangeNow (or the connector) reported when the conversion failed.
  reported_reason   text NOT NULL,
  payin_hash        text,
  eth_sent          numeric(38, 18),
  opened_at         timestamptz NOT NULL,
  resolution        text CHECK (resolution IN ('refund_received', 'recovered', 'written_off')),
  usdt_recovered    numeric(38, 6) CHECK (usdt_recovered > 0),
  resolved_by       text,
  resolved_at       timestamptz,
  note              text,
  CHECK ((resolution IS NULL) = (resolved_at IS NULL) AND (resolution IS NULL) = (resolved_by IS NULL)),
  CHECK ((resolution = 'recovered') = (usdt_recovered IS NOT NULL)),
  CHECK (resolution IS DISTINCT FROM 'written_off' OR (note IS NOT NULL AND note <> ''))
);
CREATE INDEX conversion_recoveries_open ON conversion_recoveries (opened_at) WHERE resolution IS NULL;

-- ---- holds keep their start ---------------------------------------------------------------

ALTER TABLE payout_group_holds ADD COLUMN held_since timestamptz;
UPDATE payout_group_holds SET held_since = evaluated_at;
ALTER TABLE payout_group_holds ALTER COLUMN held_since SET NOT NULL;

-- Kept by the database, so settlement's window (which upserts holds) need not know: a hold keeps
-- its start while its state stays the same, and restarts when the state changes.
CREATE FUNCTION keep_payout_hold_start() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.state = OLD.state THEN
    NEW.held_since := OLD.held_since;
  ELSIF TG_OP = 'UPDATE' OR NEW.held_since IS NULL THEN
    NEW.held_since := NEW.evaluated_at;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER payout_group_holds_held_since
  BEFORE INSERT OR UPDATE ON payout_group_holds
  FOR EACH ROW EXECUTE FUNCTION keep_payout_hold_start();

-- ---- findings and their alerts --------------------------------------------------------------

-- Every finding the liveness check has seen, by a stable id (`<kind>:<subject>`). An alert record
-- goes out (through the outbox, in the transaction that updates this row) when a finding appears,
-- again at most once per ALERT_REPEAT_INTERVAL while it stands, and once when it clears.
CREATE TABLE liveness_findings (
  finding_id       text PRIMARY KEY,
  kind             text NOT NULL,
  subject          text NOT NULL,
  severity         text NOT NULL CHECK (severity IN ('warning', 'critical')),
  detail           text NOT NULL,
  first_seen_at    timestamptz NOT NULL,
  last_seen_at     timestamptz NOT NULL,
  last_alerted_at  timestamptz NOT NULL,
  -- How many alert records were emitted for it; part of each alert's id, so a replay is deduped.
  alerts_emitted   integer NOT NULL CHECK (alerts_emitted >= 1),
  cleared_at       timestamptz
);
CREATE INDEX liveness_findings_open ON liveness_findings (kind) WHERE cleared_at IS NULL;
