import { loadConfig } from '../../config';
import { openStore } from '../db/create-db';
import { TokenCipher } from '../security/token-cipher';
import { rotatePageTokens } from '../services/governance/token-rotation.service';

/**
 * `lantoa tokens rotate-key [--dry-run]`: runs next to the store (not through the API), with the
 * service's own environment: TOKEN_ENCRYPTION_KEY = the new key, TOKEN_ENCRYPTION_KEYS_OLD = the
 * retired ones. Exit 0 when every token is on the new key, 1 otherwise.
 */
export async function rotateKeyCommand(opts: { dryRun: boolean }): Promise<number> {
  const config = loadConfig();
  if (!config.tokenEncryptionKey) {
    console.error('TOKEN_ENCRYPTION_KEY is not set: set it to the new key and TOKEN_ENCRYPTION_KEYS_OLD to the old one(s)');
    return 2;
  }
  const cipher = new TokenCipher(config.tokenEncryptionKey, config.oldTokenEncryptionKeys);
  const store = await openStore(config.database, { poolSize: 2 });
  try {
    const r = await rotatePageTokens(store.db, cipher, { dryRun: opts.dryRun });
    console.log(JSON.stringify({ dryRun: opts.dryRun, ...r, failed: r.failed.slice(0, 50), failedCount: r.failed.length }, null, 2));
    if (r.failed.length) {
      console.error(
        `${r.failed.length} secret(s) could not be decrypted with any configured key; add the missing key to TOKEN_ENCRYPTION_KEYS_OLD, or relink those Pages (and replace those webhook secrets or the system-user token)`,
      );
    }
    return r.failed.length ? 1 : 0;
  } finally {
    await store.close();
  }
}
