// Puts the local USDT on a fresh local chain: the deployer's first transaction creates the
// contract, so it always lives at localUsdtAddress (the default USDT_CONTRACT_ADDRESS), and the
// exchange simulator's hot wallet receives the supply it pays out from.
import { Contract, ContractFactory, Wallet } from 'ethers';
import { createEvmProvider } from './evm-provider.ts';
import { InvariantViolation, PipelineError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { loadLocalUsdtArtifact } from './local-usdt-artifact.ts';
import { localDeployer, localExchangeWallet, localUsdtAddress } from './local-wallets.ts';

/** 10,000,000 USDT in base units (6 decimals): far more than any test or demo pays out. */
export const exchangeWalletUsdtSupply = 10_000_000n * 10n ** 6n;

export async function deployLocalUsdt(rpcUrl: string, log: Logger): Promise<void> {
  const provider = createEvmProvider(rpcUrl);
  try {
    const deployer = new Wallet(localDeployer.privateKey, provider);
    const nonce = await provider.getTransactionCount(localDeployer.address, 'latest');
    if (nonce !== 0) {
      throw new PipelineError(`The local chain is not fresh: the deployer already sent ${nonce} transaction(s), so USDT would not land at ${localUsdtAddress}`, {
        context: { rpcUrl, nonce },
      });
    }
    const artifact = await loadLocalUsdtArtifact();
    const factory = new ContractFactory(artifact.abi as string[], artifact.bytecode, deployer);
    const deployed = await factory.deploy(localDeployer.address, { nonce: 0 });
    await deployed.waitForDeployment();
    const address = await deployed.getAddress();
    if (address !== localUsdtAddress) {
      throw new InvariantViolation('the local USDT was deployed at an unexpected address', { address, expected: localUsdtAddress });
    }
    const usdt = new Contract(address, artifact.abi as string[], deployer);
    const mint = usdt.getFunction('mint');
    const receipt = await (await mint.send(localExchangeWallet.address, exchangeWalletUsdtSupply, { nonce: 1 })).wait();
    if (receipt?.status !== 1) throw new PipelineError('Minting the local USDT supply failed', { context: { rpcUrl } });
    log.info({ usdt: address, exchangeWallet: localExchangeWallet.address, supplyBaseUnits: exchangeWalletUsdtSupply.toString() }, 'Local USDT deployed');
  } finally {
    provider.destroy();
  }
}
