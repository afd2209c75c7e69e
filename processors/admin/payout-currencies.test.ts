// Proves that every supported (currency, network) pair accepts real addresses of its format and
// refuses mistyped ones (a broken checksum included), other networks' addresses and testnets.
import { describe, expect, it } from 'vitest';
import { describeSupportedPairs, findPayoutPair, isValidWalletFor, payoutPairs } from './payout-currencies.ts';
import { isValidCashAddr } from './cashaddr.ts';

// Reference vectors (EIP-55, the CashAddr spec, BIP-86, Bitcoin's genesis, Monero's general fund)
// and addresses built from random keys with each format's own encoding and checksum.
const evm = {
  valid: ['0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359', '0x453C6665DbBE4c09b8C88b19A83b349E081121C0'],
  invalid: [
    '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD', // one letter's case flipped: wrong EIP-55 checksum
    '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed', // all lower case: no checksum at all
    '0x0000000000000000000000000000000000000000',
    '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA', // 38 hex digits
    '5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
    'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t',
  ],
};
const tron = {
  valid: ['TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t', 'TAgkDkMzfYhuHmMbW5GMHQRFrzkydL7uXf'],
  invalid: [
    'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u', // checksum
    'TafSwiK1VAoKZfLcvibSmmJc6oZndrqM3H', // valid base58check, version byte 0x42 instead of 0x41
    '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
    '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa',
  ],
};

const table: Record<string, { valid: readonly string[]; invalid: readonly string[] }> = {
  'xmr/xmr': {
    valid: [
      '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A',
      '4AAUTuTFbdpY3hMi7QJTzZ3pzg6pyEHqp23ELXujriEd1T4q2FqXtyFXY7AUhozXuCbeiGv5u7K5JCydaZDXikvL1zKo3cU',
      '89kwoAkpkvLKDU1MTzTk5fHYNab2aodduZAgCt1hxCXodwPZT6ZesKEDeGDqqYU34kbPgJPsR1fmV77hJJ3JuAjrRMUyB8F', // subaddress
      '4HYu89n4omNAh1TckZDGQ5EgviRaQYZqgQXY6SPFmreeAeLJzvWZKmxXZcJhsxzbLgCEuXBrbSdtYKrnimHYQBxxHwrLWgRk2EW4LvSbs1', // integrated
    ],
    invalid: [
      '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3B', // checksum
      '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3', // 94 characters
      'A22iDpHy9Ko8gjL5gt4SA2H8jsNKXAtHJ7GKsgZFC9CvaCyTUaPv42NJzrVXem64NjDveRhe3tim6JfNLzmdFb7LJWLJLVh', // testnet
      '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa',
    ],
  },
  'btc/btc': {
    valid: [
      '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa',
      '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy',
      'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq',
      'bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297',
    ],
    invalid: [
      '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb', // base58check checksum
      'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdw', // bech32 checksum
      'tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx', // testnet
      'Lh89FxFWm39S9K68XxdCsX877RuwMupXiw',
      '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
    ],
  },
  'ltc/ltc': {
    valid: ['Lh89FxFWm39S9K68XxdCsX877RuwMupXiw', 'MQUWFLoUe43CSQwsQCJgxra73b7zc5gWm8', 'ltc1qucfgk0p5sxuxt0ckx5n0jj27nwschp42x6wkj3'],
    invalid: ['Lh89FxFWm39S9K68XxdCsX877RuwMupXix', 'ltc1qucfgk0p5sxuxt0ckx5n0jj27nwschp42x6wkj4', '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa', 'D7uLMxRmQcXjXQP5ZSi5T8kVA75apXyJNb'],
  },
  'doge/doge': {
    valid: ['D7uLMxRmQcXjXQP5ZSi5T8kVA75apXyJNb', 'A2paSpeocXr4U4URuZUSEiLwh6k9FYRK8P'],
    invalid: ['D7uLMxRmQcXjXQP5ZSi5T8kVA75apXyJNc', '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa', 'Lh89FxFWm39S9K68XxdCsX877RuwMupXiw'],
  },
  'bch/bch': {
    valid: [
      'bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a',
      'qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a',
      'BITCOINCASH:QPM2QSZNHKS23Z7629MMS6S4CWEF74VCWVY22GDX6A',
      'bitcoincash:ppm2qsznhks23z7629mms6s4cwef74vcwvn0h829pq', // P2SH
      'bitcoincash:qr95sy3j9xwd2ap32xkykttr4cvcu7as4y0qverfuy',
      '1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu', // legacy
    ],
    invalid: [
      'qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6b', // checksum (the library alone would accept it)
      'bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6b',
      'bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvY22gdx6a', // mixed case
      'bchtest:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a',
      'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', // Bitcoin's bech32 does not exist on BCH
      '1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggv',
    ],
  },
  'eth/eth': evm,
  'usdt/eth': evm,
  'usdc/eth': evm,
  'usdt/trx': tron,
  'trx/trx': tron,
  'sol/sol': {
    valid: ['3KPzfMygzKcwVcmmKqxuTebd81JhXzbXhNmpgqyJjo7G', '34dUEYQwGLFCGwqpgBkKVqMYKTs9Ggk9RGpGMo2Zz3ao', 'DtczmkaAYgT17DWvYVBVwE7cMKhRSpWqWwzkxfHBg7iT'],
    invalid: [
      'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA', // the SPL Token program: well formed, but nobody can spend from it
      '4uC6vHKqmuGvASs1uqf8TSUApmFx75inHaNkY64Hqi9', // 31 bytes
      '2JoNyxNbsatCUXeq2mofrUN1ENGTTvHffP8WY6A5HYzCrf', // 33 bytes
      '3KPzfMygzKcwVcmmKqxuTebd81JhXzbXhNmpgqyJjo70', // '0' is not base58
      '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
    ],
  },
};

describe('the supported pairs', () => {
  it('are exactly the pairs of the validation table', () => {
    expect(payoutPairs.map((pair) => `${pair.currency}/${pair.network}`).sort()).toEqual(Object.keys(table).sort());
  });

  it('are listed in rejections', () => {
    expect(describeSupportedPairs()).toContain('usdt/trx');
  });

  it('do not include pairs the exchange is not asked to convert into', () => {
    expect(findPayoutPair('usdt', 'bsc')).toBeUndefined();
    expect(findPayoutPair('xmr', 'eth')).toBeUndefined();
  });
});

describe.each(Object.entries(table))('%s wallet addresses', (pairName, { valid, invalid }) => {
  const [currency = '', network = ''] = pairName.split('/');
  const pair = findPayoutPair(currency, network);

  it.each(valid)('accepts %s', (address) => {
    expect(pair).toBeDefined();
    expect(isValidWalletFor(pair!, address)).toBe(true);
  });

  it.each(invalid)('refuses %s', (address) => {
    expect(isValidWalletFor(pair!, address)).toBe(false);
  });

  it.each(['', ' ', `${valid[0] ?? ''} `, 'x'.repeat(200)])('refuses %j', (address) => {
    expect(isValidWalletFor(pair!, address)).toBe(false);
  });
});

describe('CashAddr', () => {
  it('catches every single-character substitution in an address', () => {
    const address = 'qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a';
    const charset = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
    for (let index = 0; index < address.length; index += 1) {
      for (const replacement of charset) {
        if (replacement === address[index]) continue;
        const mutated = `${address.slice(0, index)}${replacement}${address.slice(index + 1)}`;
        expect(isValidCashAddr(mutated), mutated).toBe(false);
      }
    }
  });
});
