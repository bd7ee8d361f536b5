import crypto from 'node:crypto';
import { decodeCsvBytes, firstInvalidUtf8, parseCsv } from '../../src/services/tree/csv';

const fatal = new TextDecoder('utf-8', { fatal: true });
const decodes = (b: Uint8Array) => {
  try {
    fatal.decode(b);
    return true;
  } catch {
    return false;
  }
};

describe('CSV bytes and separators', () => {
  it('accepts what a fatal TextDecoder accepts, on random bytes and on mangled real text', () => {
    const text = Buffer.from('Tỉnh Thử Nghiệm, Xã Đông Hòa 🇻🇳 ₫ 𝄞\n', 'utf8');
    for (let i = 0; i < 5_000; i++) {
      const b = i % 2 ? crypto.randomBytes(1 + (i % 24)) : Buffer.from(text);
      if (i % 2 === 0) b[i % b.length] = crypto.randomBytes(1)[0]!; // one byte changed
      const bad = firstInvalidUtf8(b);
      expect({ hex: b.toString('hex'), valid: bad === -1 }).toEqual({ hex: b.toString('hex'), valid: decodes(b) });
      // Everything before the reported byte is valid UTF-8 on its own.
      if (bad >= 0) expect(decodes(b.subarray(0, bad))).toBe(true);
    }
  });

  it('names the line of the first bad byte (1-based), and drops a UTF-8 byte-order mark', () => {
    expect(() => decodeCsvBytes(Buffer.from([0x61, 0x0a, 0x62, 0x0d, 0x0a, 0x54, 0x69, 0xd2, 0x6e]))).toThrow(
      /^CSV line 3 is not valid UTF-8 \(byte 0xD2\)/,
    );
    expect(decodeCsvBytes(Buffer.from('\uFEFFcode,name\r\n1,Hà Nội\r\n', 'utf8'))).toBe('code,name\r\n1,Hà Nội\r\n');
  });

  it('parses CRLF text with a byte-order mark, and names a semicolon header', () => {
    expect(parseCsv('\uFEFFcode,name\r\n1,Hà Nội\r\n', ['code', 'name'])).toEqual([{ line: 2, values: { code: '1', name: 'Hà Nội' } }]);
    expect(() => parseCsv('code;name\n1;"Hà; Nội"\n', ['code', 'name'])).toThrow("uses ';' (semicolon) as separator");
    // A semicolon inside a quoted field of a comma file is data, not a separator.
    expect(parseCsv('code,name\n1,"Hà; Nội; x"\n', ['code', 'name'])).toEqual([{ line: 2, values: { code: '1', name: 'Hà; Nội; x' } }]);
  });
});
