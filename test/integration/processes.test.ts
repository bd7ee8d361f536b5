import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';

const ROOT = path.resolve(__dirname, '../..');
const TSX = require.resolve('tsx/cli');

function run(script: string, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [TSX, path.join(ROOT, script), ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ out, err }) };
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('processes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-proc-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('exits non-zero listing every bad variable', async () => {
    const p = run('src/main.ts', [], { PORT: 'x', DATABASE_URL: 'mysql://a', LOG_LEVEL: 'chatty' });
    expect(await p.exited).toBe(1);
    const { err } = p.output();
    for (const name of ['PORT', 'DATABASE_URL', 'LOG_LEVEL']) expect(err).toContain(`- ${name}:`);
  });

  it('npm start refuses to run without TOKEN_ENCRYPTION_KEY', async () => {
    const p = run('src/main.ts', [], { DATABASE_URL: `sqlite:${dir}/a.db` });
    expect(await p.exited).toBe(1);
    expect(p.output().err).toContain('TOKEN_ENCRYPTION_KEY is required');
  });

  it('the demo says in one line that Redis is unreachable', async () => {
    const p = run('src/demo/main.ts', ['--exit'], { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(await p.exited).toBe(1);
    const lines = p.output().err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Redis is not reachable at redis:\/\/127\.0\.0\.1:1.*redis-server/);
  });

  it('npm start serves /healthz and /readyz, then exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const prefix = uniquePrefix('proc');
    const p = run('src/main.ts', [], {
      PORT: String(port),
      DATABASE_URL: `sqlite:${dir}/start.db`,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
      ADMIN_API_KEY: 'test-admin-key-0123456789',
      LOG_LEVEL: 'warn',
    });
    try {
      let ready: Response | undefined;
      for (let i = 0; i < 200 && !ready; i++) {
        ready = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        if (!ready) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready?.status).toBe(200);
      expect(await ready!.json()).toEqual({ status: 'ready', redis: 'ok', store: 'ok', down: [] });
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const queues = await fetch(`http://127.0.0.1:${port}/v1/queues`, { headers: { authorization: 'Bearer test-admin-key-0123456789' } });
      expect(queues.status).toBe(200);
      expect(Object.keys((await queues.json()) as object)).toEqual(['fanout', 'deliveries']);
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
    } finally {
      p.child.kill('SIGKILL');
      await dropPrefix(prefix);
    }
  });
});
