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
