// Proves the signed bytes are what the connector stores and sends: signing the same transfer twice
// yields the same bytes and hash (so a re-sign could never go unnoticed as "another" transaction),
// the hash is the one the chain will report, the token call pays the recipient, and only the
// token's own Transfer event to the recipient counts as delivery. Also: chain events carry
// deterministic ids and encode with the registered schema.
import { describe, expect, it } from 'vitest';
import { getAddress, keccak256, Transaction, zeroPadValue } from 'ethers';
import { encodeAvroValue, decodeAvroValue } from '../../schemas/avro-codec.ts';
import { valueTypeOf } from '../../schemas/value-types.ts';
import { localHostWallet, localUsdtAddress } from '../../stack/evm/local-wallets.ts';
import { broadcastEvent, chainEventIdOf, confirmedEvent, droppedEvent, failedEvent } from './chain-events.ts';
import { createTransferSigner, erc20Interface, hasTransferLog, transferCallOf } from './transfer-transaction.ts';

const recipient = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';

describe('transfer transactions', () => {
  const signer = createTransferSigner(localHostWallet.privateKey);
  const unsigned = {
    chainId: 31337n,
    nonce: 42n,
    call: transferCallOf('USDT', recipient.toLowerCase(), 1_500_000n, localUsdtAddress),
    gasLimit: 60_000n,
    maxFeePerGasWei: 2_000_000_000n,
    maxPriorityFeePerGasWei: 1_000_000_000n,
  };

  it('signs deterministically, with the hash of the stored bytes', async () => {
    const first = await signer.sign(unsigned);
    const second = await signer.sign(unsigned);
    expect(second).toEqual(first);
    expect(first.hash).toBe(keccak256(first.rawTransaction));
    const parsed = Transaction.from(first.rawTransaction);
    expect(parsed.from).toBe(localHostWallet.address);
    expect(parsed.nonce).toBe(42);
    expect(parsed.type).toBe(2);
    expect(parsed.to).toBe(localUsdtAddress);
    expect(parsed.value).toBe(0n);
    expect(erc20Interface.decodeFunctionData('transfer', parsed.data).toArray()).toEqual([recipient, 1_500_000n]);
  });

  it('sends ETH as the value to the recipient itself', () => {
    expect(transferCallOf('ETH', recipient.toLowerCase(), 5n, localUsdtAddress)).toEqual({ to: recipient, value: 5n, data: '0x' });
  });

  it('counts only the token contract Transfer(host → recipient, amount) as delivery', () => {
    const topic = erc20Interface.getEvent('Transfer')?.topicHash ?? '';
    const log = {
      address: localUsdtAddress.toLowerCase(),
      topics: [topic, zeroPadValue(localHostWallet.address, 32), zeroPadValue(recipient, 32)],
      data: `0x${(1_500_000n).toString(16).padStart(64, '0')}`,
    };
    expect(hasTransferLog([log], localUsdtAddress, localHostWallet.address, recipient, 1_500_000n)).toBe(true);
    expect(hasTransferLog([log], localUsdtAddress, localHostWallet.address, recipient, 1_500_001n)).toBe(false);
    expect(hasTransferLog([{ ...log, address: getAddress(recipient) }], localUsdtAddress, localHostWallet.address, recipient, 1_500_000n)).toBe(false);
    expect(hasTransferLog([], localUsdtAddress, localHostWallet.address, recipient, 1_500_000n)).toBe(false);
  });
});

describe('chain events', () => {
  const subject = { transferId: 'cmd-1:payin', commandId: 'cmd-1', correlationId: 'corr-1', txHash: `0x${'cd'.repeat(32)}`, nonce: 3n };
  const now = new Date('2026-11-21T10:00:00Z');
  const receipt = { blockNumber: 12n, blockHash: `0x${'ab'.repeat(32)}`, succeeded: true, delivered: true, gasUsed: 21_000n, effectiveGasPriceWei: 1_000_000_007n };

  it('ids are the transfer, the type and the occurrence; records are keyed by transfer id', () => {
    expect(broadcastEvent(subject, now).value.event_id).toBe('cmd-1:payin:BROADCAST:1');
    expect(droppedEvent(subject, 2, 'gone', now).value.event_id).toBe(chainEventIdOf('cmd-1:payin', 'DROPPED', 2));
    expect(confirmedEvent(subject, receipt, now)).toMatchObject({ key: 'cmd-1:payin', correlationId: 'corr-1', topic: 'chain-events' });
  });

  it('encode and decode with the chain-event schema, gas as exact integers', () => {
    for (const record of [broadcastEvent(subject, now), confirmedEvent(subject, receipt, now), failedEvent(subject, 'insufficient ETH: …', now)]) {
      const type = valueTypeOf('chain-event');
      expect(decodeAvroValue(type, encodeAvroValue(type, record.value, 'chain-event'), 'chain-event')).toEqual(record.value);
    }
    expect(confirmedEvent(subject, receipt, now).value).toMatchObject({ block_number: 12, nonce: 3, gas_used: 21_000n, effective_gas_price_wei: 1_000_000_007n });
  });
});
