/**
 * `npm run sim -- --pages <units.csv> --write-pages-csv <pages.csv>`: one simulated Page per unit of a
 * units CSV (root included), each with a valid Page token, and the Pages CSV that links them
 * (`lantoa pages import`). The units file is read by the import's own parser, so a file the
 * simulator accepts is one the service accepts.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ValidationError } from '../errors/app-error';
import { parseCsv, type RowProblem } from '../services/tree/csv';
import { ROOT_CODE } from '../services/tree/unit-paths';
import { readUnitTree, type Node } from '../services/tree/units.service';
import type { PageSeed } from './types';

export interface UnitPage {
  unitCode: string;
  pageId: string;
  token: string;
}

/** A units CSV the simulator cannot seed from: every problem, with its line (as the import reports them). */
export class UnitsCsvError extends Error {
  constructor(
    readonly file: string,
    readonly problems: RowProblem[],
    message: string,
  ) {
    super(message);
  }

  /** One line per problem, `file:line (field): message`. */
  lines(max = 20): string[] {
    const out = this.problems.slice(0, max).map((p) => `  ${this.file}:${p.line}${p.field ? ` (${p.field})` : ''}: ${p.message}`);
    if (this.problems.length > max) out.push(`  … and ${this.problems.length - max} more`);
    return out;
  }
}

/** The units of a units CSV (`code,parent_code,level,type,name`), root first, in file order. */
export function readUnitsCsv(file: string, text: string): Array<{ code: string; name: string }> {
  const nodes = new Map<string, Node>([[ROOT_CODE, { code: ROOT_CODE, parent: null, type: 'Trung ương', name: 'Trung ương' }]]);
  let problems: RowProblem[];
  try {
    problems = readUnitTree(parseCsv(text, ['code', 'parent_code', 'level', 'type', 'name']), nodes);
  } catch (err) {
    if (err instanceof ValidationError) {
      const details = err.details as { problems?: RowProblem[] } | undefined;
      throw new UnitsCsvError(file, details?.problems ?? [{ line: 0, message: err.message }], err.message);
    }
    throw err;
  }
  if (problems.length) throw new UnitsCsvError(file, problems, `${problems.length} problem(s); no Page was seeded`);
  return [...nodes.values()].map((n) => ({ code: n.code, name: n.name }));
}

/** A stable 15-digit Page id per unit code, so a re-run (or a `--state` file) keeps the same Pages. */
export function pageIdOf(code: string, taken: Set<string>): string {
  const h = BigInt(`0x${createHash('sha256').update(code).digest('hex').slice(0, 15)}`);
  let id = 100_000_000_000_000n + (h % 900_000_000_000_000n);
  while (taken.has(String(id))) id = id + 1n >= 1_000_000_000_000_000n ? 100_000_000_000_000n : id + 1n;
  taken.add(String(id));
  return String(id);
}

/**
 * Pages for the units: a unit whose Page the simulator already has (from `--state`) keeps it and its
 * current token while that is valid; the others get a fresh valid token (a new Page, or a re-seed). Returns the seeds to add and the links.
 */
export function planUnitPages(
  units: Array<{ code: string; name: string }>,
  currentToken: (pageId: string) => string | undefined,
): { seeds: PageSeed[]; links: UnitPage[] } {
  const taken = new Set<string>();
  const seeds: PageSeed[] = [];
  const links = units.map((u) => {
    const pageId = pageIdOf(u.code, taken);
    let token = currentToken(pageId); // a valid token the Page already has (from --state)
    if (!token) {
      token = `EAAG${randomBytes(32).toString('base64url')}`;
      seeds.push({ id: pageId, name: `Mặt trận Tổ quốc – ${u.name}`, token });
    }
    return { unitCode: u.code, pageId, token };
  });
  return { seeds, links };
}

/** The Pages CSV of `lantoa pages import` (`unit_code,page_id,access_token`), written mode 600: it holds the tokens. */
export function writePagesCsv(file: string, links: UnitPage[]): void {
  const text = ['unit_code,page_id,access_token', ...links.map((l) => `${l.unitCode},${l.pageId},${l.token}`)].join('\n') + '\n';
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}
