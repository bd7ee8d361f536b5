import type { Insertable, Kysely, Transaction } from 'kysely';
import type { Db } from '../../db/create-db';
import type { Database, PagesTable } from '../../db/types';
import { NotFoundError, ValidationError } from '../../errors/app-error';
import type { TokenCipher } from '../../security/token-cipher';
import { appendAuditMany } from '../governance/audit.service';
import { parseCsv, throwIfProblems, type RowProblem } from './csv';
import type { Principal } from '../auth/keys.service';
import { requireScope } from '../auth/keys.service';

export const PAGE_ID_RE = /^\d{1,32}$/;
/** `no_token`: the Page is mapped to its unit but no token was given yet (the sync or a connect link brings one). */
export const TOKEN_STATUSES = ['unknown', 'valid', 'expiring', 'needs_reauth', 'no_token'] as const;
const CHUNK = 500;

export interface PageLink {
  unitCode: string;
  pageId: string;
  accessToken: string;
  /** e.g. "Trang chính", or the name of the unit a Page came from; kept when omitted on a re-link. */
  label?: string | undefined;
}

export const MAX_LABEL_LENGTH = 200;
const isControl = (ch: string) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f;

export class PagesService {
  constructor(
    private readonly db: Db,
    private readonly cipher: () => TokenCipher,
  ) {}

  /** Links a Page (and its token, encrypted) to a unit, or replaces its token; a new token resets the token status. */
  async link(principal: Principal, link: PageLink): Promise<void> {
    // A unit outside the caller's branch is a 403 here (in a CSV file it is one of the file's problems).
    const unit = await this.db
      .selectFrom('units')
      .select('path')
      .where('code', '=', link.unitCode)
      .where('retired_at', 'is', null)
      .executeTakeFirst();
    if (unit) requireScope(principal, unit.path, link.unitCode);
    await this.linkMany(
      principal,
      [{ ...link, line: 0 }],
      (field, message) => {
        throw new ValidationError(`${field}: ${message}`, { field });
      },
      () => {},
      'api',
    );
  }

  /**
   * The same as `link`, inside the caller's transaction (a connect link consumes itself and links its
   * Page in one commit). A problem is a ValidationError; nothing is written then.
   */
  async linkIn(trx: Transaction<Database>, principal: Principal, link: PageLink): Promise<void> {
    await this.linkMany(
      principal,
      [{ ...link, line: 0 }],
      (field, message) => {
        throw new ValidationError(`${field}: ${message}`, { field });
      },
      () => {},
      'api',
      trx,
    );
  }

  /**
   * `unit_code,page_id,access_token[,label]` CSV, one transaction; any bad row rejects the file.
   * A unit code listed on several lines gives that unit several Pages (in the file's order). An empty
   * `access_token` maps the Page to its unit without a token (a token it already has is kept): the
   * Business Manager sync or a connect link brings the token.
   */
  async importCsv(principal: Principal, text: string): Promise<{ linked: number; total: number }> {
    const rows = parseCsv(text, ['unit_code', 'page_id', 'access_token']);
    const problems: RowProblem[] = [];
    const links = rows.map(({ line, values }) => ({
      line,
      unitCode: values.unit_code!,
      pageId: values.page_id!,
      accessToken: values.access_token!,
      label: values.label || undefined,
    }));
    const linked = await this.linkMany(
      principal,
      links,
      (field, message, line) => problems.push({ line, field, message }),
      () => throwIfProblems(problems, 'page import rejected'),
      'import',
    );
    return { linked, total: rows.length };
  }

