// Proves the operations files under ops/ against the code and Prometheus's own tool, without the
// stack: `promtool check rules` accepts ops/prometheus/alerts.yml and `promtool test rules` passes
// its unit tests (alerts.test.yml); every PromQL expression of the alert rules and of the Grafana
// dashboard (ops/grafana/payout-pipeline.json) reads only metric names the code registers, so
// neither can drift from what the processes export. promtool comes from Debian's `prometheus`
// package (.ci/run installs it); without it this test fails, it is never skipped.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { metricNamesOf, registeredMetrics } from './metric-names.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const rulesFile = join(root, 'ops/prometheus/alerts.yml');
const rulesTestFile = join(root, 'ops/prometheus/alerts.test.yml');
const dashboardFile = join(root, 'ops/grafana/payout-pipeline.json');

async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: root });
    return `${stdout}${stderr}`;
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT') {
      throw new Error('promtool is not installed: `apt-get install -y prometheus` (Debian) provides it; .ci/run installs it', { cause: error });
    }
    throw new Error(`promtool ${args.join(' ')} failed:\n${failure.stdout ?? ''}${failure.stderr ?? ''}`, { cause: error });
  }
}

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: { id: number; type: string; title: string; gridPos: unknown; targets?: { refId: string; expr: string }[] }[];
}

const rules = parse(readFileSync(rulesFile, 'utf8')) as RuleFile;
const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard;
const ruleExprs = rules.groups.flatMap((group) => group.rules.map((rule) => ({ where: `${group.name}/${rule.alert ?? rule.record ?? '?'}`, expr: rule.expr })));
const dashboardExprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: `${panel.title}/${target.refId}`, expr: target.expr })));

function sourceFilesOf(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name.startsWith('.') || ['node_modules', 'dist', 'test', 'bench', 'ops'].includes(entry.name)) return [];
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFilesOf(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('ops/prometheus/alerts.yml', () => {
  it('passes promtool check rules', { timeout: 30_000 }, async () => {
    expect(await promtool('check', 'rules', rulesFile)).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('passes its promtool unit tests (alerts.test.yml)', { timeout: 30_000 }, async () => {
    expect(await promtool('test', 'rules', rulesTestFile)).toMatch(/SUCCESS/);
  });

  it('tests every alert it defines', () => {
    const tested = new Set([...readFileSync(rulesTestFile, 'utf8').matchAll(/alertname: (\w+)/g)].map((match) => match[1]));
    expect(ruleExprs.map(({ where }) => where.split('/')[1]).filter((name) => !tested.has(name))).toEqual([]);
  });
});

describe('the metric names of ops/', () => {
  const registered = registeredMetrics(root);

  it('finds every metric constructor of the code (none is named by a computed string)', () => {
    const constructors = sourceFilesOf(root).reduce((count, file) => count + [...readFileSync(file, 'utf8').matchAll(/new (Counter|Gauge|Histogram|Summary)\b/g)].length, 0);
    expect(registered.constructors).toBe(constructors);
    expect(registered.names).toContain('payout_pipeline_consumer_lag');
    expect(registered.names).toContain('webhook_ipn_duration_seconds_bucket');
    expect(registered.names).toContain('process_cpu_seconds_total');
  });

  it('reads the metric names of a PromQL expression, not its functions, labels or keywords', () => {
    expect(metricNamesOf('histogram_quantile(0.99, sum by (le) (rate(webhook_ipn_duration_seconds_bucket{outcome!~"a|b"}[5m]))) > 1')).toEqual(['webhook_ipn_duration_seconds_bucket']);
    expect(metricNamesOf('accumulator_oldest_pending_seconds > 2 * accumulator_max_wait_seconds')).toEqual(['accumulator_max_wait_seconds', 'accumulator_oldest_pending_seconds']);
    expect(metricNamesOf('time() - x_timestamp_seconds > 300 and on (group) y unless ignoring(a, b) z')).toEqual(['x_timestamp_seconds', 'y', 'z']);
  });

  it('the alert rules read only metrics the code registers', () => {
    const unknown = ruleExprs.flatMap(({ where, expr }) => metricNamesOf(expr).filter((name) => !registered.names.has(name)).map((name) => `${where}: ${name}`));
    expect(unknown).toEqual([]);
    expect(ruleExprs.every(({ expr }) => metricNamesOf(expr).length > 0)).toBe(true);
  });

  it('the Grafana dashboard reads only metrics the code registers, and shows lag, dead letters, the webhook, pending USD, payouts and alert delivery', () => {
    const unknown = dashboardExprs.flatMap(({ where, expr }) => metricNamesOf(expr).filter((name) => !registered.names.has(name)).map((name) => `${where}: ${name}`));
    expect(unknown).toEqual([]);
    const shown = new Set(dashboardExprs.flatMap(({ expr }) => metricNamesOf(expr)));
    for (const name of ['payout_pipeline_consumer_lag', 'outbox_published_total', 'webhook_ipn_total', 'webhook_ipn_duration_seconds_bucket', 'accumulator_pending_usd', 'settlement_payout_batches_total', 'notifier_deliveries_total']) {
      expect(shown, name).toContain(name);
    }
  });

  it('the dashboard is importable: a uid, unique panel ids, a position and a reference id per query', () => {
    expect(dashboard.uid).toBe('payout-pipeline');
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos, panel.title).toBeDefined();
      if (panel.type !== 'row') expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      const refIds = (panel.targets ?? []).map((target) => target.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
    }
  });
});
