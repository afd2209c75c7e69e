-- Indexes for GET /api/clients/:clientId/balance (the admin's loadClientBalance), so a client's
-- balance reads only that client's rows, whatever the size of the ledger. Without them, over 10^6
-- ledger rows, two of its queries scanned a whole table per request (bench/balance-query.ts
-- --without-indexes shows the plans). Each index serves one query, named below; the other queries
-- already had theirs (clients' primary key, payout_group_holds' primary key, payout_batches_client,
-- usdt_credits_unpaid for unpaid_credit_states).

-- The balance's totals: sum of usdt_amount over ALL of a client's credits, paid and unpaid. The
-- only client_id index on usdt_credits (usdt_credits_unpaid) is partial on unpaid credits, and
-- paid credits are most of the table, so the planner scanned usdt_credits whole. With the two
-- columns the query reads as INCLUDEd payload, it is an index-only scan of the client's entries.
CREATE INDEX usdt_credits_client_totals ON usdt_credits (client_id) INCLUDE (usdt_amount, paid_out_at);

-- The balance's "returned from a failed conversion" count: EXISTS a released membership for each
-- of the client's pending payments. payment_id is the second column of the primary key and the
-- only index leading with it (conversion_batch_members_one_live) covers live memberships only, so
-- the EXISTS became a scan of the whole members table. Released rows are few (failed conversions
-- only), so this partial index stays small.
CREATE INDEX conversion_batch_members_released ON conversion_batch_members (payment_id) WHERE released_at IS NOT NULL;

-- The balance's unconverted and needs-recovery queries filter the client's ledger rows by state;
-- payment_ledger_client finds all of the client's payments (most of them converted long ago) and
-- fetches each from the heap to test its state. These states are the small, moving part of the
-- ledger (payments leave them within a micro-batch window), so the partial index stays small and
-- the queries touch only the rows they count.
CREATE INDEX payment_ledger_client_unconverted ON payment_ledger (client_id)
  WHERE state IN ('pending_conversion', 'swapping', 'needs_recovery');
