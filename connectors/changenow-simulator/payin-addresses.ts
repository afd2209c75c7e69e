// A fresh pay-in address per exchange, like ChangeNow's: derived from the simulator's seed (BIP-32,
// on an account path of its own) by the exchange's sequence number, so a run is reproducible and no
// pay-in address is ever one of the local development accounts.
import { HDNodeWallet, Mnemonic } from 'ethers';

/** The simulator's seed: Hardhat's public test mnemonic, on account 7 (the dev accounts use account 0). */
const simulatorSeedPhrase = 'test test test test test test test test test test test junk';
const payinAccountPath = "m/44'/60'/7'/0";

export function createPayinAddresses(): (index: number) => string {
  const account = HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(simulatorSeedPhrase), payinAccountPath);
  return (index) => account.deriveChild(index).address;
}
