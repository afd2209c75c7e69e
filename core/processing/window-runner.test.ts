// A window evaluation that breaks an invariant stops the process (onFatal); any other failure is
// counted and left to the next trigger.
import { describe, expect, it } from 'vitest';
import { Histogram, Registry } from 'prom-client';
import { InvariantViolation } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { createWindowRunner } from './window-runner.ts';

function runnerThrowing(error: Error): { request(): Promise<void>; fatal: Error[]; failed: number[] } {
  const fatal: Error[] = [];
  const failed: number[] = [];
  const runner = createWindowRunner({
    evaluate: () => Promise.reject(error),
    onEvaluated: () => undefined,
    evaluationSeconds: new Histogram({ name: 'test_evaluation_seconds', help: 'test', registers: [new Registry()] }),
    onFailed: () => failed.push(1),
    onFatal: (violation) => fatal.push(violation),
    log: createLogger({ name: 'window-runner-test', level: 'silent' }),
  });
  return { request: () => runner.request(), fatal, failed };
}

describe('window runner', () => {
  it('stops the process on a broken invariant', async () => {
    const violation = new InvariantViolation('a window invariant holds');
    const runner = runnerThrowing(violation);
    await runner.request();
    expect(runner.fatal).toEqual([violation]);
    expect(runner.failed).toHaveLength(1);
  });

  it('leaves any other failure to the next trigger', async () => {
    const runner = runnerThrowing(new Error('the database went away'));
    await runner.request();
    expect(runner.fatal).toEqual([]);
    expect(runner.failed).toHaveLength(1);
  });
});
