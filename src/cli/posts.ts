import type { PostView } from '../services/read-models/post-views.service';
import type { ApiClient, PostFailures } from './api-client';
import { adviceFor, failureLines, formatTime, keyNames, progressSummary, targetSummary } from './format';
import { CliInputError, describeLevels, levelNames, resolveLevels } from './levels';

type Out = (line: string) => void;

const splitList = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** `--unit X [--scope] [--levels] [--exclude]` → a target, level names resolved against the tree. */
export async function targetFromFlags(
  api: ApiClient,
  f: { unit?: string | undefined; scope?: string | undefined; levels?: string | undefined; exclude?: string | undefined },
): Promise<{ unit: string; scope: string; levels?: number[]; exclude?: string[] }> {
  if (!f.unit) throw new CliInputError('missing --unit <code>');
  const scope = f.scope ?? 'subtree';
  if (scope !== 'subtree' && scope !== 'self') throw new CliInputError(`--scope: expected subtree or self, got "${scope}"`);
  return {
    unit: f.unit,
    scope,
    ...(f.levels !== undefined ? { levels: await resolveLevels(api, f.unit, f.levels) } : {}),
    ...(f.exclude ? { exclude: splitList(f.exclude) } : {}),
  };
}

/** Left-aligned columns; the last one is not padded. */
function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length)))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * `posts list [--status a,b] [--limit N] [--json]`: newest first. The API filters by one status; several
 * are one request each, merged by creation time.
 */
export async function postsList(api: ApiClient, o: { status?: string; limit?: string; json?: boolean }, out: Out): Promise<number> {
  const limit = o.limit === undefined ? 20 : Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new CliInputError(`--limit: expected a whole number 1–500, got "${o.limit}"`);
  }
  const statuses = splitList(o.status);
  const pages = statuses.length
    ? await Promise.all(statuses.map((status) => api.listPosts({ status, limit })))
    : [await api.listPosts({ limit })];
  const posts = pages
    .flatMap((p) => p.items)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    .slice(0, limit);
  if (o.json) {
    out(JSON.stringify(posts, null, 2));
    return 0;
  }
  if (!posts.length) {
    out(statuses.length ? `no post with status ${statuses.join(' or ')}` : 'no post yet');
    return 0;
  }
  const names = await keyNames(
    api,
    posts.map((p) => p.createdBy),
  );
  const rows = [['ID', 'STATUS', 'CREATED', 'AUTHOR', 'TARGET', 'PROGRESS']];
  for (const p of posts) {
    rows.push([
      p.id,
      p.status,
      formatTime(p.createdAt),
      names.get(p.createdBy) ?? p.createdBy,
      targetSummary(p.target),
      progressSummary(p.status, p.counts, p.total),
    ]);
  }
  for (const line of table(rows)) out(line);
  const more = pages.some((p) => p.nextCursor);
  if (more) out(`(the newest ${posts.length}; --limit for more)`);
  return 0;
}

