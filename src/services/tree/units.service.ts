import { sql } from 'kysely';
import type { Db, Executor } from '../../db/create-db';
import type { UnitRow } from '../../db/types';
import { ConflictError, NotFoundError } from '../../errors/app-error';
import { appendAudit, type AuditActor } from '../governance/audit.service';
import { parseCsv, throwIfProblems, type CsvRow, type RowProblem } from './csv';
import { ROOT_CODE, subtreeEnd, UNIT_CODE_RE } from './unit-paths';
import { syncUnitPaths } from '../delivery/post-deliveries';

// The path facts live in ./unit-paths (imported by audit and keys without pulling this service in);
// re-exported here so existing importers keep working.
export { ROOT_CODE, subtreeEnd, UNIT_CODE_RE };
const INSERT_CHUNK = 500;

export interface UnitImportResult {
  created: number;
  updated: number;
  total: number;
}

export interface Node {
  code: string;
  parent: string | null;
  type: string;
  name: string;
  level?: number;
  path?: string;
}

export class UnitsService {
  constructor(private readonly db: Db) {}

  /** The active version of a code, else its latest retired version (so a retired code still answers). */
  async get(code: string): Promise<UnitRow> {
    const unit = await this.db
      .selectFrom('units')
      .selectAll()
      .where('code', '=', code)
      .orderBy(sql`retired_at is null`, 'desc')
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .executeTakeFirst();
    if (!unit) throw new NotFoundError(`unit ${code}`);
    return unit;
  }

  /** The version of a code that was active at `at` (created at or before it, not retired by then). */
  async getAt(code: string, at: string): Promise<UnitRow> {
    const unit = await versionAt(this.db, code, at);
    if (!unit) throw new NotFoundError(`unit ${code} at ${at}`);
    return unit;
  }

  /** The active version of a code. */
  find(code: string): Promise<UnitRow | undefined> {
    return activeVersion(this.db, code);
  }

