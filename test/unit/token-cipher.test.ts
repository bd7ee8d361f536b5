import { TokenCipher } from '../../src/security/token-cipher';

describe('TokenCipher', () => {
  const cipher = new TokenCipher(Buffer.alloc(32, 1));

  it('round-trips and never stores the plaintext', () => {
    const token = 'EAAGtokenvalue1234567890';
    const enc = cipher.encrypt(token);
    expect(enc).not.toContain(token);
    expect(enc.startsWith(`v1.${cipher.keyId}.`)).toBe(true);
    expect(cipher.decrypt(enc)).toBe(token);
  });

  it('uses a fresh IV per value', () => {
    expect(cipher.encrypt('same')).not.toBe(cipher.encrypt('same'));
  });

  it('rejects tampering and a different key', () => {
    const enc = cipher.encrypt('secret-token-value');
    const parts = enc.split('.');
    parts[4] = Buffer.from('tampered').toString('base64url');
    expect(() => cipher.decrypt(parts.join('.'))).toThrow();
    expect(() => new TokenCipher(Buffer.alloc(32, 2)).decrypt(enc)).toThrow(/encrypted with key/);
  });
});

describe('TokenCipher key rotation', () => {
  const oldKey = Buffer.alloc(32, 3);
  const newKey = Buffer.alloc(32, 4);
  const before = new TokenCipher(oldKey);
  const during = new TokenCipher(newKey, [oldKey]);

  it('decrypts values of a retired key and re-encrypts them with the current one', () => {
    const enc = before.encrypt('EAAGrotatingtoken');
    expect(during.needsRotation(enc)).toBe(true);
    expect(during.decrypt(enc)).toBe('EAAGrotatingtoken');
    const rotated = during.reencrypt(enc);
    expect(TokenCipher.keyIdOfValue(rotated)).toBe(during.keyId);
    expect(during.needsRotation(rotated)).toBe(false);
    expect(new TokenCipher(newKey).decrypt(rotated)).toBe('EAAGrotatingtoken');
  });

  it('names the missing key when a value was encrypted with a key that is no longer configured', () => {
    const enc = before.encrypt('EAAGlost');
    expect(() => new TokenCipher(newKey).decrypt(enc)).toThrow(/TOKEN_ENCRYPTION_KEYS_OLD/);
  });

  it('rejects keys that are not 32 bytes', () => {
    expect(() => new TokenCipher(newKey, [Buffer.alloc(16)])).toThrow(/32 bytes/);
  });
});
