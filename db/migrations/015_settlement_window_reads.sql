-- The per-client window reads free credits per payout group: their totals (sum, count, oldest) for
-- a bounded number of groups, oldest first, and the credits of the groups it pays, oldest first
-- (processors/settlement/payout-window-store.ts). This index holds exactly the candidates (unpaid,
-- in no live payout batch) in group order and then credit order, with the amount, so both reads
-- walk it instead of every unpaid credit. (A credit of a failed batch waiting for its retry is in
-- it too; the view unpaid_credit_states still tells those apart.) payout_batch_id is included,
-- although always NULL here, because the view reads it: with it the reads need no table rows.
CREATE INDEX usdt_credits_window_free ON usdt_credits (client_id, wallet_address, payout_currency, payout_network, credited_at, credit_id)
  INCLUDE (usdt_amount, payout_batch_id)
  WHERE paid_out_at IS NULL AND payout_batch_id IS NULL;
