// The metric names the code registers, read from the source, and the metric names a PromQL
// expression reads — so the alert rules and the Grafana dashboard under ops/ are checked against
// what the processes really export (ops/ops-files.test.ts) and cannot drift from it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';

const skippedFolders = new Set(['node_modules', 'dist', 'test', 'bench', 'ops']);

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name.startsWith('.')) return [];
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return skippedFolders.has(entry.name) ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** `new Counter({ name: '…'`, and the same for Gauge, Histogram and Summary, across lines. */
const constructorPattern = /new (Counter|Gauge|Histogram|Summary)(?:<[^>]*>)?\(\{\s*name: '([a-zA-Z_:][a-zA-Z0-9_:]*)'/g;

export interface RegisteredMetrics {
  /** Every series name a scrape can show: histogram and summary parts included. */
  readonly names: ReadonlySet<string>;
  /** How many metric constructors the scan found (a constructor it missed would leave this short). */
  readonly constructors: number;
}

/** What the project's processes export: their own metrics, prom-client's defaults, and Prometheus's `up`. */
export function registeredMetrics(root: string): RegisteredMetrics {
  const names = new Set<string>(['up']);
  let constructors = 0;
  for (const file of sourceFiles(root)) {
    for (const match of readFileSync(file, 'utf8').matchAll(constructorPattern)) {
      const [, kind, name] = match;
      if (name === undefined) continue;
      constructors += 1;
      names.add(name);
      if (kind === 'Histogram') for (const part of ['_bucket', '_sum', '_count']) names.add(`${name}${part}`);
      if (kind === 'Summary') for (const part of ['_sum', '_count']) names.add(`${name}${part}`);
    }
  }
  const defaults = new Registry();
  collectDefaultMetrics({ register: defaults });
  for (const metric of defaults.getMetricsAsArray()) {
    names.add(metric.name);
    for (const part of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${part}`);
  }
  return { names, constructors };
}

const keywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression selects (not its functions, labels, keywords or numbers). */
export function metricNamesOf(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values and strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery durations
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  const names = new Set<string>();
  // A whole identifier (not part of a number such as 1e3 or a template variable), not called.
  for (const match of stripped.matchAll(/(?<![a-zA-Z0-9_:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![a-zA-Z0-9_:])(?!\s*\()/g)) {
    const [, name] = match;
    if (name === undefined || keywords.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names].sort();
}
