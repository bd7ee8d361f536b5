import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db, Executor } from '../../db/create-db';
import { transact } from '../../db/transact';
import { ConflictError, ForbiddenError, ValidationError } from '../../errors/app-error';
import type { Queues } from '../../queues/queues';
import { requireRole, type Principal } from '../auth/keys.service';
import { applyCounts, CountDeltas } from '../delivery/delivery-counts';
import { cancelQueued } from '../delivery/post-deliveries';
import { appendAudit, appendAuditMany } from '../governance/audit.service';
import { MAX_REPORTED_PROBLEMS, parseCsv } from './csv';
import { planReorganisation, readMerges, type PagesMode, type Plan, type PlanProblem } from './reorganise-plan';
import { ROOT_CODE } from './unit-paths';
import { insertUnits, linkParents, readUnitTree, type Node } from './units.service';

/** `POST /v1/units/reorganise` body: the new tree and the merges as CSV text. */
export interface ReorganiseInput {
  /** CSV `code,parent_code,level,type,name` of the new tree. */
  units: string;
  /** CSV `new_code,old_code,kind` (kind full|partial). */
  merges: string;
  /** Default false: a dry run that changes nothing. */
  apply?: boolean | undefined;
  /** `carry` (default): Pages move to the successor units; `none`: only Pages of kept units stay. */
  pages?: PagesMode | undefined;
  /** Apply even when posts are blocked, cancelling them (reason `unit_retired`). */
  force?: boolean | undefined;
}

/** The 200 answer of `POST /v1/units/reorganise` (the plan, or what was applied). */
export interface ReorganiseResult {
  applied: boolean;
  units: { kept: number; renamed: number; created: number; retired: number };
  pages: { carried: number; retired: number; unassigned: Array<{ unitCode: string; pageId: string }> };
  keys: { suspended: Array<{ id: string; name: string; unit: string }> };
  posts: { blocked: Array<{ id: string; status: string; targetUnit: string }> };
}

const CHUNK = 500;
/** Posts that would resolve their target (or their `exclude`) against units that retire. */
const UNSENT_STATUSES = ['pending_approval', 'approved', 'scheduled'] as const;

/**
 * Moves the organisation from the active tree to a new one (the 2025 reorganisation): a dry run
 * by default, or one audited transaction. Units that keep their code, name, type, parent and only
 * absorb themselves keep their identity; every other unit retires and the new units are new
 * versions, so past posts keep the names and tree of their time. Pages follow the merge rows.
 */
export class ReorganiseService {
  constructor(
    private readonly db: Db,
    private readonly dialect: 'sqlite' | 'postgres',
    private readonly queues: Queues,
    private readonly log: Logger,
  ) {}

  async run(p: Principal, input: ReorganiseInput): Promise<ReorganiseResult> {
    requireRole(p, ['admin'], 'reorganise the unit tree');
    if (p.unitCode !== ROOT_CODE) throw new ForbiddenError('only an admin of root may reorganise the unit tree');
    const mode = input.pages ?? 'carry';
    const next = new Map<string, Node>([[ROOT_CODE, { code: ROOT_CODE, parent: null, type: '', name: '' }]]);
    const unitRows = parseFile('units', input.units, ['code', 'parent_code', 'level', 'type', 'name']);
    const mergeRows = parseFile('merges', input.merges, ['new_code', 'old_code', 'kind']);
    const problems: PlanProblem[] = readUnitTree(unitRows, next).map((x) => ({ file: 'units' as const, ...x }));
    const { merges, problems: mergeProblems } = readMerges(mergeRows);
    problems.push(...mergeProblems);
    throwPlanProblems(problems);

    const started = Date.now();
    const outcome = await transact(this.db, async (trx) => {
      // One reorganisation (or unit import) at a time on PostgreSQL; SQLite transactions are serial already.
      if (this.dialect === 'postgres') await sql`lock table units in share row exclusive mode`.execute(trx);
      const state = await loadState(trx);
      const { plan, problems: planProblems } = planReorganisation({ ...state, next, merges, mode });
      throwPlanProblems(planProblems);
      const retiringIds = plan.retired.map((r) => r.id);
      const retiringCodes = new Set(plan.retired.map((r) => r.code));
      const suspended = await suspendedKeys(trx, retiringIds);
      const blocked = await blockedPosts(trx, retiringIds, retiringCodes);
      const result: ReorganiseResult = {
        applied: false,
        units: {
          kept: plan.kept.size,
          renamed: plan.created.filter((c) => c.renamed).length,
          created: plan.created.filter((c) => !c.renamed).length,
          retired: plan.retired.length,
        },
        pages: { carried: plan.pages.stay + plan.pages.moves.length, retired: plan.pages.retire.length, unassigned: plan.pages.unassigned },
        keys: { suspended },
        posts: { blocked },
      };
      if (!input.apply) return { result, cancelled: [] as string[] };
      if (blocked.length && !input.force) {
        throw new ConflictError(
          `${blocked.length} post(s) would reach units that retire (first: ${blocked[0]!.id}, ${blocked[0]!.status}); ` +
            'wait for them, cancel them, or apply with force: true to cancel them',
          { posts: blocked },
        );
      }
      const at = new Date().toISOString();
      await cancelBlocked(trx, p, blocked, at);
      await applyPlan(trx, plan, next, at);
      await appendAudit(trx, {
        actor: p,
        action: 'units.reorganise',
        subject: { type: 'units', id: ROOT_CODE, path: `/${ROOT_CODE}/` },
        details: {
          units: result.units,
          pages: { mode, carried: result.pages.carried, retired: result.pages.retired, unassigned: result.pages.unassigned.length },
          keysSuspended: suspended.map((k) => k.id),
          postsCancelled: blocked.map((b) => b.id),
          mergeRowsAlreadyApplied: plan.alreadyApplied,
        },
      });
      return { result: { ...result, applied: true }, cancelled: blocked.map((b) => b.id) };
    });
    // Best effort, after the commit: fan-out jobs of cancelled posts find them cancelled anyway.
    for (const id of outcome.cancelled) {
      await this.queues
        .removeFanout(id)
        .catch((err: Error) => this.log.warn({ postId: id, err: err.message }, 'could not remove fan-out job'));
    }
    this.log.info({ applied: outcome.result.applied, units: outcome.result.units, ms: Date.now() - started }, 'reorganisation planned');
    return outcome.result;
  }
}

