/**
 * A strict parser of the Prometheus text exposition format 0.0.4 (what prom-client serves), plus the
 * main lint rules of `promtool check metrics`. It lets the metrics test check an exposition where
 * promtool is not installed. It is stricter than promtool in three ways, each a real fault that
 * Prometheus's scraper or OpenMetrics rejects: duplicate series, a family's lines split apart, and
 * histogram buckets that are not cumulative or whose +Inf differs from _count. (parse-prometheus-text-format
 * was tried: it accepts values like `many` and merges the series of a labelled histogram, losing
 * their labels, _sum and _count.)
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestamp?: number;
}

export interface MetricFamily {
  readonly name: string;
  type: MetricType;
  help: string | undefined;
  readonly samples: Sample[];
}

export class ExpositionError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'ExpositionError';
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
// What Go's strconv.ParseFloat accepts in practice (decimal forms, Inf, NaN).
const FLOAT = /^[+-]?(?:inf(?:inity)?|nan|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)$/i;
const SUFFIXES: Record<'histogram' | 'summary', readonly string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

function parseFloatStrict(text: string, line: number, what: string): number {
  if (!FLOAT.test(text)) throw new ExpositionError(line, `${what} "${text}" is not a number`);
  const lower = text.toLowerCase().replace(/^\+/, '');
  if (lower === 'nan' || lower === '-nan') return Number.NaN;
  if (/^-inf/.test(lower)) return Number.NEGATIVE_INFINITY;
  if (/^inf/.test(lower)) return Number.POSITIVE_INFINITY;
  return Number(text);
}

/** `name{a="1",b="x\"y"} 1.5 1700000000000` → its parts; throws on anything malformed. */
function parseSampleLine(text: string, line: number): Sample {
  let i = 0;
  while (i < text.length && /[a-zA-Z0-9_:]/.test(text[i]!)) i++;
  const name = text.slice(0, i);
  if (!METRIC_NAME.test(name)) throw new ExpositionError(line, `invalid metric name "${name}"`);
  const labels: Record<string, string> = {};
  if (text[i] === '{') {
    i++;
    for (;;) {
      while (text[i] === ' ') i++;
      if (text[i] === '}') break;
      const start = i;
      while (i < text.length && /[a-zA-Z0-9_]/.test(text[i]!)) i++;
      const label = text.slice(start, i);
      if (!LABEL_NAME.test(label)) throw new ExpositionError(line, `invalid label name "${label}" in ${name}`);
      if (label in labels) throw new ExpositionError(line, `label ${label} repeated in ${name}`);
      while (text[i] === ' ') i++;
      if (text[i] !== '=' || text[i + 1] !== '"') throw new ExpositionError(line, `expected ="…" after label ${label} in ${name}`);
      i += 2;
      let value = '';
      for (;;) {
        const c = text[i];
        if (c === undefined) throw new ExpositionError(line, `unterminated value of label ${label} in ${name}`);
        i++;
        if (c === '"') break;
        if (c === '\\') {
          const e = text[i++];
          if (e === 'n') value += '\n';
          else if (e === '\\' || e === '"') value += e;
          else throw new ExpositionError(line, `invalid escape \\${e ?? ''} in label ${label} of ${name}`);
        } else value += c;
      }
      labels[label] = value;
      while (text[i] === ' ') i++;
      if (text[i] === ',') i++;
      else if (text[i] !== '}') throw new ExpositionError(line, `expected , or } after label ${label} in ${name}`);
    }
    i++;
  }
  if (text[i] !== ' ' && text[i] !== '\t') throw new ExpositionError(line, `expected a space and a value after ${name}`);
  const rest = text
    .slice(i)
    .trim()
    .split(/[ \t]+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') {
    throw new ExpositionError(line, `expected "value [timestamp]" after ${name}, got "${text.slice(i).trim()}"`);
  }
  const value = parseFloatStrict(rest[0]!, line, `value of ${name}`);
  let timestamp: number | undefined;
  if (rest[1] !== undefined) {
    if (!/^-?\d+$/.test(rest[1])) throw new ExpositionError(line, `timestamp "${rest[1]}" of ${name} is not an integer`);
    timestamp = Number(rest[1]);
  }
  return timestamp === undefined ? { name, labels, value } : { name, labels, value, timestamp };
}

function unescapeHelp(text: string, line: number): string {
  return text.replace(/\\(.?)/g, (_, e: string) => {
    if (e === 'n') return '\n';
    if (e === '\\') return '\\';
    throw new ExpositionError(line, `invalid escape \\${e} in HELP`);
  });
}

