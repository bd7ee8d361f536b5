import fs from 'node:fs';
import { MAX_PRINTED_PROBLEMS } from './problems';
import { ApiError, type ApiClient, type ReorganiseInput, type ReorganiseProblem, type ReorganiseResult } from './api-client';

/** How many unassigned Pages and validation problems the summary lists (the counts are always whole). */
export const LIST_FIRST = 20;

const n = (v: number) => v.toLocaleString('en-US');

/** The plan (or what was applied) in a few lines: counts, the first unassigned Pages, suspended keys, blocked posts. */
export function reorganiseSummary(r: ReorganiseResult): string[] {
  const lines = [
    r.applied ? 'Reorganisation applied.' : 'Dry run: nothing was changed (pass --apply to apply this plan).',
    `Units: ${n(r.units.kept)} kept, ${n(r.units.renamed)} renamed, ${n(r.units.created)} created, ${n(r.units.retired)} retired`,
    `Pages: ${n(r.pages.carried)} carried, ${n(r.pages.retired)} retired, ${n(r.pages.unassigned.length)} unassigned`,
  ];
  if (r.pages.unassigned.length) {
    const shown = r.pages.unassigned.slice(0, LIST_FIRST);
    lines.push(
      `Unassigned Pages (their unit was split and no new unit has its code)${r.pages.unassigned.length > shown.length ? `, first ${shown.length}` : ''}:`,
    );
    for (const u of shown) lines.push(`  ${u.pageId}  of ${u.unitCode}`);
    if (r.pages.unassigned.length > shown.length) lines.push(`  … and ${n(r.pages.unassigned.length - shown.length)} more`);
  }
  lines.push(`Keys suspended (scoped to a retiring unit): ${n(r.keys.suspended.length)}`);
  for (const k of r.keys.suspended) lines.push(`  ${k.id}  ${k.name}  (unit ${k.unit})`);
  lines.push(`Posts still being delivered: ${n(r.posts.blocked.length)}`);
  for (const p of r.posts.blocked) lines.push(`  ${p.id}  ${p.status}  (target ${p.targetUnit})`);
  return lines;
}

/** The lines of a 400 `validation_failed` answer: its message and each problem as `file line N, field: message`. */
export function problemLines(err: ApiError): string[] {
  const details = err.details as { problems?: ReorganiseProblem[]; totalProblems?: number } | undefined;
  const problems = details?.problems ?? [];
  const total = Math.max(details?.totalProblems ?? 0, problems.length);
  const lines = [`Rejected (${err.status} ${err.code ?? ''}): ${problems.length ? `${n(total)} problem(s)` : err.message}`];
  if (problems.length) lines.push(`  ${err.message}`);
  for (const p of problems.slice(0, MAX_PRINTED_PROBLEMS)) {
    lines.push(`  ${p.file} line ${p.line}${p.field ? `, ${p.field}` : ''}: ${p.message}`);
  }
  const shown = Math.min(problems.length, MAX_PRINTED_PROBLEMS);
  if (total > shown) lines.push(`  … and ${n(total - shown)} more`);
  return lines;
}

/** The lines of a 409 `reorganisation_blocked` answer: the posts still being delivered. */
export function blockedLines(err: ApiError): string[] {
  const posts = (err.details as { posts?: ReorganiseResult['posts']['blocked'] } | undefined)?.posts ?? [];
  if (err.code !== 'reorganisation_blocked' && !posts.length) return [`Not applied: ${err.message}`];
  const lines = [
    `Not applied (${err.status} ${err.code ?? ''}): ${n(posts.length)} post(s) still being delivered; wait for them, cancel them, or pass --force.`,
  ];
  for (const p of posts) lines.push(`  ${p.id}  ${p.status}  (target ${p.targetUnit})`);
  return lines;
}

export interface ReorganiseCommand {
  unitsFile: string;
  mergesFile: string;
  apply: boolean;
  force: boolean;
  pages: string | undefined;
}

/**
 * `lantoa units reorganise <units.csv> <merges.csv> [--apply] [--force] [--pages carry|none]`: prints the
 * plan (or what was applied); exit 1 with the problems on a 400 and with the blocked posts on a 409.
 */
export async function reorganiseCommand(
  api: ApiClient,
  cmd: ReorganiseCommand,
  out: (line: string) => void = (l) => console.log(l),
  err: (line: string) => void = (l) => console.error(l),
): Promise<number> {
  if (cmd.pages !== undefined && cmd.pages !== 'carry' && cmd.pages !== 'none') {
    err(`--pages must be carry or none, not ${cmd.pages}`);
    return 2;
  }
  const input: ReorganiseInput = {
    units: fs.readFileSync(cmd.unitsFile, 'utf8'),
    merges: fs.readFileSync(cmd.mergesFile, 'utf8'),
    apply: cmd.apply,
    ...(cmd.pages ? { pages: cmd.pages } : {}),
    ...(cmd.force ? { force: true } : {}),
  };
  try {
    const res = await api.reorganise(input);
    for (const line of reorganiseSummary(res)) out(line);
    return 0;
  } catch (e) {
    if (e instanceof ApiError && e.status === 400) {
      for (const line of problemLines(e)) err(line);
      return 1;
    }
    if (e instanceof ApiError && e.status === 409) {
      for (const line of blockedLines(e)) err(line);
      return 1;
    }
    throw e;
  }
}
