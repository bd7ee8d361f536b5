import { testDatabases } from '../../helpers/databases';
import { startTestStack, type TestStack } from '../../helpers/stack';

/**
 * Windows-1258 bytes of the few letters these files use, as Windows writes them: a base letter of the
 * code page followed by a combining tone mark (0xD2 hook above, 0xF2 dot below, 0xDE tilde).
 * Hard-coded on purpose: no encoder is a dependency of the project.
 */
const CP1258: Record<string, number[]> = {
  ỉ: [0x69, 0xd2],
  ử: [0xfd, 0xd2],
  ệ: [0xea, 0xf2],
  ã: [0x61, 0xde],
  ư: [0xfd],
  ê: [0xea],
  ớ: [0xf5, 0xec],
};
function cp1258(text: string): Buffer {
  const out: number[] = [];
  for (const ch of text) {
    const mapped = CP1258[ch];
    if (mapped) out.push(...mapped);
    else if (ch.charCodeAt(0) < 0x80) out.push(ch.charCodeAt(0));
    else throw new Error(`test helper: no Windows-1258 bytes for ${ch}`);
  }
  return Buffer.from(out);
}

const HEADER = 'code,parent_code,level,type,name';
const ORIGINAL = [HEADER, '98,,1,Tỉnh,Tỉnh Thử Nghiệm Hai', '98001,98,2,Xã,Xã Thử Nghiệm'].join('\n');