function parseFile(file: 'units' | 'merges', text: string, columns: string[]) {
  try {
    return parseCsv(text, columns);
  } catch (err) {
    if (err instanceof ValidationError) {
      const details = err.details as { problems?: Array<{ line: number; field?: string; message: string }> } | undefined;
      throw new ValidationError(`${file}: ${err.message}`, { problems: (details?.problems ?? []).map((x) => ({ file, ...x })) });
    }
    throw err;
  }
}

function throwPlanProblems(problems: PlanProblem[]): void {
  if (!problems.length) return;
  const first = problems[0]!;
  throw new ValidationError(
    `reorganisation rejected: ${problems.length} problem(s); nothing was changed. First: ${first.file} line ${first.line}` +
      `${first.field ? ` (${first.field})` : ''}: ${first.message}`,
    { problems: problems.slice(0, MAX_REPORTED_PROBLEMS), totalProblems: problems.length },
  );
}

async function loadState(trx: Executor) {
  const units = await trx
    .selectFrom('units')
    .select(['id', 'code', 'parent_code', 'type', 'name', 'created_at', 'retired_at', 'succeeded_by'])
    .execute();
  const active = units
    .filter((u) => u.retired_at === null)
    .map((u) => ({ id: u.id, code: u.code, parentCode: u.parent_code, type: u.type, name: u.name, createdAt: u.created_at }));
  const retired = units
    .filter((u) => u.retired_at !== null)
    .map((u) => ({ code: u.code, retiredAt: u.retired_at!, succeededBy: JSON.parse(u.succeeded_by ?? '[]') as string[] }));
  const pages = (
    await trx.selectFrom('pages').select(['page_id', 'unit_id', 'label', 'position']).where('retired_at', 'is', null).execute()
  ).map((g) => ({ pageId: g.page_id, unitId: g.unit_id, label: g.label, position: g.position }));
  return { active, retired, pages };
}

async function suspendedKeys(trx: Executor, retiringIds: number[]): Promise<ReorganiseResult['keys']['suspended']> {
  const out: ReorganiseResult['keys']['suspended'] = [];
  for (let i = 0; i < retiringIds.length; i += CHUNK) {
    const rows = await trx
      .selectFrom('api_keys')
      .select(['id', 'name', 'unit_code'])
      .where('unit_id', 'in', retiringIds.slice(i, i + CHUNK))
      .where('revoked_at', 'is', null)
      .execute();
    out.push(...rows.map((r) => ({ id: r.id, name: r.name, unit: r.unit_code })));
  }
  return out.sort((a, b) => (a.unit < b.unit ? -1 : a.unit > b.unit ? 1 : a.id < b.id ? -1 : 1));
}

/**
 * Posts the reorganisation would pull the tree from under: not yet sent ones whose target unit or
 * an excluded unit retires, and running ones with deliveries still open on units that retire.
 */
