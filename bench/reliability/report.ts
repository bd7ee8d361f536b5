/**
 * Judging a run: the ledger (delivery rows) against the simulator's own count of visible posts per
 * Page, and the table the suite prints.
 */

/** Reasons that do not say why a delivery failed. Every failed delivery must carry something else. */
const UNCLASSIFIED = new Set(['', 'unknown', 'internal_error']);

export function isClassified(reason: string | null): boolean {
  return reason !== null && !UNCLASSIFIED.has(reason);
}

export interface DeliveryRow {
  id: number;
  unit_code: string;
  page_id: string | null;
  status: string;
  reason: string | null;
  attempts: number;
  updated_at: string;
}

export interface RunResult {
  scenario: string;
  label: string;
  pages: number;
  published: number;
  failedByReason: Record<string, number>;
  /** Targeted Pages with more than one visible copy. */
  duplicates: number;
  /** Targeted Pages with no visible copy whose delivery is not failed with a classified reason, plus deliveries still open. */
  lost: number;
  /** Failed deliveries without a classified reason. */
  unclassified: number;
  /** Failed deliveries the scenario did not expect (e.g. retries exhausted on a healthy Page). */
  unexpectedFailed: number;
  /** Maintained delivery counters of the post that differ from a full count of its rows (verifyCounts): must be 0. */
  countDrift: number;
  /** Processes (workers, API) that exited by themselves, plus 500 answers, during the run: must be 0. */
  processIssues: number;
  seconds: number;
  chaos: string;
  notes: string[];
}

export interface EvaluateInput {
  scenario: string;
  label: string;
  seconds: number;
  rows: DeliveryRow[];
  visible: Record<string, number>;
  pageOf: Map<string, string>;
  /** Units whose failure is expected (revoked tokens). */
  expectFailed: Set<string>;
  chaos: string;
}

export function evaluate(i: EvaluateInput): RunResult {
  const failedByReason: Record<string, number> = {};
  const notes: string[] = [];
  let published = 0;
  let duplicates = 0;
  let lost = 0;
  let unclassified = 0;
  let unexpectedFailed = 0;
  const examples = { dup: [] as string[], lost: [] as string[], unexpected: [] as string[], failedVisible: [] as string[] };
  const targetedPages = new Set<string>();
  for (const r of i.rows) {
    const pageId = r.page_id ?? i.pageOf.get(r.unit_code) ?? null;
    if (pageId) targetedPages.add(pageId);
    const n = pageId ? (i.visible[pageId] ?? 0) : 0;
    const open = r.status === 'queued' || r.status === 'publishing';
    if (r.status === 'published') published++;
    if (r.status === 'failed') {
      const reason = r.reason ?? 'null';
      failedByReason[reason] = (failedByReason[reason] ?? 0) + 1;
      if (!isClassified(r.reason)) unclassified++;
      if (!i.expectFailed.has(r.unit_code)) {
        unexpectedFailed++;
        if (examples.unexpected.length < 5) examples.unexpected.push(`${r.unit_code}:${r.reason}`);
      }
      if (n > 0 && examples.failedVisible.length < 5) examples.failedVisible.push(`${r.unit_code}:${r.reason}`);
    }
    if (n > 1) {
      duplicates++;
      if (examples.dup.length < 5) {
        examples.dup.push(`${r.unit_code} (Page ${pageId}, ${n} copies, delivery ${r.id} ${r.status}/${r.reason}, ${r.attempts} attempts)`);
      }
    }
    const failedClassified = r.status === 'failed' && isClassified(r.reason);
    if (open || (n === 0 && !failedClassified && r.status !== 'skipped' && r.status !== 'cancelled')) {
      lost++;
      if (examples.lost.length < 5) {
        examples.lost.push(`${r.unit_code} (delivery ${r.id} ${r.status}/${r.reason}, ${r.attempts} attempts, ${n} visible)`);
      }
    }
  }
  // A post on a Page that was never targeted is a duplicate of nothing, but still a wrong post.
  const stray = Object.entries(i.visible).filter(([pageId, n]) => n > 0 && !targetedPages.has(pageId));
  if (stray.length) {
    duplicates += stray.length;
    notes.push(
      `${stray.length} untargeted Pages show the post (e.g. ${stray
        .slice(0, 3)
        .map(([p]) => p)
        .join(', ')})`,
    );
  }
  if (examples.dup.length) notes.push(`duplicates: ${examples.dup.join('; ')}`);
  if (examples.lost.length) notes.push(`lost: ${examples.lost.join('; ')}`);
  if (examples.unexpected.length) notes.push(`unexpected failures: ${examples.unexpected.join('; ')}`);
  if (examples.failedVisible.length) notes.push(`failed in the ledger but visible on the Page: ${examples.failedVisible.join('; ')}`);
  return {
    scenario: i.scenario,
    label: i.label,
    pages: i.rows.length,
    published,
    failedByReason,
    duplicates,
    lost,
    unclassified,
    unexpectedFailed,
    countDrift: 0,
    processIssues: 0,
    seconds: i.seconds,
    chaos: i.chaos,
    notes,
  };
}

export function runOk(r: RunResult): boolean {
  return (
    r.duplicates === 0 && r.lost === 0 && r.unclassified === 0 && r.unexpectedFailed === 0 && r.countDrift === 0 && r.processIssues === 0
  );
}

function fmtReasons(f: Record<string, number>): string {
  const e = Object.entries(f).sort((a, b) => b[1] - a[1]);
  return e.length ? e.map(([k, v]) => `${k} ${v}`).join(', ') : '0';
}

/** The table: one row per run, then one total row per scenario. */
export function formatTable(results: RunResult[]): string {
  const head = [
    'scenario',
    'run',
    'Pages',
    'published',
    'failed by reason',
    'dup',
    'lost',
    'unclass.',
    'unexp.',
    'drift',
    'exits/500',
    's',
    'chaos',
  ];
  const rows = results.map((r) => [
    r.scenario,
    r.label,
    String(r.pages),
    String(r.published),
    fmtReasons(r.failedByReason),
    String(r.duplicates),
    String(r.lost),
    String(r.unclassified),
    String(r.unexpectedFailed),
    String(r.countDrift),
    String(r.processIssues),
    r.seconds.toFixed(1),
    r.chaos,
  ]);
  const byScenario = new Map<string, RunResult[]>();
  for (const r of results) byScenario.set(r.scenario, [...(byScenario.get(r.scenario) ?? []), r]);
  const totals: string[][] = [];
  for (const [s, rs] of byScenario) {
    if (rs.length < 2) continue;
    const reasons: Record<string, number> = {};
    for (const r of rs) for (const [k, v] of Object.entries(r.failedByReason)) reasons[k] = (reasons[k] ?? 0) + v;
    const sum = (f: (r: RunResult) => number) => String(rs.reduce((a, r) => a + f(r), 0));
    totals.push([
      s,
      `Σ ${rs.length} runs`,
      sum((r) => r.pages),
      sum((r) => r.published),
      fmtReasons(reasons),
      sum((r) => r.duplicates),
      sum((r) => r.lost),
      sum((r) => r.unclassified),
      sum((r) => r.unexpectedFailed),
      sum((r) => r.countDrift),
      sum((r) => r.processIssues),
      rs.reduce((a, r) => a + r.seconds, 0).toFixed(1),
      '',
    ]);
  }
  const all = [head, ...rows, ...totals];
  const widths = head.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((v, c) => v.padEnd(widths[c]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line), ...totals.map(line)].join('\n');
}
