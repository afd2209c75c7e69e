-- The chain connector never wedges: every signed transaction of a transfer is kept, and the node's
-- view of the host wallet's nonce is compared with the ledger's.
--
-- A transfer owns ONE nonce (chain_transfers' UNIQUE (sender_address, nonce)). Every transaction
-- ever signed for it — the original, fee bumps of the same payment, a zero-value self-transfer that
-- fills the nonce of a transaction the node refused — is an attempt at that nonce, stored here
-- BEFORE it is broadcast. The nonce makes at most one of them minable; storing each before sending
-- it means the watcher knows every hash that may be mined. The foreign key below ties each attempt
-- to the transfer that owns its nonce, so no other transfer's payment can ever share it.

ALTER TABLE chain_transfers ADD CONSTRAINT chain_transfers_sender_nonce_transfer UNIQUE (sender_address, nonce, transfer_id);

CREATE TABLE chain_transfer_attempts (
  tx_hash                       text PRIMARY KEY,
  transfer_id                   text NOT NULL,
  sender_address                text NOT NULL,
  nonce                         bigint NOT NULL CHECK (nonce >= 0),
  -- 1 for the original, then 2, 3, … in the order they were signed.
  attempt                       integer NOT NULL CHECK (attempt >= 1),
  -- original: the payment as first signed; fee_bump: the same payment at a higher fee;
  -- cancel: a zero-value transfer to the sender itself, so a refused payment frees its nonce.
  kind                          text NOT NULL CHECK (kind IN ('original', 'fee_bump', 'cancel')),
  raw_transaction               text NOT NULL,
  gas_limit                     numeric(78, 0) NOT NULL CHECK (gas_limit > 0),
  max_fee_per_gas_wei           numeric(78, 0) NOT NULL CHECK (max_fee_per_gas_wei > 0),
  max_priority_fee_per_gas_wei  numeric(78, 0) NOT NULL CHECK (max_priority_fee_per_gas_wei >= 0),
  -- Why it was signed: "requested", "pending for 180 s", "the node refused …".
  reason                        text NOT NULL,
  signed_at                     timestamptz NOT NULL,
  -- When the node first took it; NULL while it is stored but not sent (a crash in between).
  broadcast_at                  timestamptz,
  UNIQUE (transfer_id, attempt),
  CHECK ((attempt = 1) = (kind = 'original')),
  FOREIGN KEY (sender_address, nonce, transfer_id) REFERENCES chain_transfers (sender_address, nonce, transfer_id)
);

CREATE INDEX chain_transfer_attempts_transfer ON chain_transfer_attempts (transfer_id, attempt);

-- Transfers signed before this migration: their one transaction is their original attempt.
INSERT INTO chain_transfer_attempts
  (tx_hash, transfer_id, sender_address, nonce, attempt, kind, raw_transaction, gas_limit, max_fee_per_gas_wei,
   max_priority_fee_per_gas_wei, reason, signed_at, broadcast_at)
SELECT tx_hash, transfer_id, sender_address, nonce, 1, 'original', raw_transaction, gas_limit, max_fee_per_gas_wei,
       max_priority_fee_per_gas_wei, 'requested', signed_at, broadcast_at
FROM chain_transfers WHERE raw_transaction IS NOT NULL;

-- The chain this database's ledger belongs to, per chain id: recorded by the first chain connector
-- (or `npm start`) that talks to it. A node with the same chain id and another genesis block is
-- another chain (the local Hardhat chain restarted from nothing): nonces, balances and receipts in
-- the ledger mean nothing there.
CREATE TABLE chain_identities (
  chain_id            numeric(78, 0) PRIMARY KEY,
  genesis_block_hash  text NOT NULL,
  recorded_at         timestamptz NOT NULL
);

-- The chain connector's last comparison of the host wallet's nonce in the ledger with the node's
-- (eth_getTransactionCount latest and pending) and of the node's genesis block with
-- chain_identities', on every worker pass; written only when something changes. status:
--   in_step          the node's nonces are where the ledger expects them;
--   node_behind      the node lacks nonces the ledger used (a chain restarted or replaced): the
--                    connector signs and sends nothing until it is resolved;
--   node_ahead       the node has nonces the ledger never signed (someone else used the key);
--                    new transfers take the node's nonce, so nothing is blocked, but it is alerted;
--   chain_changed    the node's genesis block differs from chain_identities': as node_behind.
CREATE TABLE chain_nonce_status (
  sender_address      text PRIMARY KEY,
  status              text NOT NULL CHECK (status IN ('in_step', 'node_behind', 'node_ahead', 'chain_changed')),
  -- The ledger's next nonce and the lowest nonce of its unfinished signed transfers (NULL: none).
  ledger_next_nonce   bigint NOT NULL,
  ledger_open_nonce   bigint,
  node_mined_nonce    bigint NOT NULL,
  node_pending_nonce  bigint NOT NULL,
  -- How many nonces apart the node and the ledger are (0 when in step).
  gap                 bigint NOT NULL CHECK (gap >= 0),
  reason              text,
  -- When the current status began, and when the row last changed (nonces move with every transfer).
  since               timestamptz NOT NULL,
  checked_at          timestamptz NOT NULL,
  CHECK ((status = 'in_step') = (reason IS NULL))
);

-- For the reconciliation's liveness findings: every host wallet whose nonce is out of step.
CREATE VIEW chain_nonce_gaps AS
  SELECT sender_address, status, gap, ledger_next_nonce, ledger_open_nonce, node_mined_nonce, node_pending_nonce,
         reason, since, checked_at
  FROM chain_nonce_status WHERE status <> 'in_step';