async function blockedPosts(
  trx: Executor,
  retiringIds: number[],
  retiringCodes: Set<string>,
): Promise<ReorganiseResult['posts']['blocked']> {
  if (!retiringIds.length) return [];
  const retiring = new Set(retiringIds);
  const blocked = new Map<string, { id: string; status: string; targetUnit: string }>();
  const unsent = await trx
    .selectFrom('posts')
    .select(['id', 'status', 'target_unit_code', 'target_unit_id', 'target'])
    .where('status', 'in', UNSENT_STATUSES)
    .execute();
  for (const r of unsent) {
    const exclude = (JSON.parse(r.target) as { exclude?: string[] }).exclude ?? [];
    if (retiring.has(r.target_unit_id!) || exclude.some((c) => retiringCodes.has(c))) {
      blocked.set(r.id, { id: r.id, status: r.status, targetUnit: r.target_unit_code });
    }
  }
  const running = await trx
    .selectFrom('deliveries as d')
    .innerJoin('posts', 'posts.id', 'd.post_id')
    .select(['posts.id', 'posts.status', 'posts.target_unit_code', 'd.unit_id'])
    .distinct()
    .where('posts.status', '=', 'publishing')
    .where('d.status', 'in', ['queued', 'publishing'])
    .execute();
  for (const r of running) {
    if (retiring.has(r.unit_id!)) blocked.set(r.id, { id: r.id, status: r.status, targetUnit: r.target_unit_code });
  }
  return [...blocked.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** `force`: the blocked posts are cancelled (their unsent deliveries too), each audited with reason `unit_retired`. */
async function cancelBlocked(trx: Executor, p: Principal, blocked: ReorganiseResult['posts']['blocked'], at: string): Promise<void> {
  const counts = new CountDeltas();
  for (const b of blocked) {
    const res = await trx
      .updateTable('posts')
      .set({ status: 'cancelled', cancelled_by: p.keyId, updated_at: at, completed_at: at })
      .where('id', '=', b.id)
      .where('status', '=', b.status)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) throw new ConflictError(`post ${b.id} changed while the reorganisation ran; try again`);
    await cancelQueued(trx, b.id, 'unit_retired', at, counts);
  }
  await applyCounts(trx, counts);
  if (!blocked.length) return;
  const paths = new Map(
    (
      await trx
        .selectFrom('posts')
        .innerJoin('units', 'units.id', 'posts.target_unit_id')
        .select(['posts.id', 'units.path'])
        .where(
          'posts.id',
          'in',
          blocked.map((b) => b.id),
        )
        .execute()
    ).map((r) => [r.id, r.path]),
  );
  await appendAuditMany(
    trx,
    blocked.map((b) => ({
      actor: p,
      action: 'post.cancel' as const,
      subject: { type: 'post', id: b.id, path: paths.get(b.id) ?? `/${ROOT_CODE}/` },
      details: { previousStatus: b.status, reason: 'unit_retired' },
    })),
  );
}

/** Writes the plan: old versions retire first (their codes and paths are then free), new versions follow. */
async function applyPlan(trx: Executor, plan: Plan, next: Map<string, Node>, at: string): Promise<void> {
  // Group retirements by successor list: one UPDATE per distinct list, chunked by id.
  const bySuccessors = new Map<string, number[]>();
  for (const r of plan.retired) {
    const key = JSON.stringify(r.succeededBy);
    bySuccessors.set(key, [...(bySuccessors.get(key) ?? []), r.id]);
  }
  for (const [succeededBy, ids] of bySuccessors) {
    for (let i = 0; i < ids.length; i += CHUNK) {
      await trx
        .updateTable('units')
        .set({ retired_at: at, succeeded_by: succeededBy, updated_at: at })
        .where('id', 'in', ids.slice(i, i + CHUNK))
        .execute();
    }
  }
  await insertUnits(trx, plan.created, at);
  if (plan.created.length) await linkParents(trx);

  // Pages: retired ones keep their unit (of its time) and token; moved ones point at the new version.
  for (let i = 0; i < plan.pages.retire.length; i += CHUNK) {
    await trx
      .updateTable('pages')
      .set({ retired_at: at, updated_at: at })
      .where('page_id', 'in', plan.pages.retire.slice(i, i + CHUNK))
      .execute();
  }
  if (!plan.pages.moves.length) return;
  const ids = new Map<string, number>();
  const codes = [...new Set(plan.pages.moves.map((m) => m.toCode))];
  for (let i = 0; i < codes.length; i += CHUNK) {
    for (const u of await trx
      .selectFrom('units')
      .select(['id', 'code'])
      .where('code', 'in', codes.slice(i, i + CHUNK))
      .where('retired_at', 'is', null)
      .execute()) {
      ids.set(u.code, u.id);
    }
  }
  for (const m of plan.pages.moves) {
    const unitId = ids.get(m.toCode);
    if (unitId === undefined || !next.has(m.toCode)) throw new Error(`reorganisation: no active unit ${m.toCode} for Page ${m.pageId}`);
    await trx
      .updateTable('pages')
      .set({ unit_id: unitId, unit_code: m.toCode, label: m.label, position: m.position, updated_at: at })
      .where('page_id', '=', m.pageId)
      .execute();
  }
}