describe.each(testDatabases())('CSV uploads that are not UTF-8 or not comma-separated, on $name', (db) => {
  let s: TestStack;
  const auth = () => ({ authorization: `Bearer ${s.adminKey}` });
  const post = (url: string, payload: string | Buffer) =>
    s.app.inject({ method: 'POST', url, headers: { ...auth(), 'content-type': 'text/csv' }, payload });
  const names = async () => {
    const get = async (code: string) => (await s.app.inject({ method: 'GET', url: `/v1/units/${code}`, headers: auth() })).json().name;
    return [await get('98'), await get('98001')];
  };
  const expectUnchanged = async () => expect(await names()).toEqual(['Tỉnh Thử Nghiệm Hai', 'Xã Thử Nghiệm']);

  beforeAll(async () => {
    s = await startTestStack(db, 'csvenc', { workers: false });
    const first = await post('/v1/units/import', ORIGINAL);
    expect(first.json()).toEqual({ created: 2, updated: 0, total: 2 });
  });
  afterAll(() => s.dispose());

  it('refuses a Windows-1258 file naming its first bad line, and renames nothing', async () => {
    // Line 2 is plain ASCII here, so the first byte that is not UTF-8 is on line 3.
    const renamed = [HEADER, '98,,1,Tinh,Tinh Thu Nghiem Hai', '98001,98,2,Xã,Xã Thử Nghiệm Mới'].join('\r\n');
    const bytes = cp1258(renamed);
    expect(bytes.includes(Buffer.from([0x58, 0x61, 0xde]))).toBe(true); // "Xã" as Windows-1258 writes it
    const res = await post('/v1/units/import', bytes);
    expect(res.statusCode).toBe(400);
    const { error } = res.json();
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.message).toMatch(/^CSV line 3 is not valid UTF-8 \(byte 0xDE\)/);
    expect(error.message).toContain('Windows-1258');
    expect(error.message).toContain('CSV UTF-8');
    expect(error.details.problems).toEqual([{ line: 3, message: expect.stringContaining('save the file as CSV UTF-8') }]);
    await expectUnchanged();
  });

  it('refuses the whole national-style file in Windows-1258 at line 2', async () => {
    const res = await post('/v1/units/import', cp1258(ORIGINAL.replace('Hai', 'Ba')));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.problems[0].line).toBe(2);
    await expectUnchanged();
  });

  it('refuses UTF-16 LE with a byte-order mark', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(ORIGINAL.replace('Hai', 'Bốn'), 'utf16le')]);
    const res = await post('/v1/units/import', utf16);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toContain('UTF-16');
    expect(res.json().error.message).toContain('CSV UTF-8');
    expect(res.json().error.details.problems[0].line).toBe(1);
    await expectUnchanged();
  });

  it('refuses a semicolon- or tab-separated header naming the separator', async () => {
    const semi = await post('/v1/units/import', ORIGINAL.replace(/,/g, ';').replace('Hai', 'Năm'));
    expect(semi.statusCode).toBe(400);
    expect(semi.json().error.message).toBe(
      'CSV header (line 1) uses \';\' (semicolon) as separator; Lan Tỏa expects commas: in Excel choose Save As → "CSV UTF-8 (Comma delimited) (*.csv)" and upload it again; nothing was imported',
    );
    expect(semi.json().error.details.problems).toEqual([{ line: 1, message: "separated by ';' (semicolon), expected commas" }]);
    const tab = await post('/v1/units/import', ORIGINAL.replace(/,/g, '\t').replace('Hai', 'Sáu'));
    expect(tab.statusCode).toBe(400);
    expect(tab.json().error.message).toContain('uses tab as separator');
    await expectUnchanged();
  });

  it('refuses data rows separated by semicolons under a comma header, naming each line', async () => {
    const rows = [HEADER, '98;;1;Tỉnh;Tỉnh Thử Nghiệm Bảy', '98001,98,2,Xã,Xã Thử Nghiệm', '98002;98;2;Xã;Xã Mới'].join('\n');
    const res = await post('/v1/units/import', rows);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toContain("line 2 uses ';' (semicolon) as separator");
    expect(res.json().error.details.problems.map((p: { line: number }) => p.line)).toEqual([2, 4]);
    await expectUnchanged();
  });

  it('accepts UTF-8 with a byte-order mark and CRLF line ends', async () => {
    const text = `\uFEFF${[HEADER, '98,,1,Tỉnh,Tỉnh Thử Nghiệm Hai', '98001,98,2,Xã,Xã Thử Nghiệm Tám'].join('\r\n')}\r\n`;
    const res = await post('/v1/units/import', Buffer.from(text, 'utf8'));
    expect(res.json()).toEqual({ created: 0, updated: 1, total: 2 });
    expect(await names()).toEqual(['Tỉnh Thử Nghiệm Hai', 'Xã Thử Nghiệm Tám']);
    const back = await post('/v1/units/import', ORIGINAL);
    expect(back.json()).toEqual({ created: 0, updated: 1, total: 2 });
    await expectUnchanged();
  });

  it('refuses a Pages file in Windows-1258 and links nothing', async () => {
    const res = await post('/v1/pages/import', cp1258('unit_code,page_id,access_token,label\n98,123456789,EAAtoken12345678,Trang Tỉnh'));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/^CSV line 2 is not valid UTF-8/);
    const unit = (await s.app.inject({ method: 'GET', url: '/v1/units/98', headers: auth() })).json();
    expect(unit.pages).toEqual([]);
  });

  it('refuses reorganisation CSV text that a client already decoded to U+FFFD, naming the file and line', async () => {
    const res = await s.app.inject({
      method: 'POST',
      url: '/v1/units/reorganise',
      headers: auth(),
      payload: {
        units: [HEADER, '98,,1,Tỉnh,Tỉnh Thử Nghiệm Hai', '98001,98,2,X\uFFFD,X\uFFFD Th\uFFFD\uFFFD'].join('\n'),
        merges: 'new_code,old_code,kind\n',
      },
    });
    expect(res.statusCode).toBe(400);
    const { error } = res.json();
    expect(error.message).toMatch(/^units: CSV line 3 is not valid UTF-8 \(U\+FFFD/);
    expect(error.message).toContain('CSV UTF-8');
    expect(error.details.problems).toEqual([{ file: 'units', line: 3, message: expect.stringContaining('CSV UTF-8') }]);
    const semi = await s.app.inject({
      method: 'POST',
      url: '/v1/units/reorganise',
      headers: auth(),
      payload: { units: ORIGINAL, merges: 'new_code;old_code;kind\n98;98;full' },
    });
    expect(semi.statusCode).toBe(400);
    expect(semi.json().error.message).toContain("merges: CSV header (line 1) uses ';' (semicolon) as separator");
    await expectUnchanged();
  });
});
