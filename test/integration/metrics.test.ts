import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testDatabases } from '../helpers/databases';
import { checkExposition } from '../helpers/exposition';
import { checkPrometheusConfig, checkPromql, repositoryQueries, ruleFiles } from '../helpers/promql';
import { promtool } from '../helpers/promtool';
import { seedOrganisation, startTestStack, UNITS_TEXT, waitFor, type TestStack } from '../helpers/stack';
import { startMetricsServer } from '../../src/metrics/metrics-server';

const ROOT = path.resolve(__dirname, '../..');
const PROVINCE = '01'; // Hà Nội: 127 units

/**
 * The exposition, the Grafana queries and config/prometheus.yml are checked without promtool (strict
 * parser, Prometheus's PromQL grammar, a structural config check: helpers/exposition.ts, promql.ts),
 * and also with promtool where it is installed (helpers/promtool.ts; REQUIRE_PROMTOOL=1 makes it mandatory).
 */
function expectValidExposition(exposition: string) {
  expect(checkExposition(exposition)).toEqual([]);
  const pt = promtool();
  if (pt) expect(pt.run(['check', 'metrics'], exposition)).toEqual({ status: 0, output: '' });
}

/** Value of one sample line, e.g. `lantoa_deliveries_total{status="published",reason="none"}`. */
function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Prometheus metrics after a real fan-out', () => {
  let s: TestStack;
  let exposition = '';

  beforeAll(async () => {
    s = await startTestStack(testDatabases()[0]!, 'metrics');
    await seedOrganisation(s, UNITS_TEXT);
  });
  afterAll(() => s?.dispose());

  it('exposes deliveries, Graph durations, throttles, queue depth and fan-out timings in a valid exposition', async () => {
    const units = await s.deps.targets.resolve({ unit: PROVINCE, scope: 'subtree' } as never);
    const [noPage, failing, throttled] = [units[1]!, units[2]!, units[3]!];
    await s.deps.store.db.deleteFrom('pages').where('unit_code', '=', noPage.code).execute();
    s.sim.addFaults([
      { kind: 'error', endpoint: 'feed', pageId: failing.pageId!, code: 100, count: 5 },
      { kind: 'error', endpoint: 'feed', pageId: throttled.pageId!, code: 4, count: 1 },
    ]);
    const editor = s.admin.withKey((await s.admin.createKey({ name: 'editor', role: 'editor', unit: 'root' })).key);
    const approver = s.admin.withKey((await s.admin.createKey({ name: 'approver', role: 'approver', unit: 'root' })).key);
    const post = await editor.createPost({ message: 'Đo lường: bài kiểm tra chỉ số', target: { unit: PROVINCE, scope: 'subtree' } });
    await approver.approve(post.id);

    // An app-level throttle (code 4) pauses the whole queue for the throttle window; lift it once seen.
    const row = () =>
      s.deps.store.db
        .selectFrom('deliveries')
        .select(['id', 'status', 'reason'])
        .where('post_id', '=', post.id)
        .where('unit_code', '=', throttled.code)
        .executeTakeFirst();
    await waitFor(
      async () => (await row())?.reason === 'app_rate_limited' && (await s.deps.queues.deliveries.getRateLimitTtl(100_000)) > 0,
      30_000,
    );
    await s.deps.queues.deliveries.removeRateLimitKey();

    const done = await waitFor(async () => {
      const p = await editor.getPost(post.id);
      return ['published', 'partially_failed', 'failed'].includes(p.status) && p;
    }, 60_000);
    expect(done.status).toBe('partially_failed');
    const published = units.length - 2;
    expect(done.counts).toMatchObject({ published, failed: 1, skipped: 1 });

    const scrape = async () => {
      const res = await fetch(`${s.apiUrl}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return res.text();
    };
    // The post timing is read from the store after `post.finished`: wait for it to land.
    const text = await waitFor(async () => {
      const t = await scrape();
      return sample(t, 'lantoa_post_duration_seconds_count{status="partially_failed"}') === 1 && t;
    }, 10_000);

    exposition = text;
    expectValidExposition(text);

    expect(sample(text, `lantoa_deliveries_total{status="published",reason="none"}`)).toBe(published);
    expect(sample(text, `lantoa_deliveries_total{status="failed",reason="invalid_parameter"}`)).toBe(1);
    expect(sample(text, `lantoa_deliveries_total{status="skipped",reason="no_page"}`)).toBe(1);
    expect(sample(text, `lantoa_throttle_events_total{reason="app_rate_limited"}`)).toBe(1);
    expect(sample(text, `lantoa_delivery_retries_total{reason="app_rate_limited",throttled="true"}`)).toBe(1);
    expect(sample(text, `lantoa_graph_request_duration_seconds_count{endpoint="feed",outcome="ok"}`)).toBe(published);
    expect(sample(text, `lantoa_graph_request_duration_seconds_count{endpoint="feed",outcome="graph_error"}`)).toBe(2);
    expect(sample(text, 'lantoa_fanout_duration_seconds_count')).toBe(1);
    expect(sample(text, 'lantoa_fanout_deliveries_sum')).toBe(units.length);
    expect(sample(text, `lantoa_posts_finished_total{status="partially_failed"}`)).toBe(1);
    expect(sample(text, 'lantoa_queue_up')).toBe(1);
    for (const queue of ['fanout', 'deliveries', 'webhooks']) {
      expect(sample(text, `lantoa_queue_jobs{queue="${queue}",state="waiting"}`)).toBe(0);
    }
    expect(sample(text, `lantoa_queue_jobs{queue="deliveries",state="completed"}`)).toBeGreaterThanOrEqual(published);
    expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(text).not.toContain(s.adminKey);
  });

  it('serves the same registry from the worker listener, behind METRICS_TOKEN when set', async () => {
    const token = 'metrics-token-0123456789';
    const server = await startMetricsServer(s.deps.metrics, { port: 0, host: '127.0.0.1', token });
    try {
      expect((await fetch(server.url)).status).toBe(401);
      expect((await fetch(server.url, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
      expect((await fetch(server.url.replace('/metrics', '/other'), { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
      const res = await fetch(server.url, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('lantoa_deliveries_total');
      expectValidExposition(text);
    } finally {
      await server.close();
    }
  });

  it('every Grafana and rule-file query parses as PromQL and uses only metrics that exist', () => {
    const queries = repositoryQueries(ROOT);
    expect(queries.filter((q) => q.source.startsWith('config/grafana/')).length).toBeGreaterThan(10);
    const bad = queries.map((q) => ({ ...q, problems: checkPromql(q.expr) })).filter((q) => q.problems.length > 0);
    expect(bad).toEqual([]);

    const pt = promtool();
    if (pt) {
      // promtool checks rule files: the dashboard's queries become recording rules of a temp one.
      const exprs = queries.filter((q) => q.source.startsWith('config/grafana/')).map((q) => q.expr.replaceAll('$__rate_interval', '1m'));
      const rules = { groups: [{ name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }] };
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-rules-'));
      try {
        const file = path.join(dir, 'rules.yml');
        fs.writeFileSync(file, JSON.stringify(rules)); // JSON is YAML
        for (const f of [file, ...ruleFiles(ROOT)]) {
          const r = pt.run(['check', 'rules', f]);
          expect({ file: path.basename(f), status: r.status, out: r.output }).toEqual({
            file: path.basename(f),
            status: 0,
            out: expect.stringContaining('SUCCESS'),
          });
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }

    const names = new Set(queries.flatMap((q) => q.expr.match(/\b(?:lantoa|process|nodejs)_[a-z0-9_]+/g) ?? []));
    // Declared by a TYPE line (a labelled counter without samples yet has no sample line).
    const declared = (name: string) => exposition.includes(`# TYPE ${name.replace(/_(bucket|count|sum)$/, '')} `);
    for (const name of names) expect({ name, declared: declared(name) }).toEqual({ name, declared: true });
  });

  it('config/prometheus.yml is a valid Prometheus configuration', () => {
    const file = path.join(ROOT, 'config/prometheus.yml');
    expect(checkPrometheusConfig(fs.readFileSync(file, 'utf8'))).toEqual([]);
    for (const rules of ruleFiles(ROOT)) expect({ rules, exists: fs.existsSync(rules) }).toEqual({ rules, exists: true });
    const pt = promtool();
    if (pt) {
      const r = pt.run(['check', 'config', file]);
      expect({ status: r.status, out: r.output }).toEqual({ status: 0, out: expect.stringContaining('SUCCESS') });
    }
  });
});

describe('GET /metrics with METRICS_TOKEN set', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack(testDatabases()[0]!, 'metrics-token', { workers: false, env: { METRICS_TOKEN: 'scrape-secret-0123456789' } });
  });
  afterAll(() => s?.dispose());

  it('answers 401 without the token and the exposition with it', async () => {
    const denied = await s.app.inject({ method: 'GET', url: '/metrics' });
    expect(denied.statusCode).toBe(401);
    expect(denied.json().error.code).toBe('UNAUTHENTICATED');
    expect((await s.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${s.adminKey}` } })).statusCode).toBe(
      401,
    );
    const ok = await s.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer scrape-secret-0123456789' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('# TYPE lantoa_queue_jobs gauge');
  });
});
