import crypto from 'node:crypto';
import type { Db, Executor } from '../../db/create-db';
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnauthenticatedError,
  UnitRetiredError,
  ValidationError,
} from '../../errors/app-error';
import { appendAudit, type AuditActor } from '../governance/audit.service';
import { ROOT_CODE, subtreeEnd } from '../tree/unit-paths';
import { activeVersion } from '../tree/units.service';

export const ROLES = ['admin', 'editor', 'approver', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: the key's id, role and unit (with the unit's path for scope checks). */
export interface Principal {
  keyId: string;
  name: string;
  role: Role;
  /** The unit version the key is scoped to. */
  unitId: number;
  unitCode: string;
  unitPath: string;
}

export const BOOTSTRAP_ADMIN_ID = 'bootstrap-admin';
/**
 * Display name of the ADMIN_API_KEY principal (audit rows, authors, key names): a name for people, not
 * the variable's. The dashboard translates it by its id (BOOTSTRAP_ADMIN_ID).
 */
export const BOOTSTRAP_ADMIN_NAME = 'bootstrap admin';
/** Logged at start when nobody can sign in as an admin: never a dead end. */
export const NO_ADMIN_WARNING =
  'no admin key: ADMIN_API_KEY is unset (or empty) and the store has no active admin key of root; ' +
  "create the first one with `lantoa keys bootstrap` (or `npm run cli -- keys bootstrap`), run with this service's environment (DATABASE_URL…)";

/** Default name of the key `lantoa keys bootstrap` creates. */
export const BOOTSTRAP_KEY_NAME = 'first admin (keys bootstrap)';

/** What a key listing shows: never the key or its hash. */
export interface KeyView {
  id: string;
  name: string;
  role: Role;
  unit: string;
  /** The key's unit was retired by a reorganisation: every call answers 403 until it is re-scoped. */
  suspended: boolean;
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
}

function hashKey(key: string): string {
  return crypto.createHash('sha256').update(key).digest('hex');
}

export class KeysService {
  private readonly adminHash: Buffer | undefined;
  private rootId: Promise<number> | undefined;

  constructor(
    private readonly db: Db,
    adminApiKey: string | undefined,
  ) {
    this.adminHash = adminApiKey ? Buffer.from(hashKey(adminApiKey), 'hex') : undefined;
  }

  /** Creates a key; the secret is returned once and only its hash is stored. */
  async create(creator: Principal, input: { name: string; role: Role; unit: string }) {
    const unit = await this.activeUnit(input.unit);
    if (!unit.path.startsWith(creator.unitPath)) throw new ForbiddenError(`unit ${input.unit} is outside your unit ${creator.unitCode}`);
    return this.db.transaction().execute((trx) => insertKey(trx, creator, 'key.create', { ...input, unit }));
  }

  /**
   * `lantoa keys bootstrap`: the first admin key over root, for a service that has no ADMIN_API_KEY.
   * Run next to the store (no key is needed to call it, so it never goes through the API). Refused while
   * an active admin key of root exists, unless `force`. Audited as `key.bootstrap`; the key is returned once.
   */
  async bootstrap(actor: AuditActor, opts: { name?: string; force?: boolean } = {}) {
    const unit = await this.activeUnit(ROOT_CODE);
    return this.db.transaction().execute(async (trx) => {
      const existing = await activeRootAdmins(trx);
      if (existing.length && !opts.force) {
        throw new ConflictError(
          `an active admin key of root already exists (${existing.map((k) => `${k.id} "${k.name}"`).join(', ')}); ` +
            'use it to create more keys, or pass --force to create another one anyway',
          { keys: existing },
        );
      }
      return insertKey(trx, actor, 'key.bootstrap', {
        name: opts.name ?? BOOTSTRAP_KEY_NAME,
        role: 'admin',
        unit,
        details: { alreadyActiveAdmins: existing.length },
      });
    });
  }

  /** Whether anyone can administer the service: ADMIN_API_KEY is set, or an active admin key of root exists. */
  async hasAdminAccess(): Promise<boolean> {
    return this.adminHash !== undefined || (await activeRootAdmins(this.db)).length > 0;
  }