  /** Children of a version: the active ones of an active unit, the ones of its time for a retired one. */
  async childCount(unitId: number): Promise<number> {
    const r = await this.db
      .selectFrom('units')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('parent_id', '=', unitId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** The unit's Pages (active ones; a retired unit's last Pages), first Page first. */
  async pagesOf(unitId: number) {
    return this.db
      .selectFrom('pages')
      .select(['page_id', 'label', 'token_status', 'token_status_reason', 'retired_at'])
      .where('unit_id', '=', unitId)
      .orderBy('position')
      .orderBy('page_id')
      .execute();
  }

  /**
   * Imports units from CSV (`code,parent_code,level,type,name`) into the active tree, in one
   * transaction. Idempotent: re-importing updates names and types in place and moves units whose
   * parent changed (with their subtrees). Rows with an empty parent hang under `root`. Any bad row
   * rejects the whole file. A change of the tree's structure that past posts must not see (a merger)
   * is a reorganisation instead (ReorganiseService), which keeps the old versions.
   */
  async importCsv(text: string, actor?: AuditActor, opts: { inPlace?: boolean } = {}): Promise<UnitImportResult> {
    const rows = parseCsv(text, ['code', 'parent_code', 'level', 'type', 'name']);
    return this.db.transaction().execute(async (trx) => {
      const existing = await trx.selectFrom('units').selectAll().where('retired_at', 'is', null).execute();
      const before = new Map(existing.map((u) => [u.code, u]));
      const nodes = new Map<string, Node>(
        existing.map((u) => [u.code, { code: u.code, parent: u.parent_code, type: u.type, name: u.name }]),
      );
      const problems = readUnitTree(rows, nodes);
      throwIfProblems(problems, 'unit import rejected');

      const now = new Date().toISOString();
      const inserts: Node[] = [];
      const updates: Node[] = [];
      for (const n of nodes.values()) {
        const old = before.get(n.code);
        if (!old) inserts.push(n);
        else if (
          old.parent_code !== n.parent ||
          old.type !== n.type ||
          old.name !== n.name ||
          old.path !== n.path ||
          old.level !== n.level
        ) {
          updates.push(n);
        }
      }
      if (updates.length && !opts.inPlace) {
        await refuseRewritingHistory(
          trx,
          updates.map((n) => before.get(n.code)!),
        );
      }
      await insertUnits(trx, inserts, now);
      // A moved unit's path may be the old path of another moved unit: clear them first (the active path is unique).
      for (const n of updates) {
        await trx
          .updateTable('units')
          .set({ path: `!moving:${n.code}` })
          .where('id', '=', before.get(n.code)!.id)
          .execute();
      }
      for (const n of updates) {
        await trx
          .updateTable('units')
          .set({ parent_code: n.parent, level: n.level!, type: n.type, name: n.name, path: n.path!, updated_at: now })
          .where('id', '=', before.get(n.code)!.id)
          .execute();
      }
      if (inserts.length || updates.length) await linkParents(trx);
      // In place: the deliveries made for the corrected units count under their new path from now on.
      if (updates.length) {
        await syncUnitPaths(
          trx,
          updates.map((n) => before.get(n.code)!.id),
        );
      }
      const result = { created: inserts.length, updated: updates.length, total: rows.length };
      if (actor) {
        await appendAudit(trx, {
          actor,
          action: 'units.import',
          subject: { type: 'units', id: ROOT_CODE, path: `/${ROOT_CODE}/` },
          details: { ...result, inPlace: opts.inPlace === true },
        });
      }
      return result;
    });
  }

  /** Active units of the subtree rooted at `path` (inclusive). */
  subtreeQuery(path: string) {
    return this.db
      .selectFrom('units')
      .where('units.retired_at', 'is', null)
      .where('units.path', '>=', path)
      .where('units.path', '<', subtreeEnd(path));
  }

  /** True when `inner` is `outer` or one of its descendants. */
  static contains(outerPath: string, innerPath: string): boolean {
    return innerPath.startsWith(outerPath);
  }

  /** Active units (root included). */
  async countAll(): Promise<number> {
    const r = await this.db
      .selectFrom('units')
      .select(sql<number>`count(*)`.as('n'))
      .where('retired_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}

/** The active (not retired) version of `code`, if there is one. */
export function activeVersion(db: Executor, code: string): Promise<UnitRow | undefined> {
  return db.selectFrom('units').selectAll().where('code', '=', code).where('retired_at', 'is', null).executeTakeFirst();
}

/** The version of `code` that was active at `at`: created at or before it and not retired by then. */
export function versionAt(db: Executor, code: string, at: string): Promise<UnitRow | undefined> {
  return db
    .selectFrom('units')
    .selectAll()
    .where('code', '=', code)
    .where('created_at', '<=', at)
    .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', at)]))
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirst();
}

/**
 * An import edits the active tree in place. A unit that posts already went to would show them under
 * its new name or parent: refused (409) unless the caller asks for an in-place correction, since a
 * change of the organisation is a reorganisation, which keeps the old versions.
 */
async function refuseRewritingHistory(trx: Executor, changed: UnitRow[]): Promise<void> {
  const used = new Set<number>();
  const ids = changed.map((u) => u.id);
  for (let i = 0; i < ids.length; i += INSERT_CHUNK) {
    const chunk = ids.slice(i, i + INSERT_CHUNK);
    for (const r of await trx.selectFrom('deliveries').select('unit_id').distinct().where('unit_id', 'in', chunk).execute()) {
      used.add(r.unit_id!);
    }
    for (const r of await trx.selectFrom('posts').select('target_unit_id').distinct().where('target_unit_id', 'in', chunk).execute()) {
      used.add(r.target_unit_id!);
    }
  }
  if (!used.size) return;
  const codes = changed.filter((u) => used.has(u.id)).map((u) => u.code);
  throw new ConflictError(
    `the import would rename or move ${codes.length} unit(s) that posts already went to (first: ${codes.slice(0, 5).join(', ')}), ` +
      'changing how those posts show them. Use POST /v1/units/reorganise, which keeps the old versions, ' +
      'or import with ?inPlace=true to correct the units in place',
    { units: codes.slice(0, 50), totalUnits: codes.length },
  );
}

/** Inserts new active versions (paths and levels resolved), parents first; `linkParents` then sets `parent_id`. */
export async function insertUnits(trx: Executor, nodes: Node[], at: string): Promise<void> {
  const sorted = [...nodes].sort((a, b) => a.level! - b.level!);
  for (let i = 0; i < sorted.length; i += INSERT_CHUNK) {
    await trx
      .insertInto('units')
      .values(
        sorted.slice(i, i + INSERT_CHUNK).map((n) => ({
          code: n.code,
          parent_id: null,
          parent_code: n.parent,
          level: n.level!,
          type: n.type,
          name: n.name,
          path: n.path!,
          created_at: at,
          updated_at: at,
          retired_at: null,
          succeeded_by: null,
        })),
      )
      .execute();
  }
}

/** Points every active unit's `parent_id` at the active version of its `parent_code`. */
export async function linkParents(trx: Executor): Promise<void> {
  await sql`update units set parent_id = (select p.id from units p where p.code = units.parent_code and p.retired_at is null)
    where retired_at is null and parent_code is not null`.execute(trx);
}

/**
 * Reads unit rows (`code,parent_code,level,type,name`) into `nodes` (which may already hold the tree
 * they are merged into, and must hold `root`) and resolves every node's path and level. Returns the
 * rows' problems, each naming its line and field; `nodes` is only meaningful when there are none.
 */
export function readUnitTree(rows: CsvRow[], nodes: Map<string, Node>): RowProblem[] {
  const problems: RowProblem[] = [];
  const fileLevels = new Map<string, { line: number; level: number }>();
  for (const { line, values } of rows) {
    const { code, parent_code: parent, level, type, name } = values as Record<string, string>;
    const bad = (field: string, message: string) => problems.push({ line, field, message });
    if (!UNIT_CODE_RE.test(code!)) bad('code', `"${code}" is not a valid code (1-64 letters, digits, _ or -)`);
    else if (code === ROOT_CODE) bad('code', '"root" is reserved for the central unit');
    else if (fileLevels.has(code!)) bad('code', `duplicate code ${code} (first on line ${fileLevels.get(code!)!.line})`);
    if (parent && !UNIT_CODE_RE.test(parent)) bad('parent_code', `"${parent}" is not a valid code`);
    if (parent === code) bad('parent_code', 'a unit cannot be its own parent');
    const lvl = Number(level);
    if (!/^\d+$/.test(level ?? '') || lvl < 1) bad('level', `"${level}" is not a positive integer`);
    if (!type) bad('type', 'is empty');
    else if (type.length > 100) bad('type', 'is longer than 100 characters');
    if (!name) bad('name', 'is empty');
    else if (name.length > 200) bad('name', 'is longer than 200 characters');
    if (UNIT_CODE_RE.test(code!) && code !== ROOT_CODE && !fileLevels.has(code!)) {
      fileLevels.set(code!, { line, level: lvl });
      nodes.set(code!, { code: code!, parent: parent || ROOT_CODE, type: type ?? '', name: name ?? '' });
    }
  }
  for (const { line, values } of rows) {
    const parent = values.parent_code;
    if (parent && UNIT_CODE_RE.test(parent) && !nodes.has(parent)) {
      problems.push({ line, field: 'parent_code', message: `unknown parent ${parent}` });
    }
  }
  if (problems.length) return problems;

  // Paths and levels of the merged tree; a cycle or a level that contradicts the tree rejects the file.
  resolvePaths(nodes, (code, message) => problems.push({ line: fileLevels.get(code)?.line ?? 0, field: 'parent_code', message }));
  for (const [code, { line, level }] of fileLevels) {
    const n = nodes.get(code)!;
    if (n.level !== undefined && n.level !== level) {
      problems.push({
        line,
        field: 'level',
        message: `level ${level} contradicts the tree: ${code} sits at depth ${n.level} under ${n.parent}`,
      });
    }
  }
  return problems;
}

/** Computes `path` and `level` for every node; reports nodes caught in a cycle. */
function resolvePaths(nodes: Map<string, Node>, onCycle: (code: string, message: string) => void): void {
  const root = nodes.get(ROOT_CODE)!;
  root.path = `/${ROOT_CODE}/`;
  root.level = 0;
  outer: for (const start of nodes.values()) {
    if (start.path) continue;
    const chain: Node[] = [];
    const seen = new Set<string>();
    let cur: Node | undefined = start;
    while (cur && !cur.path) {
      if (seen.has(cur.code)) {
        onCycle(start.code, `parent chain of ${start.code} loops through ${cur.code}`);
        for (const n of chain) n.path = '!cycle';
        continue outer;
      }
      seen.add(cur.code);
      chain.push(cur);
      cur = cur.parent ? nodes.get(cur.parent) : undefined;
    }
    if (!cur) continue; // unknown parent: reported by the caller
    for (let i = chain.length - 1; i >= 0; i--) {
      const n = chain[i]!;
      const parent = nodes.get(n.parent!)!;
      n.path = `${parent.path}${n.code}/`;
      n.level = parent.level! + 1;
    }
  }
}
