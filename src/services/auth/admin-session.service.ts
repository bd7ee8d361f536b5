import crypto from 'node:crypto';
import type { Db } from '../../db/create-db';
import { ForbiddenError } from '../../errors/app-error';
import { BOOTSTRAP_ADMIN_ID, keyPrincipal, type KeysService, type Principal } from './keys.service';

export const ADMIN_SESSION_COOKIE = 'lantoa_admin';

/**
 * Short-lived browser sessions for the admin UIs (Bull Board), so a key never has to travel in a URL.
 * The cookie holds no key: `v1.<keyId>.<expiresAtMs>.<HMAC>`, signed with a key derived from
 * TOKEN_ENCRYPTION_KEY (so every API process accepts it). Each request re-reads the key, so revoking it
 * ends its sessions at once.
 */
export class AdminSessionService {
  private readonly macKey: Buffer;

  constructor(
    private readonly db: Db,
    private readonly keys: KeysService,
    private readonly opts: { ttlMs: number; secret: Buffer | undefined; bootstrapAdmin: boolean },
  ) {
    // Without TOKEN_ENCRYPTION_KEY (never the case for `npm start`) sessions are valid in this process only.
    this.macKey = opts.secret
      ? Buffer.from(crypto.hkdfSync('sha256', opts.secret, Buffer.alloc(0), 'lantoa admin session v1', 32))
      : crypto.randomBytes(32);
  }

  /** Exchanges an admin key for a session: 401 for an unknown key, 403 for a key that is not an admin. */
  async open(key: string): Promise<{ token: string; principal: Principal; expiresAt: Date }> {
    const principal = await this.keys.authenticate(key);
    if (principal.role !== 'admin') throw new ForbiddenError(`role ${principal.role} may not open an admin session (needs admin)`);
    const expiresAt = new Date(Date.now() + this.opts.ttlMs);
    return { token: this.issue(principal.keyId, expiresAt.getTime()), principal, expiresAt };
  }

  issue(keyId: string, expiresAtMs: number): string {
    const payload = `v1.${keyId}.${expiresAtMs}`;
    return `${payload}.${this.mac(payload)}`;
  }

  /** The principal of a valid, unexpired session whose key still exists; null otherwise. */
  async resolve(token: string | undefined): Promise<Principal | null> {
    const m = token ? /^v1\.([A-Za-z0-9_-]{1,100})\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(token) : null;
    if (!m) return null;
    const [, keyId, exp, mac] = m as unknown as [string, string, string, string];
    const expected = Buffer.from(this.mac(`v1.${keyId}.${exp}`));
    if (!crypto.timingSafeEqual(Buffer.from(mac), expected) || Number(exp) <= Date.now()) return null;
    if (keyId === BOOTSTRAP_ADMIN_ID) return this.opts.bootstrapAdmin ? this.keys.bootstrapPrincipal() : null;
    return keyPrincipal(this.db, 'id', keyId);
  }

  private mac(payload: string): string {
    return crypto.createHmac('sha256', this.macKey).update(payload).digest('base64url');
  }
}

/** The value of one cookie from a `Cookie` header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
