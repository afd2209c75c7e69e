// The in-memory runtime persistence keeps the contract (runtime-persistence.contract.ts).
import { createMemoryRuntimePersistence } from './memory-runtime-persistence.ts';
import { describeRuntimePersistenceContract } from './runtime-persistence.contract.ts';

describeRuntimePersistenceContract('in memory', () => {
  const persistence = createMemoryRuntimePersistence();
  return {
    persistence,
    claimsOf: (consumer) => Promise.resolve(persistence.claimsOf(consumer)),
    outboxCount: (correlationId) =>
      Promise.resolve(persistence.outbox.filter((row) => (row.kind === 'record' ? row.record.correlationId : row.letter.correlationId) === correlationId).length),
  };
});
