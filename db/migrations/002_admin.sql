-- Admin API: payout destination changes waiting out the wallet-change cooldown, and an order for
-- the configuration audit trail.

-- One pending destination per client: the wallet address, currency and network that take over at
-- effective_at unless cancelled first. The clients table's pending_wallet_* columns mirror it only
-- for a wallet change on the same currency and network (all the Avro record can say); a change of
-- pair is applied by the admin process when due, as a new revision.
CREATE TABLE client_pending_destinations (
  client_id        text PRIMARY KEY REFERENCES clients (client_id),
  wallet_address   text NOT NULL,
  payout_currency  text NOT NULL,
  payout_network   text NOT NULL,
  requested_by     text NOT NULL,
  requested_at     timestamptz NOT NULL,
  effective_at     timestamptz NOT NULL,
  CHECK (effective_at >= requested_at)
);
CREATE INDEX client_pending_destinations_due ON client_pending_destinations (effective_at);
-- The cooldown sweep also finds pending wallets that reached the clients table from the topic only.
CREATE INDEX clients_pending_wallet_due ON clients (pending_wallet_effective_at) WHERE pending_wallet_effective_at IS NOT NULL;

-- changed_at alone does not order two changes made within the same millisecond (or under a test
-- clock); the audit's "old value" is the previous row's new value, so the order must be exact.
ALTER TABLE config_audit ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX config_audit_setting_seq ON config_audit (setting, seq);
