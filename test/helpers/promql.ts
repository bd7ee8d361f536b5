import fs from 'node:fs';
import path from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import YAML from 'yaml';

/**
 * Checks of the repository's PromQL and Prometheus configuration that need no `promtool`: queries are
 * parsed with Prometheus's own PromQL grammar (the lezer grammar its web UI uses), and
 * config/prometheus.yml is checked structurally. promtool, where installed, still runs the real checks.
 */

export interface PromqlQuery {
  /** Where it is, e.g. `config/grafana/dashboards/lantoa.json: panel "Deliveries"`. */
  readonly source: string;
  readonly expr: string;
}

// Grafana's built-in interval variables; a query with any other `$variable` cannot be checked here.
const GRAFANA_INTERVALS = /\$(?:__rate_interval|__interval|__range)\b|\$\{(?:__rate_interval|__interval|__range)\}/g;

// Functions whose (range) argument must be a range vector: `rate(x)` parses but promtool rejects it.
const RANGE_FUNCTIONS = new Set([
  'rate',
  'irate',
  'increase',
  'delta',
  'idelta',
  'deriv',
  'changes',
  'resets',
  'predict_linear',
  'holt_winters',
  'double_exponential_smoothing',
  'absent_over_time',
  'present_over_time',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'sum_over_time',
  'count_over_time',
  'quantile_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'last_over_time',
  'first_over_time',
  'mad_over_time',
]);

/** Problems with one PromQL expression (empty when it parses and passes the range-vector check). */
export function checkPromql(expr: string): string[] {
  const problems: string[] = [];
  const leftover = expr.replace(GRAFANA_INTERVALS, '').match(/\$\{?\w+\}?/);
  if (leftover) return [`uses the template variable ${leftover[0]}, which this check cannot expand`];
  const text = expr.replace(GRAFANA_INTERVALS, '5m');
  const tree = parser.parse(text);
  tree.iterate({
    enter(node) {
      if (node.type.isError) {
        problems.push(`syntax error at ${node.from} (near "${text.slice(Math.max(0, node.from - 10), node.from + 10)}")`);
        return false;
      }
      if (node.name === 'FunctionCall') {
        const ident = node.node.getChild('FunctionIdentifier');
        const body = node.node.getChild('FunctionCallBody');
        const fn = ident ? text.slice(ident.from, ident.to) : '';
        if (RANGE_FUNCTIONS.has(fn) && body) {
          const args: string[] = [];
          for (let c = body.firstChild; c; c = c.nextSibling) args.push(c.name);
          if (!args.some((a) => a === 'MatrixSelector' || a === 'SubqueryExpr')) {
            problems.push(`${fn}() needs a range vector argument, e.g. ${fn}(x[5m])`);
          }
        }
      }
      return undefined;
    },
  });
  if (problems.length === 0 && tree.length !== text.length) problems.push('the parse did not cover the whole expression');
  return problems;
}

function walkExprs(value: unknown, where: string, out: PromqlQuery[]): void {
  if (Array.isArray(value)) {
    for (const v of value) walkExprs(v, where, out);
  } else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const here = typeof o.title === 'string' && Array.isArray(o.targets) ? `${where}: panel "${o.title}"` : where;
    if (typeof o.expr === 'string') out.push({ source: here, expr: o.expr });
    for (const [k, v] of Object.entries(o)) if (k !== 'expr') walkExprs(v, here, out);
  }
}

/**
 * Every PromQL query the repository ships: each `expr` in the Grafana dashboards (any nesting: rows,
 * panels, targets) and each rule of the Prometheus rule files that config/prometheus.yml names.
 */
export function repositoryQueries(root: string): PromqlQuery[] {
  const out: PromqlQuery[] = [];
  const dashboards = path.join(root, 'config/grafana/dashboards');
  for (const file of fs
    .readdirSync(dashboards)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    walkExprs(JSON.parse(fs.readFileSync(path.join(dashboards, file), 'utf8')), `config/grafana/dashboards/${file}`, out);
  }
  for (const file of ruleFiles(root)) {
    const rel = path.relative(root, file);
    const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as {
      groups?: Array<{ name?: string; rules?: Array<{ record?: string; alert?: string; expr?: unknown }> }>;
    };
    for (const g of doc?.groups ?? []) {
      for (const r of g.rules ?? []) {
        out.push({ source: `${rel}: group "${g.name}" rule "${r.record ?? r.alert}"`, expr: String(r.expr ?? '') });
      }
    }
  }
  return out;
}

