/**
 * The ops kit in deploy/ against the code: every metric the Grafana dashboard
 * (deploy/grafana/voice-mask-dashboard.json) and the Prometheus alert rules
 * (deploy/prometheus/voice-mask-rules.yml, and the series of their unit tests) name is one the
 * bridge's registry exports; the dashboard covers what operators watch and the rules alert on
 * what they must. With promtool installed (Debian's `prometheus` package; .ci/run installs it
 * and sets VOICEMASK_REQUIRE_PROMTOOL=1): `promtool check rules`, `promtool test rules`, and
 * every dashboard query checked as PromQL the same way.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { registry } from '../../../src/observability/metrics.js';
// The modules that register metrics of their own, if any, are loaded by the server's root.
import '../../../src/compose.js';

const DEPLOY = path.resolve('deploy');
const DASHBOARD = path.join(DEPLOY, 'grafana', 'voice-mask-dashboard.json');
const RULES = path.join(DEPLOY, 'prometheus', 'voice-mask-rules.yml');
const RULE_TESTS = path.join(DEPLOY, 'prometheus', 'voice-mask-rules.test.yml');

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; templating: { list: Array<{ definition?: string }> } };
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
/** Grafana's variables, as Prometheus would see them once Grafana filled them in. */
const filled = (expr: string) => expr.replace(/\$__rate_interval|\$__interval/g, '5m').replace(/\$\{?(\w+)\}?/g, '.*');
const dashboardExprs = panels.flatMap((p) => (p.targets ?? []).map((t) => filled(t.expr)));
const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ name: string; rules: Array<{ alert?: string; expr: string }> }> }).groups.flatMap((g) => g.rules);
const ruleTests = parse(readFileSync(RULE_TESTS, 'utf8')) as { tests: Array<{ input_series: Array<{ series: string }> }> };

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'Inf', 'NaN']);

/** The metric names a PromQL expression reads. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // label values
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\[[^\]]*\]/g, ' '); // ranges
  const out = new Set<string>();
  for (const m of bare.matchAll(/\d+(?:\.\d+)?(?:e[+-]?\d+)?|([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (name && !call && !KEYWORDS.has(name)) out.add(name);
  }
  return [...out];
}

/** Every series name the registry exports (histograms with _bucket, _sum and _count). */
async function exported(): Promise<Set<string>> {
  const names = new Set<string>(['up']); // Prometheus' own, per target
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name);
    // prom-client's JSON says the type as a string ('histogram'), whatever its typings say.
    const type = String(m.type as unknown);
    if (type === 'histogram' || type === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  return names;
}

describe('ops kit: the dashboard and the alert rules against the code', () => {
  it('reads only metrics the bridge exports', async () => {
    const have = await exported();
    const used = new Map<string, string>();
    for (const e of dashboardExprs) for (const n of metricNames(e)) used.set(n, `dashboard: ${e}`);
    for (const r of rules) for (const n of metricNames(r.expr)) used.set(n, `rule ${r.alert}: ${r.expr}`);
    for (const t of ruleTests.tests) for (const s of t.input_series) used.set(s.series.split('{')[0]!, `rule test series ${s.series}`);
    for (const v of dashboard.templating.list) for (const n of /label_values\((\w+)/.exec(v.definition ?? '')?.slice(1) ?? []) used.set(n, `variable: ${v.definition}`);
    expect(used.size).toBeGreaterThan(20);
    const missing = [...used].filter(([n]) => !have.has(n)).map(([n, where]) => `${n} (${where})`);
    expect(missing).toEqual([]);
  });

  it('the extractor finds metric names and nothing else', () => {
    expect(metricNames('histogram_quantile(0.9, sum by (le, line) (rate(voicemask_line_queue_wait_seconds_bucket{line=~".*",state="x"}[5m]))) > 120').sort()).toEqual(['voicemask_line_queue_wait_seconds_bucket']);
    expect(metricNames('sum(rate(a_total[5m])) / clamp_min(sum(rate(b_total[5m])), 1e-9) and on (instance) c == 1').sort()).toEqual(['a_total', 'b_total', 'c']);
  });

  it('the dashboard shows calls, queue waits, abandoned calls, dial outcomes, conversions and errors, the circuit, 429s, event-loop lag and the engine CPU', () => {
    const all = dashboardExprs.join('\n');
    for (const m of [
      'voicemask_calls_active',
      'voicemask_calls_started_total',
      'voicemask_call_errors_total',
      'voicemask_line_queue_wait_seconds_bucket',
      'voicemask_line_abandoned_total',
      'voicemask_line_dial_outcomes_total',
      'voicemask_conversions_total',
      'voicemask_circuit_open',
      'voicemask_elevenlabs_concurrency_429_total',
      'nodejs_eventloop_lag_p99_seconds',
      'voicemask_engine_cpu_seconds_total',
    ]) {
      expect(all, m).toContain(m);
    }
    expect(new Set(panels.map((p) => p.title)).size).toBe(panels.length);
  });

  it('the rules alert on an open circuit, long queue waits, error rates and event-loop lag', () => {
    const byAlert = new Map(rules.map((r) => [r.alert, r.expr]));
    expect(byAlert.get('VoiceMaskCircuitOpen')).toContain('voicemask_circuit_open');
    expect(byAlert.get('VoiceMaskQueueWaitHigh')).toContain('voicemask_line_queue_wait_seconds_bucket');
    expect(byAlert.get('VoiceMaskCallErrors')).toContain('voicemask_call_errors_total');
    expect(byAlert.get('VoiceMaskConversionErrors')).toContain('voicemask_conversions_total');
    expect(byAlert.get('VoiceMaskEventLoopLag')).toContain('nodejs_eventloop_lag_p99_seconds');
  });
});

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
const requirePromtool = process.env.VOICEMASK_REQUIRE_PROMTOOL === '1';
if (!promtool && !requirePromtool) console.warn('test/unit/deploy/ops-kit.test.ts: promtool is not installed: the promtool checks are skipped (apt-get install prometheus; CI installs it)');

describe.skipIf(!promtool && !requirePromtool)('ops kit: promtool', () => {
  const run = (args: string[], cwd = path.dirname(RULES)) => execFileSync('promtool', args, { cwd, encoding: 'utf8', stdio: 'pipe' });

  it('`promtool check rules` accepts the rules, and their unit tests pass', () => {
    expect(run(['check', 'rules', path.basename(RULES)])).toMatch(/SUCCESS: \d+ rules found/);
    expect(run(['test', 'rules', path.basename(RULE_TESTS)])).toMatch(/SUCCESS/);
  });

  it("every dashboard query is valid PromQL (checked as recording rules)", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dashboard-promql-'));
    const file = path.join(dir, 'dashboard.yml');
    const lines = ['groups:', '  - name: dashboard', '    rules:'];
    dashboardExprs.forEach((e, i) => lines.push(`      - record: dashboard:query_${i}`, `        expr: ${JSON.stringify(e)}`));
    writeFileSync(file, `${lines.join('\n')}\n`);
    expect(run(['check', 'rules', file], dir)).toMatch(new RegExp(`SUCCESS: ${dashboardExprs.length} rules found`));
  });
});