/** `posts show <id> [--json]`: the post, who did what and when, its counts and its failure groups. */
export async function postsShow(api: ApiClient, id: string, o: { json?: boolean }, out: Out): Promise<number> {
  const post = await api.getPost(id);
  const failures: PostFailures = post.counts.failed > 0 ? await api.failures(id) : { postId: id, total: 0, items: [] };
  if (o.json) {
    out(JSON.stringify({ ...post, failures: failures.items }, null, 2));
    return 0;
  }
  const extra = post as PostView & {
    rejection?: { by: string; at: string; reason: string } | null;
    cancelledAt?: string | null;
  };
  const names = await keyNames(api, [post.createdBy, post.approvedBy, post.cancelledBy, post.recall?.by, extra.rejection?.by]);
  const who = (id: string | null | undefined) => (id ? (names.get(id) ?? id) : '—');
  out(`post ${post.id}`);
  out(`  status     ${post.status}`);
  out(`  message    ${post.message.length > 200 ? `${post.message.slice(0, 200)}…` : post.message}`);
  if (post.link) out(`  link       ${post.link}`);
  if (post.photos.length) out(`  photos     ${post.photos.length}`);
  out(`  target     ${targetSummary(post.target)}`);
  out(`  created    ${formatTime(post.createdAt)} by ${who(post.createdBy)}`);
  if (post.approvedBy) out(`  approved   ${formatTime(post.approvedAt)} by ${who(post.approvedBy)}`);
  if (extra.rejection) out(`  rejected   ${formatTime(extra.rejection.at)} by ${who(extra.rejection.by)}: ${extra.rejection.reason}`);
  if (post.cancelledBy) {
    // The view has no cancel time: the audit log has it (the entry of the cancel).
    const cancel = extra.cancelledAt ? null : (await api.audit({ subject: post.id, action: 'post.cancel', limit: 1 })).items[0];
    out(`  cancelled  ${formatTime(extra.cancelledAt ?? cancel?.at ?? post.updatedAt)} by ${who(post.cancelledBy)}`);
  }
  if (post.publishAt) out(`  schedule   ${formatTime(post.publishAt)}`);
  if (post.spread) {
    const end = post.spread.plannedEndAt ? `, planned end ${formatTime(post.spread.plannedEndAt)}` : ', planned end set when it goes out';
    out(`  spread     ${post.spread.minutes} min${end}`);
  }
  if (post.startedAt) out(`  started    ${formatTime(post.startedAt)}`);
  if (post.completedAt) out(`  completed  ${formatTime(post.completedAt)}`);
  if (post.recall) out(`  recalled   ${formatTime(post.recall.at)} by ${who(post.recall.by)}: ${post.recall.reason}`);
  out(`  progress   ${progressSummary(post.status, post.counts, post.total)}`);
  const c = post.counts;
  out(
    `  counts     ${
      Object.entries(c)
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${s} ${n}`)
        .join(' · ') || 'none yet'
    }`,
  );
  if (post.status === 'pending_approval') out(`  waiting for approval: an approver runs lantoa posts approve ${post.id}`);
  if (failures.items.length) {
    out(`  failures (${failures.total}):`);
    for (const line of failureLines(failures, post.id, 10)) out(`  ${line}`);
  }
  return 0;
}

/** `posts preview --unit X [...]`: what a post to this target would reach, by level, and who it would miss. */
export async function postsPreview(
  api: ApiClient,
  f: { unit?: string; scope?: string; levels?: string; exclude?: string; json?: boolean },
  out: Out,
): Promise<number> {
  const target = await targetFromFlags(api, f);
  const p = await api.previewTarget(target);
  if (f.json) {
    out(JSON.stringify(p, null, 2));
    return 0;
  }
  const deepest = Math.max(p.unit.level, ...Object.keys(p.byLevel).map(Number));
  const names = levelNames(deepest);
  out(`target ${targetSummary(target)}: ${p.units} units, ${p.pages} Pages`);
  for (const [level, n] of Object.entries(p.byLevel).sort(([a], [b]) => Number(a) - Number(b))) {
    out(`  ${(names.get(Number(level))?.[0] ?? `level ${level}`).padEnd(10)} ${n} units`);
  }
  out(`  with a Page ${p.withPage}, without ${p.withoutPage}`);
  if (p.withoutHealthyPage > 0) {
    out(`units without a healthy Page (a post cannot reach them): ${p.withoutHealthyPage}`);
    const sample = p.withoutHealthyPageUnits ?? [];
    for (const u of sample) out(`  ${u.code}  ${u.name}`);
    if (sample.length && sample.length < p.withoutHealthyPage) out(`  … and ${p.withoutHealthyPage - sample.length} more`);
    out('  link their Pages: lantoa pages link <unit> --page-id <id> [--token-file <file>]');
  } else {
    out('every unit has a healthy Page');
  }
  return 0;
}

/**
 * `posts retry <id> [--reasons a,b]`: requeues the failed deliveries a retry can fix. The API says what it
 * left and why (`skipped`): Pages whose token is broken need relinking first (they are named, with the
 * command), and content Facebook refused fails again whatever is retried.
 */
export async function postsRetry(api: ApiClient, id: string, o: { reasons?: string }, out: Out): Promise<number> {
  const reasons = splitList(o.reasons);
  const before = await api.failures(id);
  const res = await api.retry(id, reasons.length ? reasons : undefined);
  out(`requeued ${res.requeued} deliveries of post ${res.id} (now ${res.status})`);
  if (res.skipped.permanent > 0) out(`left ${res.skipped.permanent} whose content Facebook refused: a retry cannot fix them`);
  if (res.skipped.needs_relink > 0) {
    out(`left ${res.skipped.needs_relink} whose Page must be relinked first (its token is broken):`);
    const relink = new Set(before.items.filter((g) => g.action === 'relink' || adviceFor(g.reason, id).relink).map((g) => g.reason));
    const pages = await failedPages(api, id, relink);
    for (const d of pages.slice(0, 10)) {
      out(`  lantoa pages link ${d.unitCode} --page-id ${d.pageId ?? '<id>'} --token-file <file>   # ${d.unitName}`);
    }
    if (pages.length > 10) out(`  … and ${pages.length - 10} more: lantoa posts show ${id}`);
    out('then run this retry again.');
  }
  return 0;
}

/** The failed deliveries (unit, Page) with these reasons (the first 500). */
async function failedPages(
  api: ApiClient,
  id: string,
  reasons: Set<string | null>,
): Promise<Array<{ unitCode: string; unitName: string; pageId: string | null }>> {
  const { items } = await api.deliveries(id, { status: 'failed', limit: 500 });
  return (items as Array<{ unitCode: string; unitName: string; pageId: string | null; reason: string | null }>).filter((d) =>
    reasons.has(d.reason),
  );
}

export { describeLevels };
