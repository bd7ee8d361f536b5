import crypto from 'node:crypto';

/** The key id is a fingerprint, not the key: 8 bytes of SHA-256 reveal nothing useful. */
export function keyIdOf(key: Buffer): string {
  return crypto.createHash('sha256').update(key).digest('base64url').slice(0, 11);
}

/**
 * Page tokens at rest: AES-256-GCM with a random 96-bit IV per value and the key id stored
 * alongside (`v1.<keyId>.<iv>.<tag>.<ciphertext>`). Encryption always uses the current key;
 * decryption accepts the current key and any retired one still configured, so the key can be
 * rotated while the service runs, then `lantoa tokens rotate-key` re-encrypts every value.
 */
export class TokenCipher {
  readonly keyId: string;
  private readonly keys = new Map<string, Buffer>();

  constructor(
    private readonly key: Buffer,
    oldKeys: readonly Buffer[] = [],
  ) {
    for (const k of [key, ...oldKeys]) {
      if (k.length !== 32) throw new Error('token encryption keys must be 32 bytes');
    }
    this.keyId = keyIdOf(key);
    for (const k of oldKeys) this.keys.set(keyIdOf(k), k);
    this.keys.set(this.keyId, key);
  }

  encrypt(plaintext: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return ['v1', this.keyId, iv.toString('base64url'), tag.toString('base64url'), ct.toString('base64url')].join('.');
  }

  /** The key id a value was encrypted with (no decryption). */
  static keyIdOfValue(value: string): string | undefined {
    const [version, keyId] = value.split('.');
    return version === 'v1' ? keyId : undefined;
  }

  /** True when the value is not encrypted with the current key (rotation still has to visit it). */
  needsRotation(value: string): boolean {
    return TokenCipher.keyIdOfValue(value) !== this.keyId;
  }

  decrypt(value: string): string {
    const [version, keyId, iv, tag, ct] = value.split('.');
    if (version !== 'v1' || !keyId || !iv || !tag || ct === undefined) throw new Error('unrecognised token ciphertext format');
    const key = this.keys.get(keyId);
    if (!key) {
      throw new Error(
        `token was encrypted with key ${keyId}, which is neither the current key ${this.keyId} nor in TOKEN_ENCRYPTION_KEYS_OLD`,
      );
    }
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** Decrypts with whichever configured key applies and encrypts again with the current key. */
  reencrypt(value: string): string {
    return this.encrypt(this.decrypt(value));
  }
}

export function generateEncryptionKey(): string {
  return crypto.randomBytes(32).toString('base64');
}
