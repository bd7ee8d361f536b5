import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, ROOT, spawnNode, TSX } from '../helpers/processes';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';

describe('npm run start:worker (scale-out)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-wmetrics-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('serves its own /metrics on METRICS_PORT behind METRICS_TOKEN, then exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const prefix = uniquePrefix('wmetrics');
    const token = 'worker-scrape-token-0123456789';
    const p = spawnNode([TSX, path.join(ROOT, 'workers/main.ts')], {
      DATABASE_URL: `sqlite:${dir}/worker.db`,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 5).toString('base64'),
      METRICS_PORT: String(port),
      METRICS_TOKEN: token,
      LOG_LEVEL: 'warn',
    });
    const url = `http://127.0.0.1:${port}/metrics`;
    try {
      let res: Response | undefined;
      for (let i = 0; i < 300 && !res; i++) {
        res = await fetch(url, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
        if (!res) await new Promise((r) => setTimeout(r, 100));
      }
      expect({ status: res?.status, err: p.output().err }).toEqual({ status: 200, err: '' });
      const text = await res!.text();
      expect(text).toContain('# TYPE lantoa_deliveries_total counter');
      expect(text).toMatch(/^lantoa_queue_jobs\{queue="webhooks",state="waiting"\} 0$/m);
      expect(text).toMatch(/^lantoa_queue_up 1$/m);
      expect((await fetch(url)).status).toBe(401);
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
    } finally {
      p.child.kill('SIGKILL');
      await dropPrefix(prefix);
    }
  });
});
