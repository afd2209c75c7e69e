-- The chain connector: on-chain transfers from the host wallet, at most one per transfer_id.
--
-- A transfer moves requested → signed → broadcast → confirmed | reverted | replaced, or
-- requested → failed when it is refused before anything is signed. The signed raw transaction,
-- its hash and its nonce are stored in the same transaction that allocates the nonce, BEFORE the
-- transaction is broadcast: after a crash the same bytes are sent again, never a second signature.
-- Amounts are base units (wei, USDT 10^-6) as NUMERIC(78, 0): a uint256 always fits.

-- The next nonce each sender address may use, advanced in the transaction that stores a signed
-- transfer. The node's pending nonce can be ahead of it (the wallet was used elsewhere): the larger
-- of the two is taken.
CREATE TABLE chain_senders (
  sender_address  text PRIMARY KEY,
  next_nonce      bigint NOT NULL CHECK (next_nonce >= 0),
  updated_at      timestamptz NOT NULL
);

CREATE TABLE chain_transfers (
  transfer_id                   text PRIMARY KEY,
  command_id                    text NOT NULL,
  asset                         text NOT NULL CHECK (asset IN ('ETH', 'USDT')),
  to_address                    text NOT NULL,
  amount_base_units             numeric(78, 0) NOT NULL CHECK (amount_base_units > 0),
  state                         text NOT NULL CHECK (state IN (
                                  'requested', 'signed', 'broadcast', 'confirmed', 'reverted', 'replaced', 'failed')),
  correlation_id                text NOT NULL,
  requested_at                  timestamptz NOT NULL,
  received_at                   timestamptz NOT NULL,
  -- Set together when signed.
  sender_address                text,
  nonce                         bigint CHECK (nonce >= 0),
  gas_limit                     numeric(78, 0) CHECK (gas_limit > 0),
  max_fee_per_gas_wei           numeric(78, 0) CHECK (max_fee_per_gas_wei > 0),
  max_priority_fee_per_gas_wei  numeric(78, 0) CHECK (max_priority_fee_per_gas_wei >= 0),
  raw_transaction               text,
  tx_hash                       text UNIQUE,
  signed_at                     timestamptz,
  -- When the node first accepted it, and when it last knew it (pending or mined) or it was last
  -- re-sent: a broadcast transaction unknown for CHAIN_DROPPED_AFTER since then is dropped.
  broadcast_at                  timestamptz,
  last_seen_at                  timestamptz,
  broadcast_attempts            integer NOT NULL DEFAULT 0 CHECK (broadcast_attempts >= 0),
  drop_count                    integer NOT NULL DEFAULT 0 CHECK (drop_count >= 0),
  -- The block it was mined in, as last observed (cleared again if a reorganisation removes it).
  block_number                  bigint,
  block_hash                    text,
  gas_used                      numeric(78, 0),
  effective_gas_price_wei       numeric(78, 0),
  -- Why a transfer that is not finished is not moving (fee above the cap, the node refusing the
  -- broadcast): visible to operators, cleared once it moves.
  waiting_reason                text,
  failure_reason                text,
  finished_at                   timestamptz,
  updated_at                    timestamptz NOT NULL,
  UNIQUE (sender_address, nonce),
  CHECK ((state IN ('requested', 'failed')) = (raw_transaction IS NULL)),
  CHECK ((raw_transaction IS NULL) = (tx_hash IS NULL)
     AND (raw_transaction IS NULL) = (nonce IS NULL)
     AND (raw_transaction IS NULL) = (sender_address IS NULL)
     AND (raw_transaction IS NULL) = (signed_at IS NULL)),
  CHECK (state NOT IN ('broadcast', 'confirmed', 'reverted') OR broadcast_at IS NOT NULL),
  CHECK (state NOT IN ('confirmed', 'reverted')
         OR (block_number IS NOT NULL AND gas_used IS NOT NULL AND effective_gas_price_wei IS NOT NULL)),
  CHECK ((state IN ('confirmed', 'reverted', 'replaced', 'failed')) = (finished_at IS NOT NULL)),
  CHECK (state NOT IN ('failed', 'reverted', 'replaced') OR failure_reason IS NOT NULL)
);

-- The worker's queue: transfers that are not finished, oldest first.
CREATE INDEX chain_transfers_open ON chain_transfers (received_at, transfer_id)
  WHERE state IN ('requested', 'signed', 'broadcast');
CREATE INDEX chain_transfers_command ON chain_transfers (command_id);
