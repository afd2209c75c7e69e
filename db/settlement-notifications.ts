// The PostgreSQL notification channel from the admin API to settlement: the admin NOTIFYs it in the
// transaction that records an operator's payout trigger or retry request (delivered on commit), and
// settlement LISTENs on it to act within milliseconds instead of at its next punctuation.
export const settlementRequestsChannel = 'settlement_requests';