  /** Keys whose unit lies in the caller's subtree (optionally one unit's subtree), newest first. */
  async list(p: Principal, q: { unit?: string; includeRevoked?: boolean }): Promise<KeyView[]> {
    let path = p.unitPath;
    if (q.unit) {
      const u = await this.db
        .selectFrom('units')
        .select('path')
        .where('code', '=', q.unit)
        .where('retired_at', 'is', null)
        .executeTakeFirst();
      if (!u) throw new NotFoundError(`unit ${q.unit}`);
      requireScope(p, u.path, q.unit);
      path = u.path;
    }
    let query = keyWithUnit(this.db)
      .select(['api_keys.created_by', 'api_keys.created_at'])
      .where('units.path', '>=', path)
      .where('units.path', '<', subtreeEnd(path));
    if (!q.includeRevoked) query = query.where('api_keys.revoked_at', 'is', null);
    const rows = await query.orderBy('api_keys.created_at', 'desc').orderBy('api_keys.id').execute();
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      role: r.role as Role,
      unit: r.unit_code,
      suspended: r.retired_at !== null,
      createdBy: r.created_by,
      createdAt: r.created_at,
      revokedAt: r.revoked_at,
    }));
  }

  /**
   * Revokes a key of the caller's subtree. Every request authenticates against the store, so the
   * key stops working with the next request. Revoking twice is harmless (the first time is kept).
   */
  async revoke(p: Principal, id: string): Promise<{ id: string; revokedAt: string }> {
    const row = await this.keyInScope(p, id);
    if (row.revoked_at) return { id, revokedAt: row.revoked_at };
    const now = new Date().toISOString();
    await this.db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable('api_keys')
        .set({ revoked_at: now })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return; // revoked concurrently: that request wrote the entry
      await appendAudit(trx, {
        actor: p,
        action: 'key.revoke',
        subject: { type: 'key', id, path: row.path },
        details: { name: row.name, role: row.role, unit: row.unit_code },
      });
    });
    return { id, revokedAt: now };
  }

  /**
   * Re-scopes a key (admin) to an active unit of the admin's subtree: how a key suspended by a
   * reorganisation gets back to work. Audited.
   */
  async rescope(p: Principal, id: string, unitCode: string): Promise<KeyView> {
    requireRole(p, ['admin'], 're-scope keys');
    const row = await this.keyInScope(p, id);
    if (row.revoked_at) throw new ValidationError(`key ${id} is revoked`, { field: 'id' });
    const unit = await this.activeUnit(unitCode);
    if (!unit.path.startsWith(p.unitPath)) throw new ForbiddenError(`unit ${unitCode} is outside your unit ${p.unitCode}`);
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('api_keys').set({ unit_id: unit.id, unit_code: unit.code }).where('id', '=', id).execute();
      await appendAudit(trx, {
        actor: p,
        action: 'key.rescope',
        subject: { type: 'key', id, path: unit.path },
        details: { name: row.name, role: row.role, from: row.unit_code, fromRetired: row.retired_at !== null, to: unit.code },
      });
    });
    const [view] = (await this.list(p, { includeRevoked: true })).filter((k) => k.id === id);
    return view!;
  }

  private async activeUnit(code: string): Promise<{ id: number; code: string; path: string }> {
    const unit = await activeVersion(this.db, code);
    if (!unit) throw new ValidationError(`unit: unknown unit ${code}`, { field: 'unit' });
    return unit;
  }

  /** A key whose unit (of its time) lies in the caller's subtree; 404 otherwise. */
  private async keyInScope(p: Principal, id: string) {
    const row = await keyWithUnit(this.db).where('api_keys.id', '=', id).executeTakeFirst();
    if (!row || !row.path.startsWith(p.unitPath)) throw new NotFoundError(`key ${id}`);
    return row;
  }

  /** The bootstrap admin (ADMIN_API_KEY): an admin over root. */
  async bootstrapPrincipal(): Promise<Principal> {
    const unitId = await this.rootUnitId();
    return {
      keyId: BOOTSTRAP_ADMIN_ID,
      name: BOOTSTRAP_ADMIN_NAME,
      role: 'admin',
      unitId,
      unitCode: ROOT_CODE,
      unitPath: `/${ROOT_CODE}/`,
    };
  }

  private async rootUnitId(): Promise<number> {
    this.rootId ??= this.db
      .selectFrom('units')
      .select('id')
      .where('code', '=', ROOT_CODE)
      .where('retired_at', 'is', null)
      .executeTakeFirstOrThrow()
      .then((r) => r.id);
    this.rootId.catch(() => (this.rootId = undefined));
    return this.rootId;
  }

  /** Resolves a bearer key to a principal, or throws 401 (403 `unit_retired` for a suspended key). */
  async authenticate(key: string | undefined): Promise<Principal> {
    if (!key) throw new UnauthenticatedError('missing Authorization: Bearer <key> header');
    const hash = hashKey(key);
    if (this.adminHash && crypto.timingSafeEqual(Buffer.from(hash, 'hex'), this.adminHash)) {
      return this.bootstrapPrincipal();
    }
    const principal = await keyPrincipal(this.db, 'key_hash', hash);
    if (!principal) throw new UnauthenticatedError('unknown or revoked API key');
    return principal;
  }
}

