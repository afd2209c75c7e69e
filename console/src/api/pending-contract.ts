// TEMPORARY: the bodies of the routes the `live` branch adds (console-contract), as the contract
// states them, used only while those paths are missing from the generated admin-api.ts. Deleted
// once that branch is merged and its OpenAPI entries generate the real types.
export interface PendingContract {
  '/api/overview': {
    at: string;
    micro_batch: { pending_usd: string; threshold_usd: string; pending_payments: number; oldest_pending_at: string | null; max_wait_seconds: number; flush_in_seconds: number | null };
    conversions_in_flight: { batch_id: string; state: string; stage: string; since: string; amount_usd: string }[];
    payouts_in_flight: { batch_id: string; client_id: string; state: string; stage: string; since: string; amount: string; currency: string }[];
    volume_today: { payments: number; usd: string };
    open_alerts: { id: string; kind: string; severity: string; since: string; summary: string }[];
    consumer_lag: { group: string; topic: string; lag: string }[];
    dead_letters: { topic: string; not_replayed: string }[];
    host_wallet: { address: string; eth: string; usdt: string; low_eth: string; low_usdt: string } | null;
  };
  '/api/dead-letters/{topic}/records': {
    items: { partition: number; offset: string; timestamp: string; key: string | null; headers: Record<string, string>; value: unknown; raw_base64: string | null; decode_error: string | null; replayed: boolean }[];
    next_cursor: string | null;
  };
  '/api/replays/{id}': { replay_id: string; topic: string; state: 'running' | 'done' | 'failed'; total: number; replayed: number; error: string | null };
  '/api/consumer-groups/{group}/offset-reset': { group: string; topic: string; partitions: { partition: number; current: string; target: string; delta: string }[]; confirm_token: string };
}