/** Parses a whole exposition; throws ExpositionError naming the first bad line. */
export function parseExposition(text: string): MetricFamily[] {
  const families = new Map<string, MetricFamily>();
  const closed = new Set<string>();
  const typed = new Set<string>();
  let current: MetricFamily | undefined;
  const enter = (family: MetricFamily, line: number) => {
    if (current === family) return;
    if (closed.has(family.name)) throw new ExpositionError(line, `the lines of ${family.name} are not together`);
    if (current) closed.add(current.name);
    current = family;
  };
  const familyNamed = (name: string): MetricFamily => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: 'untyped', help: undefined, samples: [] }));
    return f;
  };
  const ownerOf = (sample: string): MetricFamily => {
    for (const type of ['histogram', 'summary'] as const) {
      for (const suffix of SUFFIXES[type]) {
        if (!sample.endsWith(suffix)) continue;
        const f = families.get(sample.slice(0, -suffix.length));
        if (f?.type === type) return f;
      }
    }
    return familyNamed(sample);
  };

  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  else if (text !== '') throw new ExpositionError(lines.length, 'the exposition must end with a newline');
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(raw);
      if (!m) return; // a plain comment
      const [, keyword, name, rest = ''] = m as unknown as [string, 'HELP' | 'TYPE', string, string | undefined];
      if (!METRIC_NAME.test(name)) throw new ExpositionError(line, `invalid metric name "${name}" in ${keyword}`);
      const f = familyNamed(name);
      enter(f, line);
      if (keyword === 'HELP') {
        if (f.help !== undefined) throw new ExpositionError(line, `second HELP line for ${name}`);
        f.help = unescapeHelp(rest, line);
      } else {
        if (f.samples.length > 0) throw new ExpositionError(line, `TYPE line for ${name} after its samples`);
        if (typed.has(name)) throw new ExpositionError(line, `second TYPE line for ${name}`);
        const type = rest.trim() as MetricType;
        if (!TYPES.has(type)) throw new ExpositionError(line, `unknown type "${rest.trim()}" for ${name}`);
        f.type = type;
        typed.add(name);
      }
      return;
    }
    const sample = parseSampleLine(raw, line);
    const f = ownerOf(sample.name);
    enter(f, line);
    if (f.type === 'histogram' && sample.name === `${f.name}_bucket`) {
      if (sample.labels.le === undefined) throw new ExpositionError(line, `${sample.name} has no le label`);
      parseFloatStrict(sample.labels.le, line, `le of ${sample.name}`);
    }
    if (f.type === 'histogram' && sample.name === f.name) {
      throw new ExpositionError(line, `histogram ${f.name} has a sample without _bucket/_sum/_count suffix`);
    }
    if (f.type === 'summary' && sample.name === f.name) {
      if (sample.labels.quantile === undefined) throw new ExpositionError(line, `${sample.name} has no quantile label`);
      parseFloatStrict(sample.labels.quantile, line, `quantile of ${sample.name}`);
    }
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
    if (f.samples.some((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}` === key)) {
      throw new ExpositionError(line, `duplicate series ${raw.slice(0, raw.lastIndexOf(' ')).trim()}`);
    }
    f.samples.push(sample);
  });
  return [...families.values()];
}

const camel = /[a-z][A-Z]/;

/** The lint rules of `promtool check metrics` that apply to prom-client output, plus histogram sanity. */
export function lintExposition(families: readonly MetricFamily[]): string[] {
  const problems: string[] = [];
  for (const f of families) {
    if (!f.help) problems.push(`${f.name}: no help text`);
    if (camel.test(f.name)) problems.push(`${f.name}: metric names should be written in snake_case, not camelCase`);
    if (f.type === 'counter' && !f.name.endsWith('_total')) problems.push(`${f.name}: counter metrics should have "_total" suffix`);
    if (f.type !== 'counter' && f.name.endsWith('_total')) problems.push(`${f.name}: non-counter metrics should not have "_total" suffix`);
    for (const s of f.samples) {
      for (const label of Object.keys(s.labels)) {
        if (camel.test(label)) problems.push(`${f.name}: label names should be written in snake_case, not camelCase (${label})`);
      }
      if (f.type === 'counter' && !(s.value >= 0)) problems.push(`${f.name}: counter value ${s.value} is not a non-negative number`);
    }
    if (f.type === 'histogram') problems.push(...lintHistogram(f));
  }
  return [...new Set(problems)];
}

function lintHistogram(f: MetricFamily): string[] {
  const problems: string[] = [];
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)));
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name.endsWith('_bucket')) entry.buckets.push([parseFloatStrict(le!, 0, 'le'), s.value]);
    else if (s.name.endsWith('_count')) entry.count = s.value;
    else entry.sum = s.value;
  }
  for (const [key, { buckets, count, sum }] of series) {
    const where = `${f.name}${key === '[]' ? '' : ` ${key}`}`;
    if (buckets.length === 0) problems.push(`${where}: no buckets`);
    if (count === undefined || sum === undefined) problems.push(`${where}: _count or _sum missing`);
    const sorted = [...buckets].sort(([a], [b]) => a - b);
    if (sorted.at(-1)?.[0] !== Number.POSITIVE_INFINITY) problems.push(`${where}: no +Inf bucket`);
    else if (count !== undefined && sorted.at(-1)![1] !== count) {
      problems.push(`${where}: +Inf bucket ${sorted.at(-1)![1]} differs from _count ${count}`);
    }
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]![1] < sorted[i - 1]![1]) problems.push(`${where}: buckets are not cumulative at le=${sorted[i]![0]}`);
    }
  }
  return problems;
}

/** Parse errors and lint problems of an exposition; empty when it is fine. */
export function checkExposition(text: string): string[] {
  try {
    return lintExposition(parseExposition(text));
  } catch (err) {
    if (err instanceof ExpositionError) return [err.message];
    throw err;
  }
}
