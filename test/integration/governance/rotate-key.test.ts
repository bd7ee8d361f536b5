import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../../src/db/create-db';
import { TokenCipher, generateEncryptionKey } from '../../../src/security/token-cipher';
import { BOOTSTRAP_ADMIN_ID, type Principal } from '../../../src/services/auth/keys.service';
import { PagesService } from '../../../src/services/tree/pages.service';
import { UnitsService } from '../../../src/services/tree/units.service';
import { loadTestEnv } from '../../../config/test-env';

const ROOT = path.resolve(__dirname, '../../..');

/** Runs the real `lantoa` bin with only the given environment. */
function lantoa(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/lantoa.js'), ...args], {
    cwd: ROOT,
    env: { PATH: loadTestEnv().path, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

describe('lantoa tokens rotate-key', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-rotate-'));
  const database = { kind: 'sqlite' as const, file: path.join(dir, 'rotate.db') };
  const env = { DATABASE_URL: `sqlite:${database.file}`, LOG_LEVEL: 'silent' };
  const oldKey = generateEncryptionKey();
  const newKey = generateEncryptionKey();
  const tokens = new Map([
    ['01', 'EAAGtokenOfHanoi0001'],
    ['79', 'EAAGtokenOfHCMC00079'],
    ['001', 'EAAGtokenOfBaDinh001'],
  ]);
  const WEBHOOK_SECRET = 'whsec_signingSecretOfTheHook';
  const SYSTEM_USER_TOKEN = 'EAAGsystemUserTokenOfTheBusiness';
  const admin: Principal = { keyId: BOOTSTRAP_ADMIN_ID, name: 'admin', role: 'admin', unitId: 1, unitCode: 'root', unitPath: '/root/' };
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function ciphertexts(): Promise<Map<string, string>> {
    const store = await openStore(database);
    try {
      return new Map(
        (await store.db.selectFrom('pages').select(['unit_code', 'token_ciphertext']).execute()).map((r) => [
          r.unit_code,
          r.token_ciphertext!,
        ]),
      );
    } finally {
      await store.close();
    }
  }

  beforeAll(async () => {
    const store = await openStore(database);
    await new UnitsService(store.db).importCsv(
      'code,parent_code,level,type,name\n01,,1,Thành phố,Hà Nội\n79,,1,Thành phố,Hồ Chí Minh\n001,01,2,Quận,Ba Đình',
    );
    const cipher = new TokenCipher(Buffer.from(oldKey, 'base64'));
    await new PagesService(store.db, () => cipher).importCsv(
      admin,
      ['unit_code,page_id,access_token', ...[...tokens].map(([u, t], i) => `${u},${100 + i},${t}`)].join('\n'),
    );
    // The other secrets under the same key: a webhook signing secret and the Business Manager system-user token.
    const at = new Date().toISOString();
    await store.db
      .insertInto('webhooks')
      .values({
        id: 'wh_1',
        key_id: BOOTSTRAP_ADMIN_ID,
        unit_id: 1,
        unit_code: 'root',
        url: 'https://hooks.example/x',
        events: '[]',
        secret_ciphertext: cipher.encrypt(WEBHOOK_SECRET),
        created_at: at,
        deleted_at: null,
      })
      .execute();
    await store.db
      .insertInto('business_connection')
      .values({
        id: 'default',
        token_ciphertext: cipher.encrypt(SYSTEM_USER_TOKEN),
        token_type: 'SYSTEM_USER',
        subject_id: '615',
        scopes: '[]',
        expires_at: null,
        status: 'valid',
        status_reason: null,
        checked_at: at,
        last_sync_at: null,
        last_sync: null,
        updated_by: BOOTSTRAP_ADMIN_ID,
        created_at: at,
        updated_at: at,
      })
      .execute();
    await store.close();
  });

  async function otherSecrets(): Promise<string[]> {
    const store = await openStore(database);
    try {
      return [
        (await store.db.selectFrom('webhooks').select('secret_ciphertext').executeTakeFirstOrThrow()).secret_ciphertext,
        (await store.db.selectFrom('business_connection').select('token_ciphertext').executeTakeFirstOrThrow()).token_ciphertext,
      ];
    } finally {
      await store.close();
    }
  }

  it('re-encrypts every Page token with the new key, using the old key to read them; a second run has nothing to do', async () => {
    const dry = await lantoa(['tokens', 'rotate-key', '--dry-run'], {
      ...env,
      TOKEN_ENCRYPTION_KEY: newKey,
      TOKEN_ENCRYPTION_KEYS_OLD: oldKey,
    });
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.out)).toMatchObject({ dryRun: true, pages: 3, rotated: 3, alreadyCurrent: 0, failedCount: 0 });
    const oldId = new TokenCipher(Buffer.from(oldKey, 'base64')).keyId;
    expect([...(await ciphertexts()).values()].every((v) => TokenCipher.keyIdOfValue(v) === oldId)).toBe(true);

    const run = await lantoa(['tokens', 'rotate-key'], { ...env, TOKEN_ENCRYPTION_KEY: newKey, TOKEN_ENCRYPTION_KEYS_OLD: oldKey });
    expect({ code: run.code, err: run.err }).toEqual({ code: 0, err: '' });
    const newOnly = new TokenCipher(Buffer.from(newKey, 'base64'));
    expect(JSON.parse(run.out)).toMatchObject({
      dryRun: false,
      pages: 3,
      rotated: 3,
      currentKeyId: newOnly.keyId,
      fromKeys: { [oldId]: 3 },
    });
    for (const [unit, value] of await ciphertexts()) expect(newOnly.decrypt(value)).toBe(tokens.get(unit));
    expect(JSON.parse(run.out).otherSecrets).toEqual({
      webhooks: { seen: 1, rotated: 1 },
      business_connection: { seen: 1, rotated: 1 },
      connect_links: { seen: 0, rotated: 0 },
    });
    expect((await otherSecrets()).map((v) => newOnly.decrypt(v))).toEqual([WEBHOOK_SECRET, SYSTEM_USER_TOKEN]);

    const again = await lantoa(['tokens', 'rotate-key'], { ...env, TOKEN_ENCRYPTION_KEY: newKey });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ rotated: 0, alreadyCurrent: 3 });

    const store = await openStore(database);
    const audit = await store.db.selectFrom('audit_log').selectAll().where('action', '=', 'tokens.rotate_key').execute();
    await store.close();
    expect(audit).toHaveLength(2);
    expect(audit[0]).toMatchObject({ actor_key_id: 'system:cli' });
    expect(JSON.parse(audit[0]!.details)).toMatchObject({ toKeyId: newOnly.keyId, rotated: 3, failed: 0 });
  }, 60_000);

  it('exits 1 naming the problem when a token was encrypted with a key it was not given, and changes nothing', async () => {
    const before = await ciphertexts();
    const res = await lantoa(['tokens', 'rotate-key'], { ...env, TOKEN_ENCRYPTION_KEY: generateEncryptionKey() });
    expect(res.code).toBe(1);
    expect(JSON.parse(res.out)).toMatchObject({ rotated: 0, failedCount: 5 });
    expect(res.err).toContain('TOKEN_ENCRYPTION_KEYS_OLD');
    expect(await ciphertexts()).toEqual(before);
    for (const t of [...tokens.values(), WEBHOOK_SECRET, SYSTEM_USER_TOKEN]) expect(res.out + res.err).not.toContain(t);
  }, 60_000);
});
