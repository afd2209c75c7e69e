// The PostgreSQL notification channels from the admin API to settlement: the admin NOTIFYs one in
// the transaction that records an operator's request (delivered on commit), and settlement LISTENs
// to act within milliseconds instead of at its next punctuation.
/** A payout trigger ("pay this client now", payout_trigger_requests): the window evaluates. */
export const settlementRequestsChannel = 'settlement_requests';
/** A retry request (payout_retry_requests): settlement schedules the batch's retry, then the window forms it. */
export const payoutRetryRequestsChannel = 'payout_retry_requests';
