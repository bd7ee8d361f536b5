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

/** How to fix a file the service cannot read: Excel's own words for the right format. */
export const SAVE_AS_CSV_UTF8 = 'in Excel choose Save As → "CSV UTF-8 (Comma delimited) (*.csv)"';

const ENCODING_HINT =
  'it was probably saved in another encoding (Windows-1258 or Windows-1252, what Excel\'s plain "CSV" uses, or UTF-16): ' +
  `${SAVE_AS_CSV_UTF8} and upload it again; nothing was imported`;

/** 1-based line of a character offset of `text` (lines end with \n; a \r before it belongs to the line). */
function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function notUtf8(line: number, what: string): ValidationError {
  return new ValidationError(`CSV line ${line} is not valid UTF-8 (${what}): ${ENCODING_HINT}`, {
    problems: [{ line, message: `not valid UTF-8 (${what}); save the file as CSV UTF-8` }],
  });
}

/**
 * Offset of the first byte of `buf` that does not start or continue a well-formed UTF-8 sequence
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or -1 when it is all valid.
 */
export function firstInvalidUtf8(buf: Uint8Array): number {
  for (let i = 0; i < buf.length;) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return -1;
}

/**
 * The text of a CSV upload (a `text/csv` body, as bytes). Anything but UTF-8 is refused, naming the
 * line of the first byte that is not UTF-8: decoding it leniently would turn every "ỉ" of a
 * Windows-1258 file into U+FFFD and rename units silently. A UTF-8 byte-order mark is dropped.
 */
export function decodeCsvBytes(buf: Uint8Array): string {
  if (buf.length >= 2 && ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff))) {
    throw new ValidationError(
      `CSV line 1 is not valid UTF-8 (the file is UTF-16, it starts with a UTF-16 byte-order mark): ${ENCODING_HINT}`,
      {
        problems: [{ line: 1, message: 'not valid UTF-8 (the file is UTF-16); save the file as CSV UTF-8' }],
      },
    );
  }
  const bad = firstInvalidUtf8(buf);
  if (bad >= 0) {
    let line = 1;
    for (let i = 0; i < bad; i++) if (buf[i] === 0x0a) line++;
    throw notUtf8(line, `byte 0x${buf[bad]!.toString(16).toUpperCase().padStart(2, '0')}`);
  }
  // fatal: a second line of defence, the scan above should have found any bad byte.
  return new TextDecoder('utf-8', { fatal: true }).decode(buf);
}

const DELIMITERS = [
  { char: ';', name: "';' (semicolon)" },
  { char: '\t', name: 'tab' },
] as const;

/** The separator a line uses instead of commas (more ';' or tabs than commas outside quotes), if any. */
function foreignDelimiter(line: string): (typeof DELIMITERS)[number] | undefined {
  const unquoted = line.replace(/"(?:[^"]|"")*"/g, '');
  const commas = unquoted.split(',').length - 1;
  let best: (typeof DELIMITERS)[number] | undefined;
  let most = commas;
  for (const d of DELIMITERS) {
    const n = unquoted.split(d.char).length - 1;
    if (n > most) {
      best = d;
      most = n;
    }
  }
  return best;
}

function delimiterError(lines: number[], d: (typeof DELIMITERS)[number]): ValidationError {
  const where = lines[0] === 1 ? 'CSV header (line 1)' : `CSV line ${lines[0]}`;
  return new ValidationError(
    `${where} uses ${d.name} as separator; Lan Tỏa expects commas: ${SAVE_AS_CSV_UTF8} and upload it again; nothing was imported`,
    {
      problems: lines.slice(0, MAX_REPORTED_PROBLEMS).map((line) => ({ line, message: `separated by ${d.name}, expected commas` })),
      ...(lines.length > MAX_REPORTED_PROBLEMS ? { totalProblems: lines.length } : {}),
    },
  );
}

/**
 * Parses a CSV body with a header row; rejects text that is not clean UTF-8, another separator than
 * commas, missing columns and malformed CSV, naming the line.
 */
export function parseCsv(text: string, required: readonly string[]): CsvRow[] {
  const nul = text.indexOf('\u0000');
  if (nul >= 0) {
    const line = lineAt(text, nul);
    throw new ValidationError(
      `CSV line ${line} contains a NUL (U+0000) character (a UTF-16 file has one in every other byte): ${SAVE_AS_CSV_UTF8}`,
      { problems: [{ line, message: 'NUL character' }] },
    );
  }
  // Text that came inside JSON cannot hold bad bytes, but a client may already have decoded them to U+FFFD.
  const replaced = text.indexOf('\uFFFD');
  if (replaced >= 0) throw notUtf8(lineAt(text, replaced), 'U+FFFD, the replacement character of a file read in the wrong encoding');
  const body = text.replace(/^\uFEFF/, '');
  const firstLine = body.split('\n', 1)[0] ?? '';
  const headerDelimiter = foreignDelimiter(firstLine);
  if (
    headerDelimiter &&
    !required.every((c) =>
      firstLine
        .toLowerCase()
        .split(',')
        .map((h) => h.trim())
        .includes(c),
    )
  ) {
    throw delimiterError([1], headerDelimiter);
  }
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(body, {
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
  // Data rows separated by ';' or tabs under a comma header: one field holding the whole row.
  const foreign = records.slice(1).flatMap(({ record, info }) => {
    const d = header.length > 1 && record.length === 1 ? foreignDelimiter(record[0]!) : undefined;
    return d ? [{ line: info.lines, d }] : [];
  });
  if (foreign.length) {
    throw delimiterError(
      foreign.map((f) => f.line),
      foreign[0]!.d,
    );
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
