// Where the pipeline's dependencies listen, as the runtime needs them. Defined in core so the
// runtime does not depend on the local stack; the stack's endpoints module resolves them from the
// configuration (the environment, or the local stack's ports).
export interface StackEndpoints {
  readonly kafkaBrokers: readonly string[];
  readonly schemaRegistryUrl: string;
  readonly databaseUrl: string;
  /** JSON-RPC of the EVM node (the local Hardhat node unless EVM_RPC_URL is set). */
  readonly evmRpcUrl: string;
  /** The ERC-20 USDT contract (6 decimals); the local stack deploys its own. */
  readonly usdtContractAddress: string;
  /** ChangeNow's API root (the local simulator unless CHANGENOW_API_URL is set). */
  readonly changeNowApiUrl: string;
}
