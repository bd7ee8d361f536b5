import { ApiError } from './api-client';

/** Most problems of one rejected upload the CLI prints; the API reports at most 50 and the total. */
export const MAX_PRINTED_PROBLEMS = 50;

interface Problem {
  file?: string;
  line?: number;
  field?: string;
  message?: string;
}

const n = (v: number) => v.toLocaleString('en-US');

/**
 * What the CLI prints for a failed command: the message, then for a 400 each problem as
 * `<file> line N, <field>: <message>` (up to MAX_PRINTED_PROBLEMS, then "… and N more").
 * `source` names the uploaded file when the problems do not (units import, pages import).
 */
export function errorLines(err: unknown, source?: string): string[] {
  if (!(err instanceof ApiError)) return [err instanceof Error ? err.message : String(err)];
  const details = (err.details ?? {}) as { problems?: Problem[]; totalProblems?: number };
  const problems = Array.isArray(details.problems) ? details.problems : [];
  const lines = [err.message];
  if (!problems.length) return lines;
  const total = Math.max(details.totalProblems ?? 0, problems.length);
  lines.push(`${n(total)} problem(s):`);
  for (const p of problems.slice(0, MAX_PRINTED_PROBLEMS)) {
    const file = p.file ?? source;
    const where = [file, p.line ? `line ${p.line}` : undefined].filter(Boolean).join(' ');
    const field = p.field ? `${where ? ', ' : ''}${p.field}` : '';
    lines.push(`  ${where}${field}${where || field ? ': ' : ''}${p.message ?? 'invalid'}`);
  }
  const shown = Math.min(problems.length, MAX_PRINTED_PROBLEMS);
  if (total > shown) lines.push(`  … and ${n(total - shown)} more`);
  return lines;
}

/** Runs an upload of `file`; a rejection names the file in the problems it prints. */
export async function uploading<T>(file: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof ApiError) throw Object.assign(err, { source: file });
    throw err;
  }
}
