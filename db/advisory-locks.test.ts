// Proves the advisory-lock keys without a database: every lock of the pipeline has its own key, a
// name always gives the same key, and the locks whose keys existed before this module kept them (so
// the migration lock still excludes an older starter). That SQL computes the same key as JS is
// proved against PostgreSQL in advisory-locks.int.test.ts.
import { describe, expect, it } from 'vitest';
import {
  advisoryLockKey,
  chainSenderLock,
  clientLock,
  globalWindowLock,
  livenessCheckLock,
  migrationsLock,
  outboxRelayLock,
  paymentLock,
  settlementLock,
  swapCommandLock,
  thresholdLock,
} from './advisory-locks.ts';

const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;

describe('advisory lock keys', () => {
  const keys = {
    globalWindow: globalWindowLock(),
    settlement: settlementLock(),
    client: clientLock('-1001'),
    otherClient: clientLock('-1002'),
    payment: paymentLock('-1001'),
    threshold: thresholdLock(),
    livenessCheck: livenessCheckLock(),
    swapCommand: swapCommandLock('-1001'),
    otherSwapCommand: swapCommandLock('-1002'),
    chainSender: chainSenderLock('0x00000000000000000000000000000000000000aa'),
    outboxRelay: outboxRelayLock(),
    migrations: migrationsLock(),
  };

  it('differ between distinct locks, a client and a payment with the same id included', () => {
    expect(new Set(Object.values(keys)).size).toBe(Object.keys(keys).length);
  });

  it('are the same for the same name, and signed 64-bit integers', () => {
    expect(clientLock('-1001')).toBe(keys.client);
    expect(settlementLock()).toBe(keys.settlement);
    expect(advisoryLockKey('client:-1001')).toBe(keys.client);
    for (const key of Object.values(keys)) {
      expect(key >= int64Min && key <= int64Max).toBe(true);
    }
  });

  it('name one sender whatever the case of its address', () => {
    expect(chainSenderLock('0xABCDEF0000000000000000000000000000000001')).toBe(chainSenderLock('0xabcdef0000000000000000000000000000000001'));
  });

  it('kept the keys the settlement, global-window, chain-sender and migration locks had before', () => {
    // Computed by the code these locks had before db/advisory-locks.ts (sha256 of the same names):
    // a process of the previous version and one of this version still exclude each other on them.
    expect(migrationsLock()).toBe(-3050051865770219267n);
    expect(settlementLock()).toBe(286112906401969267n);
    expect(globalWindowLock()).toBe(-1593260375873183821n);
    expect(chainSenderLock('0x00000000000000000000000000000000000000AA')).toBe(-5356337906239342434n);
  });
});
