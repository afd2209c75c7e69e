-- Correctly signed IPNs the webhook could not accept. NOWPayments signed them, so each may be money
-- that arrived: it is kept here for an operator instead of being refused and forgotten. One row per
-- signed body (body_sha256 of its canonical, signed text); the same body again only bumps the
-- counter. An operator resolves a row by reinjecting a corrected body (through the webhook's own
-- validation and intake, so the payment_id dedupe applies) or by dismissing it with a reason.
CREATE TABLE ipn_quarantine (
  quarantine_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  body_sha256        text NOT NULL UNIQUE CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
  body               text NOT NULL,
  -- Read from the body only when it has the shape of a NOWPayments id; for searching, never trusted.
  payment_id         text CHECK (payment_id ~ '^[0-9]{1,20}$'),
  reason_field       text NOT NULL,
  reason_rule        text NOT NULL,
  problems           jsonb NOT NULL,
  correlation_id     text NOT NULL,
  first_received_at  timestamptz NOT NULL,
  last_received_at   timestamptz NOT NULL,
  times_received     integer NOT NULL DEFAULT 1 CHECK (times_received >= 1),
  state              text NOT NULL DEFAULT 'held' CHECK (state IN ('held', 'reinjected', 'dismissed')),
  resolved_by        text,
  resolved_at        timestamptz,
  resolution_note    text,
  -- What was reinjected (the corrected body) and what the intake made of it.
  reinjected_body    text,
  reinjected_payment_id text,
  reinject_outcome   text CHECK (reinject_outcome IN ('produced', 'duplicate', 'recorded')),
  CHECK (last_received_at >= first_received_at),
  CHECK ((state = 'held') = (resolved_by IS NULL AND resolved_at IS NULL)),
  CHECK (state <> 'dismissed' OR resolution_note IS NOT NULL),
  CHECK ((state = 'reinjected') = (reinjected_body IS NOT NULL AND reinject_outcome IS NOT NULL AND reinjected_payment_id IS NOT NULL))
);
CREATE INDEX ipn_quarantine_held ON ipn_quarantine (first_received_at) WHERE state = 'held';
CREATE INDEX ipn_quarantine_payment ON ipn_quarantine (payment_id);
