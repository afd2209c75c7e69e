-- Keyset pagination of the admin's list endpoints (processors/admin/list-store.ts): each list is
-- read newest first by (time, id), from just after the cursor's key; these indexes make a page an
-- index range scan at any depth.
CREATE INDEX payout_batches_created ON payout_batches (created_at, batch_id);
CREATE INDEX payout_batches_client_created ON payout_batches (client_id, created_at, batch_id);
CREATE INDEX conversion_batches_created ON conversion_batches (created_at, batch_id);
CREATE INDEX liveness_findings_first_seen ON liveness_findings (first_seen_at, finding_id);
-- A statement for a date range reads a client's payments by paid_at.
CREATE INDEX payment_ledger_client_paid ON payment_ledger (client_id, paid_at, payment_id);
