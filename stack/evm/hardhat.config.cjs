// Configuration of the local EVM (Hardhat's node), started by stack/evm/start-local-evm.ts, which
// passes the block interval and a per-stack directory through the environment. Hardhat only runs
// the node here: the USDT contract is compiled by stack/evm/build-usdt-artifact.ts and deployed
// over JSON-RPC, so no Solidity compiler is ever downloaded.
const path = require('node:path');

const blockIntervalMs = Number.parseInt(process.env.PAYOUT_EVM_BLOCK_INTERVAL_MS ?? '1000', 10);
const dataDirectory = process.env.PAYOUT_EVM_DATA_DIR ?? path.join(__dirname, '../../.cache/evm');

/** @type {import('hardhat/config').HardhatUserConfig} */
module.exports = {
  defaultNetwork: 'hardhat',
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: 'prague',
      // The default test mnemonic's accounts, each with 10,000 ETH (stack/evm/local-wallets.ts).
      accounts: { mnemonic: 'test test test test test test test test test test test junk', count: 20, accountsBalance: '10000000000000000000000' },
      // Every transaction is mined at once, and an empty block follows every interval so
      // confirmations accrue while nothing else happens.
      mining: { auto: true, interval: blockIntervalMs },
      // Like a real node: a reverting transaction is mined with status 0, and sending it succeeds
      // (Hardhat's default answers eth_sendRawTransaction with an error instead).
      throwOnTransactionFailures: false,
      // The node otherwise prints every JSON-RPC call.
      loggingEnabled: false,
    },
  },
  // The node watches the artifacts directory; keep it, and Hardhat's cache, out of the sources.
  paths: {
    sources: path.join(__dirname, 'contracts'),
    cache: path.join(dataDirectory, 'hardhat-cache'),
    artifacts: path.join(dataDirectory, 'hardhat-artifacts'),
  },
};
