import { loadConfig } from '../../config';
import { openStore } from '../db/create-db';
import { ConflictError } from '../errors/app-error';
import { KeysService } from '../services/auth/keys.service';
import { systemActor } from '../services/governance/audit.service';

/**
 * `lantoa keys bootstrap [--name N] [--force]`: creates the first admin key over root, straight in the
 * store (DATABASE_URL and the rest of the service's environment), for a service started without
 * ADMIN_API_KEY. Prints the key once. Refused (exit 1) while an active admin key of root exists, unless
 * --force. Audited as `key.bootstrap` by `system:keys-bootstrap`.
 */
export async function keysBootstrapCommand(
  opts: { name?: string; force: boolean },
  out: (line: string) => void = (l) => console.log(l),
  err: (line: string) => void = (l) => console.error(l),
): Promise<number> {
  const config = loadConfig();
  const store = await openStore(config.database, { poolSize: 2 });
  try {
    const keys = new KeysService(store.db, undefined);
    const created = await keys.bootstrap(systemActor('keys-bootstrap'), { ...(opts.name ? { name: opts.name } : {}), force: opts.force });
    out(JSON.stringify(created, null, 2));
    err('This is the only time the key is shown: keep it (e.g. LANTOA_API_KEY for the CLI) and create the other keys with it.');
    return 0;
  } catch (e) {
    if (e instanceof ConflictError) {
      err(`Refused: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    await store.close();
  }
}
