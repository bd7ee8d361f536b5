import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadTestEnv } from '../../config/test-env';
import type { ReorganiseResult } from '../../src/cli/api-client';

const ROOT = path.resolve(__dirname, '../..');

/** What the contract's `POST /v1/units/reorganise` answers, per case; the CLI is run against this stand-in. */
function plan(applied: boolean): ReorganiseResult {
  return {
    applied,
    units: { kept: 40, renamed: 3, created: 1200, retired: 9000 },
    pages: {
      carried: 3300,
      retired: 7507,
      unassigned: Array.from({ length: 25 }, (_, i) => ({ unitCode: `0${1000 + i}`, pageId: `10000000000${1000 + i}` })),
    },
    keys: { suspended: [{ id: 'key_abc', name: 'Quận Ba Đình (biên tập)', unit: '001' }] },
    posts: { blocked: [] },
  };
}

describe('lantoa units reorganise', () => {
  let server: http.Server;
  let url: string;
  let dir: string;
  const requests: Array<{ method: string; url: string; auth: string | undefined; body: Record<string, unknown> }> = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (d: Buffer) => (raw += d.toString()));
      req.on('end', () => {
        const body = JSON.parse(raw || '{}') as Record<string, unknown>;
        requests.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
        const send = (status: number, v: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(v));
        };
        if (String(body.units).includes('BAD')) {
          return send(400, {
            error: {
              code: 'validation_failed',
              message: 'the reorganisation input has problems',
              details: {
                problems: [
                  { file: 'units', line: 3, field: 'parent_code', message: 'unknown parent 99' },
                  { file: 'merges', line: 7, field: 'kind', message: 'expected full or partial' },
                ],
              },
            },
          });
        }
        if (body.apply === true && body.force !== true) {
          return send(409, {
            error: {
              code: 'reorganisation_blocked',
              message: '1 post is still being delivered',
              details: { posts: [{ id: 'c8b3ae7b-854b-48b6-ae0b-f7b44e55e793', status: 'publishing', targetUnit: 'root' }] },
            },
          });
        }
        send(200, plan(body.apply === true));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-reorg-'));
    fs.writeFileSync(path.join(dir, 'units.csv'), 'code,parent_code,level,type,name\n01,,1,Thành phố Trung ương,Thành phố Hà Nội\n');
    fs.writeFileSync(path.join(dir, 'bad.csv'), 'code,parent_code,level,type,name\nBAD\n');
    fs.writeFileSync(path.join(dir, 'merges.csv'), 'new_code,old_code,kind\n01,01,full\n');
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function cli(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
    const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'src/cli/main.ts'), ...args], {
      cwd: dir,
      env: { PATH: loadTestEnv().path, LANTOA_API_URL: url, LANTOA_API_KEY: 'lt_admin_test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
  }

  it('a dry run sends both files and prints the counts, the first 20 unassigned Pages and the suspended keys', async () => {
    const r = await cli('units', 'reorganise', 'units.csv', 'merges.csv', '--pages', 'none');
    expect(r.code).toBe(0);
    const req = requests.at(-1)!;
    expect(req).toMatchObject({ method: 'POST', url: '/v1/units/reorganise', auth: 'Bearer lt_admin_test' });
    expect(req.body).toEqual({
      units: fs.readFileSync(path.join(dir, 'units.csv'), 'utf8'),
      merges: fs.readFileSync(path.join(dir, 'merges.csv'), 'utf8'),
      apply: false,
      pages: 'none',
    });
    expect(r.out).toContain('Dry run: nothing was changed');
    expect(r.out).toContain('Units: 40 kept, 3 renamed, 1,200 created, 9,000 retired');
    expect(r.out).toContain('Pages: 3,300 carried, 7,507 retired, 25 unassigned');
    expect(r.out).toContain('100000000001019  of 01019');
    expect(r.out).not.toContain('of 01020');
    expect(r.out).toContain('… and 5 more');
    expect(r.out).toContain('key_abc  Quận Ba Đình (biên tập)  (unit 001)');
    expect(r.out).toContain('Posts still being delivered: 0');
  }, 30_000);

  it('--apply blocked by a post in delivery exits 1 with the post; --force applies', async () => {
    const blocked = await cli('units', 'reorganise', 'units.csv', 'merges.csv', '--apply');
    expect(blocked.code).toBe(1);
    expect(blocked.err).toContain('reorganisation_blocked');
    expect(blocked.err).toContain('c8b3ae7b-854b-48b6-ae0b-f7b44e55e793  publishing  (target root)');
    const forced = await cli('units', 'reorganise', 'units.csv', 'merges.csv', '--apply', '--force');
    expect(forced.code).toBe(0);
    expect(requests.at(-1)!.body).toMatchObject({ apply: true, force: true });
    expect(forced.out).toContain('Reorganisation applied.');
  }, 30_000);

  it('rejected input exits 1 and prints each problem; a bad --pages is a usage error', async () => {
    const r = await cli('units', 'reorganise', 'bad.csv', 'merges.csv');
    expect(r.code).toBe(1);
    expect(r.err).toContain('validation_failed');
    expect(r.err).toContain('units line 3, parent_code: unknown parent 99');
    expect(r.err).toContain('merges line 7, kind: expected full or partial');
    const n = requests.length;
    const usage = await cli('units', 'reorganise', 'units.csv', 'merges.csv', '--pages', 'some');
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('--pages must be carry or none');
    expect(requests.length).toBe(n);
  }, 30_000);
});
