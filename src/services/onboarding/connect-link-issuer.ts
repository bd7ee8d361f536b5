import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../../../config';
import type { Db } from '../../db/create-db';
import { ConflictError, NotFoundError, ValidationError } from '../../errors/app-error';
import { requireRole, requireScope, type Principal } from '../auth/keys.service';
import { subtreeEnd } from '../tree/unit-paths';
import { activeVersion } from '../tree/units.service';

export const DEFAULT_TTL_DAYS = 7;
export const MAX_TTL_DAYS = 90;
const CHUNK = 500;

/** A link token or OAuth state as stored: only its SHA-256 is kept. */
export const hashLinkToken = (s: string): string => crypto.createHash('sha256').update(s).digest('base64url');
/** A new link token or OAuth state: 32 random bytes, base64url (43 characters). */
export const newLinkToken = (): string => crypto.randomBytes(32).toString('base64url');

type LinkConfig = Pick<Config, 'facebookApp' | 'onboarding'>;

/** The public address connect links and the OAuth callback live under. */
export function publicBase(config: LinkConfig): string {
  const b = config.onboarding.publicBaseUrl;
  if (!b) throw new ConflictError('PUBLIC_BASE_URL is not configured: connect links need a public address');
  return b;
}

/** One CSV field: quoted when it holds a comma, a quote or a line break. */
function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * Issuing self-service connect links (admins, over the API): one link for a unit, or a CSV of links for
 * every unit of a subtree. Each link is single use; its token is returned once and stored only hashed.
 * Redeeming them is ConnectLinksService.
 */
export class ConnectLinkIssuer {
  constructor(
    private readonly db: Db,
    private readonly config: LinkConfig,
    private readonly log: Logger,
  ) {}

  async create(p: Principal, unitCode: string, opts: { ttlDays?: number | undefined } = {}): Promise<{ url: string; expiresAt: string }> {
    requireRole(p, ['admin'], 'create a connect link');
    this.requireConfigured();
    const unit = await this.activeUnitInScope(p, unitCode);
    const [made] = await this.insert(p, [{ id: unit.id, code: unit.code }], ttlMs(opts.ttlDays));
    return { url: made!.url, expiresAt: made!.expiresAt };
  }

  /** Links for every active unit of the subtree (with onlyMissing: those with no active Page holding a valid token), as CSV. */
  async createForSubtree(p: Principal, unitCode: string, opts: { onlyMissing?: boolean | undefined; ttlDays?: number | undefined } = {}) {
    requireRole(p, ['admin'], 'create connect links');
    this.requireConfigured();
    const root = await this.activeUnitInScope(p, unitCode);
    let q = this.db
      .selectFrom('units as u')
      .select(['u.id', 'u.code', 'u.name'])
      .where('u.retired_at', 'is', null)
      .where('u.path', '>=', root.path)
      .where('u.path', '<', subtreeEnd(root.path));
    if (opts.onlyMissing) {
      q = q.where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('pages as g')
              .select('g.page_id')
              .whereRef('g.unit_id', '=', 'u.id')
              .where('g.retired_at', 'is', null)
              .where('g.token_status', '=', 'valid'),
          ),
        ),
      );
    }
    const units = await q.orderBy('u.path').execute();
    const made = await this.insert(p, units, ttlMs(opts.ttlDays));
    const names = new Map(units.map((u) => [u.code, u.name]));
    const lines = made.map((m) => [m.unitCode, names.get(m.unitCode) ?? '', m.url, m.expiresAt].map(csvField).join(','));
    return { count: made.length, csv: ['unit_code,unit_name,url,expires_at', ...lines].join('\n') + '\n' };
  }

  private async insert(p: Principal, units: Array<{ id: number; code: string }>, ttl: number) {
    const now = new Date();
    const expiresAt = new Date(now.getTime() + ttl).toISOString();
    const made = units.map((u) => {
      const token = newLinkToken();
      return {
        row: {
          id: `cl_${crypto.randomBytes(12).toString('base64url')}`,
          token_hash: hashLinkToken(token),
          unit_id: u.id,
          unit_code: u.code,
          created_by: p.keyId,
          created_at: now.toISOString(),
          expires_at: expiresAt,
          used_at: null,
          page_id: null,
          state_hash: null,
          user_token_ciphertext: null,
          session_expires_at: null,
        },
        url: `${publicBase(this.config)}/connect/${token}`,
        unitCode: u.code,
        expiresAt,
      };
    });
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < made.length; i += CHUNK) {
        await trx
          .insertInto('connect_links')
          .values(made.slice(i, i + CHUNK).map((m) => m.row))
          .execute();
      }
    });
    this.log.info({ links: made.length, by: p.keyId }, 'connect links created');
    return made;
  }

  /** The active unit `unitCode`, which must lie in the caller's branch. */
  private async activeUnitInScope(p: Principal, unitCode: string): Promise<{ id: number; code: string; path: string }> {
    const unit = await activeVersion(this.db, unitCode);
    if (!unit) throw new NotFoundError(`unit ${unitCode}`);
    requireScope(p, unit.path, unitCode);
    return unit;
  }

  private requireConfigured(): void {
    if (!this.config.facebookApp) throw new ConflictError('FB_APP_ID and FB_APP_SECRET are not configured: connect links cannot work');
    publicBase(this.config);
  }
}

function ttlMs(days: number | undefined): number {
  const d = days ?? DEFAULT_TTL_DAYS;
  if (!(d > 0 && d <= MAX_TTL_DAYS)) {
    throw new ValidationError(`ttlDays: must be more than 0 and at most ${MAX_TTL_DAYS}`, { field: 'ttlDays' });
  }
  return d * 86_400_000;
}
