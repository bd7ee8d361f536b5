import { describeReason } from '../graph/classify';
import { BOOTSTRAP_ADMIN_ID } from '../services/auth/keys.service';
import type { DeliveryCounts } from '../services/posts/post-status';
import type { ApiClient, PostFailures } from './api-client';

/** One date format everywhere in the CLI: `2026-12-02 06:09 UTC` (the API's times are UTC). */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The bootstrap admin is named for what it is, never by its variable name. */
const BOOTSTRAP_NAME = 'bootstrap admin';

/**
 * Display names of keys, by id (`GET /v1/keys/names`). A key the caller may not see keeps its id, so a
 * name is never invented.
 */
export async function keyNames(api: ApiClient, ids: Array<string | null | undefined>): Promise<Map<string, string>> {
  const wanted = [...new Set(ids.filter((i): i is string => !!i))];
  const out = new Map<string, string>();
  if (!wanted.length) return out;
  for (let i = 0; i < wanted.length; i += 100) {
    const { items } = await api.keyNames(wanted.slice(i, i + 100));
    for (const k of items) out.set(k.id, k.id === BOOTSTRAP_ADMIN_ID || k.name === 'ADMIN_API_KEY' ? BOOTSTRAP_NAME : k.name);
  }
  if (wanted.includes(BOOTSTRAP_ADMIN_ID)) out.set(BOOTSTRAP_ADMIN_ID, BOOTSTRAP_NAME);
  return out;
}

export interface TargetShape {
  unit: string;
  scope: string;
  levels?: Array<number | string>;
  exclude?: string[];
}

/** `01 subtree · levels 1,2 · 2 excluded`. */
export function targetSummary(target: unknown): string {
  const t = target as TargetShape;
  if (!t || typeof t !== 'object' || !t.unit) return JSON.stringify(target);
  const parts = [`${t.unit} ${t.scope}`];
  if (t.levels?.length) parts.push(`levels ${t.levels.join(',')}`);
  if (t.exclude?.length) parts.push(`${t.exclude.length} excluded`);
  return parts.join(' · ');
}

/**
 * Progress of a post in one phrase: `published 40 · failed 4 of 44`, and for a recall
 * `recalled 44 of 44` (with the ones still recalling and those whose recall failed).
 */
export function progressSummary(status: string, counts: DeliveryCounts, total: number): string {
  const c = counts;
  if (status === 'recalling' || status === 'recalled' || c.recalling + c.recalled + c.recall_failed > 0) {
    const recall = c.recalling + c.recalled + c.recall_failed + c.published;
    const parts = [`recalled ${c.recalled} of ${recall} Pages`];
    if (c.recalling) parts.push(`recalling ${c.recalling}`);
    if (c.recall_failed) parts.push(`recall failed ${c.recall_failed}`);
    if (c.published) parts.push(`still published ${c.published}`);
    return parts.join(' · ');
  }
  const parts = [`published ${c.published}`, `failed ${c.failed}`];
  if (c.skipped) parts.push(`skipped ${c.skipped}`);
  if (c.cancelled) parts.push(`cancelled ${c.cancelled}`);
  const open = c.queued + c.publishing;
  if (open) parts.push(`pending ${open}`);
  return `${parts.join(' · ')} of ${total}`;
}

/** Reasons a plain retry cannot fix: the Page must be relinked (a new token) first. */
const RELINK_REASONS = new Set(['needs_reauth', 'no_token']);
/** Reasons that need a Page linked to the unit first. */
const LINK_REASONS = new Set(['no_page', 'page_unlinked']);

export type ReasonAdvice = { retry: boolean; relink: boolean; what: string };

/** What a failure reason means for the person at the terminal: can a retry fix it, and if not, what can. */
export function adviceFor(reason: string | null, postId: string): ReasonAdvice {
  const r = reason ?? 'unknown';
  const retry = `lantoa posts retry ${postId} --reasons ${r}`;
  const relink = 'relink the Pages first (lantoa pages link <unit> --page-id <id> --token-file <file>), then ' + retry;
  if (RELINK_REASONS.has(r)) return { retry: false, relink: true, what: `the Page token is missing or broken: ${relink}` };
  if (LINK_REASONS.has(r)) {
    return {
      retry: false,
      relink: true,
      what: `the unit has no linked Page: link one (lantoa pages link <unit> --page-id <id>), then ${retry}`,
    };
  }
  const d = describeReason(r);
  switch (d?.kind) {
    case 'reauth':
    case 'permission':
      return { retry: false, relink: true, what: `${d.explanation}: ${relink}` };
    case 'permanent':
      return { retry: false, relink: false, what: `${d.explanation}; a retry fails the same way: fix the post (a new post)` };
    case 'transient':
    case 'unknown_outcome':
    case 'throttled_page':
    case 'throttled_app':
      return { retry: true, relink: false, what: `${d.explanation}; retry: ${retry}` };
    default:
      return { retry: true, relink: false, what: `retry: ${retry}` };
  }
}

/** `  token_invalid (190) × 3 — the Page token is invalid; reconnect the Page: relink …`, largest group first. */
export function failureLines(f: PostFailures, postId: string, max = 5): string[] {
  const lines = f.items.slice(0, max).map((g) => {
    const code = g.code !== null ? ` (${g.code}${g.subcode !== null ? `/${g.subcode}` : ''})` : '';
    return `  ${g.reason ?? 'unknown'}${code} × ${g.count} — ${adviceFor(g.reason, postId).what}`;
  });
  if (f.items.length > max) {
    const rest = f.items.slice(max).reduce((n, g) => n + g.count, 0);
    lines.push(`  … ${f.items.length - max} more reasons (${rest} Pages): lantoa posts show ${postId}`);
  }
  return lines;
}
