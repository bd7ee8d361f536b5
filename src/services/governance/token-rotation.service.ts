import { sql } from 'kysely';
import type { Db } from '../../db/create-db';
import { TokenCipher } from '../../security/token-cipher';
import { appendAudit, systemActor } from './audit.service';

export interface RotationResult {
  pages: number;
  /** Re-encrypted with the current key by this run (or, in a dry run, that would be). */
  rotated: number;
  alreadyCurrent: number;
  /** Units whose token could not be decrypted with any configured key (left untouched). */
  failed: string[];
  currentKeyId: string;
  /** Key ids seen before rotation, with their counts. */
  fromKeys: Record<string, number>;
  /**
   * The other secrets encrypted with the same key, re-encrypted the same way: webhook signing
   * secrets, the Business Manager system-user token, connect-link user tokens waiting for a pick.
   * Rows that could not be decrypted are in `failed` as `<table>:<id>`.
   */
  otherSecrets: Record<(typeof OTHER_SECRETS)[number]['table'], { seen: number; rotated: number }>;
}

/** Encrypted columns besides the Page tokens: table, id column, ciphertext column. */
const OTHER_SECRETS = [
  { table: 'webhooks', id: 'id', column: 'secret_ciphertext' },
  { table: 'business_connection', id: 'id', column: 'token_ciphertext' },
  { table: 'connect_links', id: 'id', column: 'user_token_ciphertext' },
] as const;

/**
 * Re-encrypts every Page token, and then every other stored secret, with the current key. Each batch is one transaction and each row is
 * updated only if it still holds the ciphertext that was read (a token replaced meanwhile is already
 * current), so the command can run while the service runs, and again after an interruption.
 */
export async function rotatePageTokens(
  db: Db,
  cipher: TokenCipher,
  opts: { dryRun?: boolean; batch?: number } = {},
): Promise<RotationResult> {
  const result: RotationResult = {
    pages: 0,
    rotated: 0,
    alreadyCurrent: 0,
    failed: [],
    currentKeyId: cipher.keyId,
    fromKeys: {},
    otherSecrets: {
      webhooks: { seen: 0, rotated: 0 },
      business_connection: { seen: 0, rotated: 0 },
      connect_links: { seen: 0, rotated: 0 },
    },
  };
  let after = '';
  for (;;) {
    const rows = await db
      .selectFrom('pages')
      .select(['page_id', 'unit_code', 'token_ciphertext'])
      .where('page_id', '>', after)
      .where('token_ciphertext', 'is not', null)
      .$narrowType<{ token_ciphertext: string }>()
      .orderBy('page_id')
      .limit(opts.batch ?? 500)
      .execute();
    if (!rows.length) break;
    after = rows[rows.length - 1]!.page_id;
    result.pages += rows.length;
    const updates: Array<{ pageId: string; from: string; to: string }> = [];
    for (const r of rows) {
      const keyId = TokenCipher.keyIdOfValue(r.token_ciphertext) ?? 'unknown';
      result.fromKeys[keyId] = (result.fromKeys[keyId] ?? 0) + 1;
      if (!cipher.needsRotation(r.token_ciphertext)) {
        result.alreadyCurrent++;
        continue;
      }
      try {
        updates.push({ pageId: r.page_id, from: r.token_ciphertext, to: cipher.reencrypt(r.token_ciphertext) });
      } catch {
        result.failed.push(r.unit_code);
      }
    }
    if (opts.dryRun) {
      result.rotated += updates.length;
      continue;
    }
    await db.transaction().execute(async (trx) => {
      for (const u of updates) {
        const res = await trx
          .updateTable('pages')
          .set({ token_ciphertext: u.to })
          .where('page_id', '=', u.pageId)
          .where('token_ciphertext', '=', u.from)
          .executeTakeFirst();
        result.rotated += Number(res.numUpdatedRows);
      }
    });
  }
  for (const o of OTHER_SECRETS) {
    const rows = (
      await sql<{ id: string; value: string }>`select ${sql.ref(o.id)} as id, ${sql.ref(o.column)} as value
      from ${sql.table(o.table)} where ${sql.ref(o.column)} is not null`.execute(db)
    ).rows;
    const tally = result.otherSecrets[o.table];
    for (const r of rows) {
      tally.seen++;
      if (!cipher.needsRotation(r.value)) continue;
      let to: string;
      try {
        to = cipher.reencrypt(r.value);
      } catch {
        result.failed.push(`${o.table}:${r.id}`);
        continue;
      }
      if (opts.dryRun) {
        tally.rotated++;
        continue;
      }
      const res = await sql`update ${sql.table(o.table)} set ${sql.ref(o.column)} = ${to}
        where ${sql.ref(o.id)} = ${r.id} and ${sql.ref(o.column)} = ${r.value}`.execute(db);
      tally.rotated += Number(res.numAffectedRows ?? 0n);
    }
  }
  if (!opts.dryRun) {
    await appendAudit(db, {
      actor: systemActor('cli'),
      action: 'tokens.rotate_key',
      subject: { type: 'tokens', id: 'pages', path: '/root/' },
      details: {
        toKeyId: cipher.keyId,
        fromKeys: result.fromKeys,
        rotated: result.rotated,
        otherSecrets: result.otherSecrets,
        failed: result.failed.length,
      },
    });
  }
  return result;
}
