-- "Failed and not retried yet" in one place. A failed payout batch keeps its credits for its retry
-- until the retry batch is formed (retry_of points back at it); settlement's window, its due-retry
-- read, the balance's free groups and its open batches all ask that same question, so they read
-- these two views instead of each restating the NOT EXISTS.
CREATE VIEW payout_batches_awaiting_retry AS
  SELECT b.*
  FROM payout_batches b
  WHERE b.state = 'failed' AND NOT EXISTS (SELECT 1 FROM payout_batches r WHERE r.retry_of = b.batch_id);

-- The credits those batches hold. A credit of such a batch is held only while it is unpaid and in
-- no live batch; unpaid_credit_states applies that, and the balance filters usdt_credits the same way.
CREATE VIEW credits_held_for_retry AS
  SELECT m.credit_id, b.client_id, b.batch_id, b.created_at AS batch_created_at
  FROM payout_batch_members m JOIN payout_batches_awaiting_retry b ON b.batch_id = m.payout_batch_id;

CREATE OR REPLACE VIEW unpaid_credit_states AS
  SELECT c.credit_id, c.client_id, c.payment_id, c.conversion_batch_id, c.usdt_amount, c.wallet_address, c.payout_currency,
         c.payout_network, c.credited_at, c.payout_batch_id,
         held.batch_id AS held_by_batch_id,
         CASE WHEN c.payout_batch_id IS NOT NULL THEN 'in_flight'
              WHEN held.batch_id IS NOT NULL THEN 'held_for_retry'
              ELSE 'free' END AS window_state
  FROM usdt_credits c
  LEFT JOIN LATERAL (
    SELECT h.batch_id FROM credits_held_for_retry h WHERE h.credit_id = c.credit_id
    ORDER BY h.batch_created_at DESC, h.batch_id
    LIMIT 1
  ) held ON true
  WHERE c.paid_out_at IS NULL;