  /**
   * Unlinks a Page from its unit: it is retired, so new posts no longer reach it, and its token
   * stays (encrypted) for recalls and edits of the posts it already carries.
   */
  async unlink(principal: Principal, unitCode: string, pageId: string): Promise<{ unitCode: string; pageId: string; retiredAt: string }> {
    const row = await this.db
      .selectFrom('pages')
      .innerJoin('units', 'units.id', 'pages.unit_id')
      .select(['pages.page_id', 'pages.retired_at', 'units.path', 'units.code'])
      .where('pages.page_id', '=', pageId)
      .where('units.code', '=', unitCode)
      .where('units.retired_at', 'is', null)
      .executeTakeFirst();
    if (!row || row.retired_at) throw new NotFoundError(`Page ${pageId} of unit ${unitCode}`);
    requireScope(principal, row.path, unitCode);
    const at = new Date().toISOString();
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('pages').set({ retired_at: at, updated_at: at }).where('page_id', '=', pageId).execute();
      await appendAuditMany(trx, [
        { actor: principal, action: 'page.unlink', subject: { type: 'page', id: unitCode, path: row.path }, details: { pageId } },
      ]);
    });
    return { unitCode, pageId, retiredAt: at };
  }

  private async linkMany(
    principal: Principal,
    links: Array<PageLink & { line: number }>,
    report: (field: string, message: string, line: number) => void,
    afterValidation: () => void,
    via: 'api' | 'import',
    outer?: Transaction<Database>,
  ): Promise<number> {
    const cipher = this.cipher();
    const run = <T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> => (outer ? fn(outer) : this.db.transaction().execute(fn));
    return run(async (trx) => {
      const codes = [...new Set(links.map((l) => l.unitCode))];
      const units = new Map<string, { id: number; path: string }>();
      for (let i = 0; i < codes.length; i += CHUNK) {
        const found = await trx
          .selectFrom('units')
          .select(['id', 'code', 'path'])
          .where('code', 'in', codes.slice(i, i + CHUNK))
          .where('retired_at', 'is', null)
          .execute();
        for (const u of found) units.set(u.code, { id: u.id, path: u.path });
      }
      const seenPage = new Map<string, number>();
      for (const l of links) {
        const unit = units.get(l.unitCode);
        if (!unit) report('unit_code', `unknown unit ${l.unitCode}`, l.line);
        else {
          try {
            requireScope(principal, unit.path, l.unitCode);
          } catch (e) {
            report('unit_code', (e as Error).message, l.line);
          }
        }
        if (!PAGE_ID_RE.test(l.pageId ?? '')) report('page_id', `"${l.pageId}" is not a numeric Page id`, l.line);
        const mappingOnly = via === 'import' && !l.accessToken;
        if (!mappingOnly && (!l.accessToken || l.accessToken.length < 10 || /\s/.test(l.accessToken))) {
          report('access_token', 'is missing or malformed', l.line);
        }
        if (l.label !== undefined && (l.label.length > MAX_LABEL_LENGTH || [...l.label].some(isControl))) {
          report('label', `is longer than ${MAX_LABEL_LENGTH} characters or holds control characters`, l.line);
        }
        if (seenPage.has(l.pageId)) report('page_id', `Page ${l.pageId} appears twice (line ${seenPage.get(l.pageId)})`, l.line);
        seenPage.set(l.pageId, l.line);
      }
      afterValidation();
      // A Page belongs to at most one active unit: reject links that would take a Page from another unit.
      // A retired Page (unlinked, or left behind by a reorganisation) may be linked again.
      const byPage = new Map(links.map((l) => [l.pageId, l]));
      const pageIds = [...byPage.keys()];
      const existing = new Map<string, { unitId: number; unitCode: string; label: string | null; retired: boolean }>();
      for (let i = 0; i < pageIds.length; i += CHUNK) {
        const taken = await trx
          .selectFrom('pages')
          .innerJoin('units', 'units.id', 'pages.unit_id')
          .select([
            'pages.page_id',
            'pages.unit_id',
            'units.code',
            'pages.label',
            'pages.retired_at',
            'units.retired_at as unit_retired_at',
          ])
          .where('pages.page_id', 'in', pageIds.slice(i, i + CHUNK))
          .execute();
        for (const t of taken) {
          const retired = t.retired_at !== null || t.unit_retired_at !== null;
          existing.set(t.page_id, { unitId: t.unit_id, unitCode: t.code, label: t.label, retired });
          const l = byPage.get(t.page_id)!;
          if (!retired && t.code !== l.unitCode) report('page_id', `Page ${t.page_id} is already linked to unit ${t.code}`, l.line);
        }
      }
      afterValidation();
      // New Pages go after the unit's current ones, in the order given.
      const nextPosition = new Map<number, number>();
      const unitIds = [...new Set([...units.values()].map((u) => u.id))];
      for (let i = 0; i < unitIds.length; i += CHUNK) {
        const rows = await trx
          .selectFrom('pages')
          .select((eb) => ['unit_id', eb.fn.max('position').as('max')])
          .where('unit_id', 'in', unitIds.slice(i, i + CHUNK))
          .where('retired_at', 'is', null)
          .groupBy('unit_id')
          .execute();
        for (const r of rows) nextPosition.set(r.unit_id, Number(r.max) + 1);
      }
      const now = new Date().toISOString();
      const values = links.map((l) => {
        const unit = units.get(l.unitCode)!;
        const before = existing.get(l.pageId);
        const stays = before && !before.retired && before.unitId === unit.id;
        let position = 0;
        if (!stays) {
          position = nextPosition.get(unit.id) ?? 0;
          nextPosition.set(unit.id, position + 1);
        }
        return {
          row: {
            page_id: l.pageId,
            unit_id: unit.id,
            unit_code: l.unitCode,
            label: l.label ?? (stays ? before.label : null),
            position,
            token_ciphertext: l.accessToken ? cipher.encrypt(l.accessToken) : null,
            token_status: l.accessToken ? 'unknown' : 'no_token',
            token_status_reason: null,
            token_checked_at: null,
            tasks: null,
            retired_at: null,
            created_at: now,
            updated_at: now,
          },
          stays: Boolean(stays),
        };
      });
      // A row with a token sets it (and resets its status); a mapping row keeps whatever token the Page already has.
      await upsertPages(
        trx,
        values.filter((v) => v.row.token_ciphertext !== null).map((v) => v.row),
        'replace token',
      );
      await upsertPages(
        trx,
        values.filter((v) => v.row.token_ciphertext === null).map((v) => v.row),
        'keep token',
      );
      for (let i = 0; i < values.length; i += CHUNK) {
        // A Page that moved or came back gets its new position; one that stays keeps its place.
        for (const v of values.slice(i, i + CHUNK)) {
          if (!v.stays && existing.has(v.row.page_id)) {
            await trx.updateTable('pages').set({ position: v.row.position }).where('page_id', '=', v.row.page_id).execute();
          }
        }
      }
      // One entry per Page: the token of each was set or replaced (the entry never holds the token).
      await appendAuditMany(
        trx,
        links.map((l) => {
          const before = existing.get(l.pageId);
          return {
            actor: principal,
            action: 'page.link' as const,
            subject: { type: 'page', id: l.unitCode, path: units.get(l.unitCode)!.path },
            details: {
              via,
              pageId: l.pageId,
              label: l.label ?? null,
              previousUnit: before && before.unitCode !== l.unitCode ? before.unitCode : null,
              tokenReplaced: Boolean(l.accessToken),
            },
          };
        }),
      );
      return links.length;
    });
  }
}

/** Inserts Pages, or moves existing ones (by page_id) to their new unit and label; `replace token` also sets token and status. */
async function upsertPages(
  trx: Kysely<Database> | Transaction<Database>,
  rows: Insertable<PagesTable>[],
  token: 'replace token' | 'keep token',
): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    await trx
      .insertInto('pages')
      .values(rows.slice(i, i + CHUNK))
      .onConflict((oc) =>
        oc.column('page_id').doUpdateSet((eb) => ({
          unit_id: eb.ref('excluded.unit_id'),
          unit_code: eb.ref('excluded.unit_code'),
          label: eb.ref('excluded.label'),
          retired_at: null,
          updated_at: eb.ref('excluded.updated_at'),
          ...(token === 'replace token'
            ? {
                token_ciphertext: eb.ref('excluded.token_ciphertext'),
                token_status: eb.ref('excluded.token_status'),
                token_status_reason: null,
                token_checked_at: null,
                tasks: null,
              }
            : {}),
        })),
      )
      .execute();
  }
}
