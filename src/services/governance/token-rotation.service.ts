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
}

/**
 * Re-encrypts every Page token with the current key. Each batch is one transaction and each row is
 * updated only if it still holds the ciphertext that was read (a token replaced meanwhile is already
 * current), so the command can run while the service runs, and again after an interruption.
 */
export async function rotatePageTokens(
  db: Db,
  cipher: TokenCipher,
  opts: { dryRun?: boolean; batch?: number } = {},
): Promise<RotationResult> {
  const result: RotationResult = { pages: 0, rotated: 0, alreadyCurrent: 0, failed: [], currentKeyId: cipher.keyId, fromKeys: {} };
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
  if (!opts.dryRun) {
    await appendAudit(db, {
      actor: systemActor('cli'),
      action: 'tokens.rotate_key',
      subject: { type: 'tokens', id: 'pages', path: '/root/' },
      details: { toKeyId: cipher.keyId, fromKeys: result.fromKeys, rotated: result.rotated, failed: result.failed.length },
    });
  }
  return result;
}