/** The rule files config/prometheus.yml lists (`rule_files`, paths relative to it; `*` globs in the file name). */
export function ruleFiles(root: string): string[] {
  const configFile = path.join(root, 'config/prometheus.yml');
  const config = YAML.parse(fs.readFileSync(configFile, 'utf8')) as { rule_files?: string[] };
  return (config.rule_files ?? []).flatMap((pattern) => {
    const full = path.resolve(path.dirname(configFile), pattern);
    if (!full.includes('*')) return [full];
    const dir = path.dirname(full);
    const re = new RegExp(
      `^${path
        .basename(full)
        .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
        .replaceAll('*', '.*')}$`,
    );
    return fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((f) => re.test(f))
          .sort()
          .map((f) => path.join(dir, f))
      : [];
  });
}

// The keys Prometheus accepts in the parts of its configuration this repository uses (it rejects
// unknown keys: `field x not found in type config.plain`).
const KEYS = {
  top: [
    'global',
    'scrape_configs',
    'scrape_config_files',
    'rule_files',
    'alerting',
    'remote_write',
    'remote_read',
    'storage',
    'tracing',
    'runtime',
    'otlp',
  ],
  global: [
    'scrape_interval',
    'scrape_timeout',
    'scrape_protocols',
    'evaluation_interval',
    'rule_query_offset',
    'external_labels',
    'query_log_file',
    'scrape_failure_log_file',
    'body_size_limit',
    'sample_limit',
    'label_limit',
    'label_name_length_limit',
    'label_value_length_limit',
    'target_limit',
    'keep_dropped_targets',
    'metric_name_validation_scheme',
    'metric_name_escaping_scheme',
    'always_scrape_classic_histograms',
    'convert_classic_histograms_to_nhcb',
  ],
  scrape: [
    'job_name',
    'honor_labels',
    'honor_timestamps',
    'track_timestamps_staleness',
    'scrape_interval',
    'scrape_timeout',
    'scrape_protocols',
    'metrics_path',
    'scheme',
    'params',
    'basic_auth',
    'authorization',
    'oauth2',
    'follow_redirects',
    'enable_http2',
    'tls_config',
    'proxy_url',
    'no_proxy',
    'proxy_from_environment',
    'proxy_connect_header',
    'static_configs',
    'dns_sd_configs',
    'file_sd_configs',
    'http_sd_configs',
    'relabel_configs',
    'metric_relabel_configs',
    'body_size_limit',
    'sample_limit',
    'label_limit',
    'label_name_length_limit',
    'label_value_length_limit',
    'target_limit',
    'keep_dropped_targets',
    'enable_compression',
    'fallback_scrape_protocol',
    'scrape_classic_histograms',
    'always_scrape_classic_histograms',
    'convert_classic_histograms_to_nhcb',
    'native_histogram_bucket_limit',
    'native_histogram_min_bucket_factor',
    'metric_name_validation_scheme',
    'metric_name_escaping_scheme',
    'scrape_failure_log_file',
  ],
  static: ['targets', 'labels'],
  dns: ['names', 'type', 'port', 'refresh_interval'],
  relabel: ['source_labels', 'separator', 'target_label', 'regex', 'modulus', 'replacement', 'action'],
  authorization: ['type', 'credentials', 'credentials_file'],
};
const DURATION = /^(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?$/;
const UNIT_MS: Record<string, number> = { y: 365 * 86_400_000, w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const RELABEL_ACTIONS = new Set([
  'replace',
  'lowercase',
  'uppercase',
  'keep',
  'drop',
  'keepequal',
  'dropequal',
  'hashmod',
  'labelmap',
  'labeldrop',
  'labelkeep',
]);

function durationMs(d: string): number {
  let ms = 0;
  for (const [, n, unit] of d.matchAll(/(\d+)(ms|y|w|d|h|m|s)/g)) ms += Number(n) * UNIT_MS[unit!]!;
  return ms;
}

/** Structural problems of a Prometheus configuration file (what `promtool check config` would refuse). */
export function checkPrometheusConfig(text: string): string[] {
  const problems: string[] = [];
  const doc = YAML.parseDocument(text);
  if (doc.errors.length) return doc.errors.map((e) => `YAML: ${e.message}`);
  const config = doc.toJS() as Record<string, unknown> | null;
  if (!config || typeof config !== 'object' || Array.isArray(config)) return ['the file is not a YAML mapping'];
  const isMap = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  const known = (where: string, v: unknown, keys: readonly string[]) => {
    if (!isMap(v)) return problems.push(`${where}: expected a mapping`);
    for (const k of Object.keys(v)) if (!keys.includes(k)) problems.push(`${where}: unknown key "${k}"`);
    return 0;
  };
  const duration = (where: string, v: unknown) => {
    if (v === undefined) return;
    if (typeof v !== 'string' || v === '' || !DURATION.test(v)) problems.push(`${where}: "${String(v)}" is not a duration like 15s`);
  };
  known('top level', config, KEYS.top);
  const global = (config.global ?? {}) as Record<string, unknown>;
  known('global', global, KEYS.global);
  for (const k of ['scrape_interval', 'scrape_timeout', 'evaluation_interval']) duration(`global.${k}`, global[k]);
  const globalInterval = typeof global.scrape_interval === 'string' ? global.scrape_interval : '1m';
  const globalTimeout = typeof global.scrape_timeout === 'string' ? global.scrape_timeout : '10s';
  if (durationMs(globalTimeout) > durationMs(globalInterval)) {
    problems.push(`global: scrape_timeout ${globalTimeout} is longer than scrape_interval ${globalInterval}`);
  }
  if (config.rule_files !== undefined && !(Array.isArray(config.rule_files) && config.rule_files.every((f) => typeof f === 'string'))) {
    problems.push('rule_files: expected a list of file names');
  }

  const jobs = config.scrape_configs;
  if (!Array.isArray(jobs) || jobs.length === 0) {
    problems.push('scrape_configs: expected a non-empty list');
    return problems;
  }
  const names = new Set<string>();
  jobs.forEach((job: unknown, i) => {
    const where = `scrape_configs[${i}]`;
    if (known(where, job, KEYS.scrape)) return;
    const j = job as Record<string, unknown>;
    if (typeof j.job_name !== 'string' || j.job_name === '') problems.push(`${where}: job_name is required`);
    else if (names.has(j.job_name)) problems.push(`${where}: job_name "${j.job_name}" is used twice`);
    else names.add(j.job_name);
    duration(`${where}.scrape_interval`, j.scrape_interval);
    duration(`${where}.scrape_timeout`, j.scrape_timeout);
    const interval = typeof j.scrape_interval === 'string' ? j.scrape_interval : globalInterval;
    const timeout = typeof j.scrape_timeout === 'string' ? j.scrape_timeout : globalTimeout;
    if (durationMs(timeout) > durationMs(interval)) {
      problems.push(`${where}: scrape_timeout ${timeout} is longer than scrape_interval ${interval}`);
    }
    if (j.metrics_path !== undefined && (typeof j.metrics_path !== 'string' || !j.metrics_path.startsWith('/'))) {
      problems.push(`${where}.metrics_path: must start with /`);
    }
    if (j.scheme !== undefined && j.scheme !== 'http' && j.scheme !== 'https') problems.push(`${where}.scheme: must be http or https`);
    if (j.authorization !== undefined) known(`${where}.authorization`, j.authorization, KEYS.authorization);
    const list = (key: string, keys: readonly string[], each: (v: Record<string, unknown>, w: string) => void) => {
      const v = j[key];
      if (v === undefined) return;
      if (!Array.isArray(v)) return void problems.push(`${where}.${key}: expected a list`);
      v.forEach((item: unknown, k) => {
        const w = `${where}.${key}[${k}]`;
        if (!known(w, item, keys)) each(item as Record<string, unknown>, w);
      });
    };
    list('static_configs', KEYS.static, (s, w) => {
      if (!Array.isArray(s.targets)) return void problems.push(`${w}.targets: expected a list of host:port`);
      for (const t of s.targets) {
        if (typeof t !== 'string' || !/^[^\s/:]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/.test(t)) {
          problems.push(`${w}.targets: "${String(t)}" is not host:port`);
        }
      }
      if (s.labels !== undefined && (!isMap(s.labels) || Object.values(s.labels).some((v) => typeof v !== 'string'))) {
        problems.push(`${w}.labels: expected a mapping of strings`);
      }
    });
    list('dns_sd_configs', KEYS.dns, (d, w) => {
      if (!Array.isArray(d.names) || d.names.length === 0 || d.names.some((n) => typeof n !== 'string')) {
        problems.push(`${w}.names: expected a non-empty list of names`);
      }
      const type = d.type ?? 'SRV';
      if (!['SRV', 'A', 'AAAA', 'MX', 'NS'].includes(String(type))) {
        problems.push(`${w}.type: "${String(type)}" is not SRV, A, AAAA, MX or NS`);
      }
      if (type !== 'SRV' && type !== 'NS' && !(Number.isInteger(d.port) && (d.port as number) > 0 && (d.port as number) < 65536)) {
        problems.push(`${w}.port: required for type ${String(type)}`);
      }
      duration(`${w}.refresh_interval`, d.refresh_interval);
    });
    for (const key of ['relabel_configs', 'metric_relabel_configs']) {
      list(key, KEYS.relabel, (r, w) => {
        const action = String(r.action ?? 'replace');
        if (!RELABEL_ACTIONS.has(action)) problems.push(`${w}.action: unknown action "${action}"`);
        if (['replace', 'hashmod', 'lowercase', 'uppercase'].includes(action) && typeof r.target_label !== 'string') {
          problems.push(`${w}: action ${action} needs target_label`);
        }
        if (r.regex !== undefined) {
          try {
            new RegExp(String(r.regex));
          } catch {
            problems.push(`${w}.regex: does not compile`);
          }
        }
      });
    }
  });
  return problems;
}
