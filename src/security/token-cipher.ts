import crypto from 'node:crypto';

/**
 * Page tokens at rest: AES-256-GCM with a random 96-bit IV per value and the key id stored
 * alongside, so the key can be rotated by re-encrypting (`v1.<keyId>.<iv>.<tag>.<ciphertext>`).
 */
export class TokenCipher {
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('TOKEN_ENCRYPTION_KEY must be 32 bytes');
    // The key id is a fingerprint, not the key: 8 bytes of SHA-256 reveal nothing useful.
    this.keyId = crypto.createHash('sha256').update(key).digest('base64url').slice(0, 11);
  }

  encrypt(plaintext: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return ['v1', this.keyId, iv.toString('base64url'), tag.toString('base64url'), ct.toString('base64url')].join('.');
  }

  decrypt(value: string): string {
    const [version, keyId, iv, tag, ct] = value.split('.');
    if (version !== 'v1' || !iv || !tag || ct === undefined) throw new Error('unrecognised token ciphertext format');
    if (keyId !== this.keyId) throw new Error(`token was encrypted with key ${keyId}, not the configured key ${this.keyId}`);
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }
}

export function generateEncryptionKey(): string {
  return crypto.randomBytes(32).toString('base64');
}
