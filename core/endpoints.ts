// Where the pipeline's dependencies listen, as the runtime needs them. Defined in core so the
// runtime does not depend on the local stack; the stack's endpoints module resolves them from the
// configuration (the environment, or the local stack's ports).
import type { BasicAuth, KafkaSecurity } from './kafka/kafka-security.ts';

export interface StackEndpoints {
  readonly kafkaBrokers: readonly string[];
  /** SASL and TLS of every Kafka client (none for the local stack); holds the password, never log it. */
  readonly kafkaSecurity: KafkaSecurity;
  readonly schemaRegistryUrl: string;
  /** Basic auth of the registry, when it requires it; holds the password, never log it. */
  readonly schemaRegistryAuth?: BasicAuth;
  readonly databaseUrl: string;
  /** JSON-RPC of the EVM node (the local Hardhat node unless EVM_RPC_URL is set). */
  readonly evmRpcUrl: string;
  /** The ERC-20 USDT contract (6 decimals); the local stack deploys its own. */
  readonly usdtContractAddress: string;
  /** ChangeNow's API root (the local simulator unless CHANGENOW_API_URL is set). */
  readonly changeNowApiUrl: string;
}
