import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { loadTestEnv } from '../../config/test-env';
import { checkExposition, parseExposition } from '../helpers/exposition';
import { checkPrometheusConfig, checkPromql, repositoryQueries } from '../helpers/promql';

const ROOT = path.resolve(__dirname, '../..');

describe('checkPromql (Prometheus PromQL grammar)', () => {
  it('accepts the query shapes the dashboard uses', () => {
    for (const q of [
      'sum by (status) (rate(lantoa_deliveries_total[$__rate_interval]))',
      'histogram_quantile(0.95, sum by (le, endpoint) (rate(lantoa_graph_request_duration_seconds_bucket[5m])))',
      'max by (queue, state) (lantoa_queue_jobs{state=~"waiting|active"})',
      'min(lantoa_queue_up)',
      'max_over_time(lantoa_queue_up[1h:1m])',
    ]) {
      expect({ q, problems: checkPromql(q) }).toEqual({ q, problems: [] });
    }
  });

  it.each([
    ['unbalanced parenthesis', 'sum by (status) (rate(lantoa_deliveries_total[5m])', /syntax error/],
    ['unknown function', 'rates(lantoa_deliveries_total[5m])', /syntax error/],
    ['unterminated matcher', 'lantoa_queue_jobs{state="waiting"', /syntax error/],
    ['bad duration', 'rate(lantoa_deliveries_total[5x])', /syntax error/],
    ['dangling operator', 'lantoa_queue_up +', /syntax error/],
    ['empty', '', /syntax error/],
    ['instant vector where a range is needed', 'rate(lantoa_deliveries_total)', /rate\(\) needs a range vector/],
    ['unknown template variable', 'rate(lantoa_deliveries_total[$window])', /template variable \$window/],
  ])('rejects %s', (_, q, message) => {
    const problems = checkPromql(q);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toMatch(message);
  });

  it('finds queries in nested dashboard rows and in the rule files prometheus.yml lists', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-promql-'));
    try {
      fs.mkdirSync(path.join(root, 'config/grafana/dashboards'), { recursive: true });
      fs.mkdirSync(path.join(root, 'config/rules'));
      const dashboard = {
        panels: [
          { type: 'row', title: 'Row', panels: [{ title: 'Inner', targets: [{ expr: 'up' }] }] },
          { title: 'Top', targets: [{ expr: 'min(up)' }] },
        ],
      };
      fs.writeFileSync(path.join(root, 'config/grafana/dashboards/d.json'), JSON.stringify(dashboard));
      fs.writeFileSync(path.join(root, 'config/prometheus.yml'), 'rule_files: ["rules/*.yml"]\nscrape_configs: []\n');
      fs.writeFileSync(
        path.join(root, 'config/rules/a.yml'),
        'groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n',
      );
      expect(repositoryQueries(root)).toEqual([
        { source: 'config/grafana/dashboards/d.json: panel "Inner"', expr: 'up' },
        { source: 'config/grafana/dashboards/d.json: panel "Top"', expr: 'min(up)' },
        { source: 'config/rules/a.yml: group "g" rule "Down"', expr: 'up == 0' },
      ]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('checkExposition (text format 0.0.4 and promtool lint rules)', () => {
  it('accepts what prom-client emits, labelled histograms included, and keeps every series', async () => {
    const registry = new Registry();
    const h = new Histogram({
      name: 'demo_duration_seconds',
      help: 'Durations.',
      labelNames: ['endpoint'],
      buckets: [0.1, 1],
      registers: [registry],
    });
    h.observe({ endpoint: 'feed' }, 0.5);
    h.observe({ endpoint: 'feed' }, 5);
    h.observe({ endpoint: 'say "hi"\\\nnow' }, 0.05);
    new Counter({
      name: 'demo_events_total',
      help: 'Events with "quotes" and \\ backslash.',
      labelNames: ['kind'],
      registers: [registry],
    }).inc({ kind: 'a' }, 3);
    new Gauge({ name: 'demo_up', help: 'Up.', registers: [registry] }).set(1);
    new Summary({ name: 'demo_size_bytes', help: 'Sizes.', percentiles: [0.5], registers: [registry] }).observe(10);
    const text = await registry.metrics();

    expect(checkExposition(text)).toEqual([]);
    const families = parseExposition(text);
    expect(families.map((f) => [f.name, f.type])).toEqual([
      ['demo_duration_seconds', 'histogram'],
      ['demo_events_total', 'counter'],
      ['demo_up', 'gauge'],
      ['demo_size_bytes', 'summary'],
    ]);
    const hist = families[0]!.samples;
    expect(hist.filter((s) => s.name === 'demo_duration_seconds_count').map((s) => [s.labels.endpoint, s.value])).toEqual([
      ['feed', 2],
      ['say "hi"\\\nnow', 1],
    ]);
    expect(
      hist.find((s) => s.name === 'demo_duration_seconds_bucket' && s.labels.endpoint === 'feed' && s.labels.le === '+Inf')?.value,
    ).toBe(2);
    expect(families[1]!.help).toBe('Events with "quotes" and \\ backslash.');
  });

  const OK = '# HELP a_total A.\n# TYPE a_total counter\na_total{k="v"} 1\n';
  it.each([
    ['a value that is not a number', '# HELP a_total A.\n# TYPE a_total counter\na_total{k="v"} many\n', /not a number/],
    ['an unquoted label value', '# HELP a_total A.\n# TYPE a_total counter\na_total{k=v} 1\n', /expected ="…"/],
    ['an unterminated label set', '# HELP a_total A.\n# TYPE a_total counter\na_total{k="v" 1\n', /expected , or }/],
    ['an invalid metric name', '9a 1\n', /invalid metric name/],
    ['an unknown type', '# HELP a A.\n# TYPE a gaugee\na 1\n', /unknown type/],
    ['a second TYPE line', `${OK}# TYPE a_total counter\n`, /second TYPE|TYPE line for a_total after its samples/],
    ['a duplicate series', `${OK}a_total{k="v"} 2\n`, /duplicate series/],
    ['split families', `${OK}# HELP b B.\n# TYPE b gauge\nb 1\na_total{k="w"} 1\n`, /not together/],
    ['a missing final newline', OK.trimEnd(), /end with a newline/],
    ['a bad escape', '# HELP a_total A.\n# TYPE a_total counter\na_total{k="\\t"} 1\n', /invalid escape/],
    ['a counter without _total', '# HELP a A.\n# TYPE a counter\na 1\n', /"_total" suffix/],
    ['a gauge with _total', '# HELP a_total A.\n# TYPE a_total gauge\na_total 1\n', /non-counter/],
    ['no help text', '# TYPE a_total counter\na_total 1\n', /no help text/],
    ['camelCase', '# HELP aB_total A.\n# TYPE aB_total counter\naB_total 1\n', /snake_case/],
    ['a bucket without le', '# HELP h H.\n# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n', /no le label/],
    [
      'buckets that are not cumulative',
      '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n',
      /not cumulative/,
    ],
    [
      '+Inf that differs from _count',
      '# HELP h H.\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
      /differs from _count/,
    ],
    ['no +Inf bucket', '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_sum 1\nh_count 2\n', /no \+Inf bucket/],
  ])('rejects %s', (_, text, message) => {
    const problems = checkExposition(text);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toMatch(message);
  });
});

describe('checkPrometheusConfig', () => {
  const repo = fs.readFileSync(path.join(ROOT, 'config/prometheus.yml'), 'utf8');
  const job = (extra: string) => `scrape_configs:\n  - job_name: x\n${extra}`;

  it('accepts config/prometheus.yml', () => {
    expect(checkPrometheusConfig(repo)).toEqual([]);
  });

  it.each([
    ['broken YAML', 'global: [\n', /YAML/],
    ['an unknown top-level key', `${repo}\nscrape_config: []\n`, /unknown key "scrape_config"/],
    ['an unknown global key', 'global:\n  scrape_intervall: 15s\nscrape_configs:\n  - job_name: x\n', /unknown key "scrape_intervall"/],
    ['a bad duration', 'global:\n  scrape_interval: 15 seconds\nscrape_configs:\n  - job_name: x\n', /not a duration/],
    [
      'a timeout longer than the interval',
      'global:\n  scrape_interval: 5s\n  scrape_timeout: 10s\nscrape_configs:\n  - job_name: x\n',
      /longer than scrape_interval/,
    ],
    ['no scrape_configs', 'global:\n  scrape_interval: 15s\n', /scrape_configs/],
    ['a job without job_name', 'scrape_configs:\n  - metrics_path: /metrics\n', /job_name is required/],
    ['a duplicate job_name', 'scrape_configs:\n  - job_name: x\n  - job_name: x\n', /used twice/],
    ['a target that is not host:port', job('    static_configs:\n      - targets: ["http://api:3000"]\n'), /not host:port/],
    ['a DNS A lookup without a port', job('    dns_sd_configs:\n      - names: [worker]\n        type: A\n'), /port: required/],
    ['an unknown relabel action', job('    relabel_configs:\n      - action: rename\n        target_label: a\n'), /unknown action/],
    ['a metrics_path without /', job('    metrics_path: metrics\n'), /must start with \//],
  ])('rejects %s', (_, text, message) => {
    const problems = checkPrometheusConfig(text);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toMatch(message);
  });
});

describe('loadTestEnv', () => {
  it('reads the test switches; REQUIRE_PROMTOOL is 1 or 0', () => {
    expect(loadTestEnv({})).toMatchObject({ testDatabaseUrl: undefined, chromiumPath: undefined, requirePromtool: false });
    expect(loadTestEnv({ TEST_DATABASE_URL: 'postgres://p@h/db', CHROMIUM_PATH: '/opt/c', REQUIRE_PROMTOOL: '1' })).toMatchObject({
      testDatabaseUrl: 'postgres://p@h/db',
      chromiumPath: '/opt/c',
      requirePromtool: true,
    });
    expect(loadTestEnv({ REQUIRE_PROMTOOL: '0', CHROMIUM_PATH: '' })).toMatchObject({ requirePromtool: false, chromiumPath: undefined });
    expect(() => loadTestEnv({ REQUIRE_PROMTOOL: 'yes' })).toThrow(/REQUIRE_PROMTOOL must be 1 or 0 \(got "yes"\)/);
  });
});
