import type { Db } from '../../db/create-db';
import { ValidationError } from '../../errors/app-error';
import type { TokenCipher } from '../../security/token-cipher';
import { appendAuditMany } from '../governance/audit.service';
import { parseCsv, throwIfProblems, type RowProblem } from './csv';
import type { Principal } from '../auth/keys.service';
import { requireScope } from '../auth/keys.service';

export const PAGE_ID_RE = /^\d{1,32}$/;
export const TOKEN_STATUSES = ['unknown', 'valid', 'expiring', 'needs_reauth'] as const;
const CHUNK = 500;

export interface PageLink {
  unitCode: string;
  pageId: string;
  accessToken: string;
}

export class PagesService {
  constructor(
    private readonly db: Db,
    private readonly cipher: () => TokenCipher,
  ) {}

  /** Links a Page (and its token, encrypted) to a unit; a new token resets the token status. */
  async link(principal: Principal, link: PageLink): Promise<void> {
    // A unit outside the caller's branch is a 403 here (in a CSV file it is one of the file's problems).
    const unit = await this.db.selectFrom('units').select('path').where('code', '=', link.unitCode).executeTakeFirst();
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

  /** `unit_code,page_id,access_token` CSV, one transaction; any bad row rejects the file. */
  async importCsv(principal: Principal, text: string): Promise<{ linked: number; total: number }> {
    const rows = parseCsv(text, ['unit_code', 'page_id', 'access_token']);
    const problems: RowProblem[] = [];
    const links = rows.map(({ line, values }) => ({
      line,
      unitCode: values.unit_code!,
      pageId: values.page_id!,
      accessToken: values.access_token!,
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

  private async linkMany(
    principal: Principal,
    links: Array<PageLink & { line: number }>,
    report: (field: string, message: string, line: number) => void,
    afterValidation: () => void,
    via: 'api' | 'import',
  ): Promise<number> {
    const cipher = this.cipher();
    return this.db.transaction().execute(async (trx) => {
      const codes = [...new Set(links.map((l) => l.unitCode))];
      const units = new Map<string, string>();
      for (let i = 0; i < codes.length; i += CHUNK) {
        const found = await trx
          .selectFrom('units')
          .select(['code', 'path'])
          .where('code', 'in', codes.slice(i, i + CHUNK))
          .execute();
        for (const u of found) units.set(u.code, u.path);
      }
      const seenUnit = new Map<string, number>();
      const seenPage = new Map<string, number>();
      for (const l of links) {
        const path = units.get(l.unitCode);
        if (!path) report('unit_code', `unknown unit ${l.unitCode}`, l.line);
        else {
          try {
            requireScope(principal, path, l.unitCode);
          } catch (e) {
            report('unit_code', (e as Error).message, l.line);
          }
        }
        if (!PAGE_ID_RE.test(l.pageId ?? '')) report('page_id', `"${l.pageId}" is not a numeric Page id`, l.line);
        if (!l.accessToken || l.accessToken.length < 10 || /\s/.test(l.accessToken)) {
          report('access_token', 'is missing or malformed', l.line);
        }
        if (seenUnit.has(l.unitCode)) report('unit_code', `unit ${l.unitCode} appears twice (line ${seenUnit.get(l.unitCode)})`, l.line);
        if (seenPage.has(l.pageId)) report('page_id', `Page ${l.pageId} appears twice (line ${seenPage.get(l.pageId)})`, l.line);
        seenUnit.set(l.unitCode, l.line);
        seenPage.set(l.pageId, l.line);
      }
      afterValidation();
      // A Page may belong to one unit only: reject links that would steal a Page from another unit.
      const byPage = new Map(links.map((l) => [l.pageId, l]));
      const pageIds = [...byPage.keys()];
      for (let i = 0; i < pageIds.length; i += CHUNK) {
        const taken = await trx
          .selectFrom('pages')
          .select(['page_id', 'unit_code'])
          .where('page_id', 'in', pageIds.slice(i, i + CHUNK))
          .execute();
        for (const t of taken) {
          const l = byPage.get(t.page_id)!;
          if (t.unit_code !== l.unitCode) report('page_id', `Page ${t.page_id} is already linked to unit ${t.unit_code}`, l.line);
        }
      }
      afterValidation();
      const previous = new Map<string, string>();
      for (let i = 0; i < codes.length; i += CHUNK) {
        for (const r of await trx
          .selectFrom('pages')
          .select(['unit_code', 'page_id'])
          .where('unit_code', 'in', codes.slice(i, i + CHUNK))
          .execute()) {
          previous.set(r.unit_code, r.page_id);
        }
      }
      const now = new Date().toISOString();
      for (let i = 0; i < links.length; i += CHUNK) {
        const values = links.slice(i, i + CHUNK).map((l) => ({
          unit_code: l.unitCode,
          page_id: l.pageId,
          token_ciphertext: cipher.encrypt(l.accessToken),
          token_status: 'unknown',
          token_status_reason: null,
          token_checked_at: null,
          created_at: now,
          updated_at: now,
        }));
        await trx
          .insertInto('pages')
          .values(values)
          .onConflict((oc) =>
            oc.column('unit_code').doUpdateSet((eb) => ({
              page_id: eb.ref('excluded.page_id'),
              token_ciphertext: eb.ref('excluded.token_ciphertext'),
              token_status: eb.ref('excluded.token_status'),
              token_status_reason: null,
              token_checked_at: null,
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
      }
      // One entry per Page: the token of each was set or replaced (the entry never holds the token).
      await appendAuditMany(
        trx,
        links.map((l) => ({
          actor: principal,
          action: 'page.link' as const,
          subject: { type: 'page', id: l.unitCode, path: units.get(l.unitCode)! },
          details: { via, pageId: l.pageId, previousPageId: previous.get(l.unitCode) ?? null, tokenReplaced: true },
        })),
      );
      return links.length;
    });
  }
}
