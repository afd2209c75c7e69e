// Proves the configuration reference is derived from the schema itself: every variable appears
// with its description, its format read from the schema's checks and its default; and that the
// staleness check names the variables that differ.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configSchema } from '../core/config.ts';
import { configVariablesOf, describeDifference, formatOf, renderConfigReference } from './config-reference.ts';

describe('configVariablesOf', () => {
  it('lists every variable of core/config.ts, each with a description', () => {
    const variables = configVariablesOf(configSchema);
    expect(variables.map(({ name }) => name)).toEqual(Object.keys(configSchema.shape));
    for (const { description } of variables) expect(description.length).toBeGreaterThan(10);
  });

  it('reads formats and defaults from the schema', () => {
    const byName = new Map(configVariablesOf(configSchema).map((variable) => [variable.name, variable]));
    expect(byName.get('KAFKA_PORT')).toMatchObject({ format: 'integer, ≥ 1, ≤ 65535', defaultText: '`9092`' });
    expect(byName.get('MICRO_BATCH_MAX_WAIT')).toMatchObject({ format: 'a duration such as 30s, 15m, 24h or 90d', defaultText: '`15m`' });
    expect(byName.get('STACK_MODE')?.format).toBe('one of `auto`, `external`, `docker`, `native`');
    expect(byName.get('DATABASE_URL')).toMatchObject({ format: 'postgres:// URL', defaultText: '—' });
    expect(byName.get('LIVENESS_CHECK_INTERVAL')?.format).toBe('`0`, or a duration such as 30s, 15m, 24h or 90d');
  });

  it('refuses a variable without a description', () => {
    expect(() => configVariablesOf(z.object({ UNDOCUMENTED: z.string().optional() }))).toThrow(/UNDOCUMENTED has no \.describe\(\)/);
  });

  it('refuses a schema type it cannot put in words', () => {
    expect(() => formatOf(z.boolean())).toThrow(/no format for a ZodBoolean/);
  });
});

describe('describeDifference', () => {
  const render = (description: string) =>
    renderConfigReference([{ name: 'SOME_PORT', format: 'integer', defaultText: '`1`', description }]);

  it('names a variable whose row changed, both ways', () => {
    expect(describeDifference(render('new text'), render('old text'))).toEqual([
      'missing or changed: SOME_PORT',
      'not in the schema or changed: SOME_PORT',
    ]);
  });

  it('finds nothing when the files are equal', () => {
    expect(describeDifference(render('same'), render('same'))).toEqual([]);
  });
});