/** Inserts a key and its audit row in `trx`; the secret is returned once and only its hash is stored. */
async function insertKey(
  trx: Executor,
  actor: AuditActor,
  action: 'key.create' | 'key.bootstrap',
  input: { name: string; role: Role; unit: { id: number; code: string; path: string }; details?: Record<string, unknown> },
) {
  const { unit } = input;
  const id = `key_${crypto.randomBytes(9).toString('base64url')}`;
  // 32 random bytes (256 bits): only its SHA-256 is stored, and the key is shown once.
  const key = `lt_${crypto.randomBytes(32).toString('base64url')}`;
  await trx
    .insertInto('api_keys')
    .values({
      id,
      name: input.name,
      role: input.role,
      unit_id: unit.id,
      unit_code: unit.code,
      key_hash: hashKey(key),
      created_by: actor.keyId,
      created_at: new Date().toISOString(),
      revoked_at: null,
    })
    .execute();
  await appendAudit(trx, {
    actor,
    action,
    subject: { type: 'key', id, path: unit.path },
    details: { name: input.name, role: input.role, unit: unit.code, ...input.details },
  });
  return { id, key, name: input.name, role: input.role, unit: unit.code };
}

/** Active (not revoked) admin keys scoped to the active root unit. */
function activeRootAdmins(db: Executor): Promise<Array<{ id: string; name: string }>> {
  return db
    .selectFrom('api_keys')
    .innerJoin('units', 'units.id', 'api_keys.unit_id')
    .select(['api_keys.id', 'api_keys.name'])
    .where('api_keys.role', '=', 'admin')
    .where('api_keys.revoked_at', 'is', null)
    .where('units.code', '=', ROOT_CODE)
    .where('units.retired_at', 'is', null)
    .orderBy('api_keys.created_at')
    .execute();
}

/** A key with the unit version it is scoped to. */
function keyWithUnit(db: Executor) {
  return db
    .selectFrom('api_keys')
    .innerJoin('units', 'units.id', 'api_keys.unit_id')
    .select([
      'api_keys.id',
      'api_keys.name',
      'api_keys.role',
      'api_keys.unit_code',
      'api_keys.revoked_at',
      'units.id as unit_id',
      'units.path',
      'units.retired_at',
      'units.succeeded_by',
    ]);
}

/**
 * The principal of a key found by its hash or id; null when unknown or revoked. A key whose unit a
 * reorganisation retired is suspended: 403 `unit_retired`, naming the successor units.
 */
export async function keyPrincipal(db: Db, by: 'key_hash' | 'id', value: string): Promise<Principal | null> {
  const row = await keyWithUnit(db).where(`api_keys.${by}`, '=', value).executeTakeFirst();
  if (!row || row.revoked_at) return null;
  if (row.retired_at) {
    const successors = JSON.parse(row.succeeded_by ?? '[]') as string[];
    throw new UnitRetiredError(
      `this key is suspended: its unit ${row.unit_code} was retired by a reorganisation on ${row.retired_at}` +
        (successors.length ? ` and succeeded by ${successors.join(', ')}` : ' with no successor') +
        '; an admin must re-scope the key (PATCH /v1/keys/{id} {unit})',
    );
  }
  return { keyId: row.id, name: row.name, role: row.role as Role, unitId: row.unit_id, unitCode: row.unit_code, unitPath: row.path };
}

/** Throws 403 unless the principal has one of the roles. */
export function requireRole(p: Principal, roles: readonly Role[], action: string): void {
  if (!roles.includes(p.role)) throw new ForbiddenError(`role ${p.role} may not ${action} (needs ${roles.join(' or ')})`);
}

/** Throws 403 unless the unit path lies in the principal's subtree. */
export function requireScope(p: Principal, unitPath: string, unitCode: string): void {
  if (!unitPath.startsWith(p.unitPath)) throw new ForbiddenError(`unit ${unitCode} is outside your unit ${p.unitCode}`);
}
