// The local chain's well-known development accounts (Hardhat's default test mnemonic). They hold
// play money on a throw-away chain only; production keys come from HOST_WALLET_PRIVATE_KEY or
// HOST_WALLET_KEY_FILE and are never written anywhere.
import { getCreateAddress } from 'ethers';

export interface LocalAccount {
  readonly address: string;
  readonly privateKey: string;
}

/** Deploys the local USDT contract and owns it (mint, blacklist). */
export const localDeployer: LocalAccount = {
  address: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
  privateKey: '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
};

/** The platform's host wallet: receives ETH from payments, pays in to exchanges, receives USDT. */
export const localHostWallet: LocalAccount = {
  address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  privateKey: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
};

/** The ChangeNow simulator's hot wallet: pays out exchanges on the local chain. */
export const localExchangeWallet: LocalAccount = {
  address: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
  privateKey: '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
};

/** The deployer's first contract on a fresh chain: where the local USDT always lives. */
export const localUsdtAddress = getCreateAddress({ from: localDeployer.address, nonce: 0 });

export const localChainId = 31337n;
