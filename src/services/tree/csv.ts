import { parse } from 'csv-parse/sync';
import { ValidationError } from '../../errors/app-error';

export interface CsvRow {
  /** 1-based line number in the file (the header is line 1). */
  line: number;
  values: Record<string, string>;
}

export interface RowProblem {
  line: number;
  field?: string;
  message: string;
}

/** Most problems reported for one upload; enough to fix a file, small enough to read. */
export const MAX_REPORTED_PROBLEMS = 50;

/** Parses a CSV body with a header row; rejects missing columns and malformed CSV naming the line. */
export function parseCsv(text: string, required: readonly string[]): CsvRow[] {
  const nul = text.indexOf('\u0000');
  if (nul >= 0) {
    const line = text.slice(0, nul).split('\n').length;
    throw new ValidationError(`CSV line ${line} contains a NUL (U+0000) character`, { problems: [{ line, message: 'NUL character' }] });
  }
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(text.replace(/^\uFEFF/, ''), {
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
      info: true,
    }) as unknown as typeof records;
  } catch (err) {
    // csv-parse messages can quote the offending field (an access token, in a Page file): keep only its code.
    const line = (err as { lines?: number }).lines;
    const what = describeCsvError(err);
    throw new ValidationError(`CSV could not be parsed${line ? ` at line ${line}` : ''}: ${what}`, {
      problems: [{ line: line ?? 0, message: what }],
    });
  }
  const header = records[0]?.record.map((h) => h.toLowerCase());
  if (!header) throw new ValidationError('CSV is empty: expected a header line', { problems: [{ line: 1, message: 'empty file' }] });
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw new ValidationError(`CSV header (line 1) lacks column(s): ${missing.join(', ')}`, {
      problems: missing.map((field) => ({ line: 1, field, message: 'missing column' })),
    });
  }
  return records.slice(1).map(({ record, info }) => ({
    line: info.lines,
    values: Object.fromEntries(header.map((h, j) => [h, record[j] ?? ''])),
  }));
}

function describeCsvError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? `${code.replace(/^CSV_/, '').toLowerCase().replace(/_/g, ' ')} (${code})` : 'malformed CSV';
}

export function throwIfProblems(problems: RowProblem[], what: string): void {
  if (problems.length === 0) return;
  const first = problems[0]!;
  throw new ValidationError(
    `${what}: ${problems.length} problem(s); nothing was imported. First: line ${first.line}${first.field ? ` (${first.field})` : ''}: ${first.message}`,
    { problems: problems.slice(0, MAX_REPORTED_PROBLEMS), totalProblems: problems.length },
  );
}
