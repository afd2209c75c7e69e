// The PostgreSQL notification channel that links the router to the accumulator: the router
// notifies it in the transaction that adds pending-conversion rows (delivered on commit), and the
// accumulator LISTENs on it to evaluate the global window within milliseconds.
export const ledgerPendingChannel = 'ledger_pending';
