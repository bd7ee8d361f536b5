import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, readEnv } from '../../config';
import { watchPost } from '../../src/cli/watch';
import { createLogger } from '../../src/logger';
import { probeRedis } from '../../src/queues/redis';
import { seedOrganisation, startStack } from '../stack';

const MESSAGE = `Ủy ban Trung ương Mặt trận Tổ quốc Việt Nam trân trọng thông báo: Ngày hội Đại đoàn kết toàn dân tộc năm 2026 sẽ được tổ chức đồng loạt tại tất cả các khu dân cư trên cả nước. Kính mời bà con tham gia!`;

/**
 * `npm run demo`: the whole path on one machine. Simulator + API + workers on SQLite and the local
 * Redis, the real 10,807-unit tree, one national post written by an editor, approved by an approver,
 * delivered to every Page with a live progress bar. `--exit` stops after the summary.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { exit: { type: 'boolean', default: false }, port: { type: 'string' }, 'latency-ms': { type: 'string', default: '40' } },
    strict: true,
  });
  const env = readEnv();
  const base = loadConfig(env);
  try {
    await probeRedis(base.redisUrl);
  } catch {
    console.error(
      `Redis is not reachable at ${base.redisUrl}: start one with \`redis-server --daemonize yes\` (or \`docker compose up -d redis\`), or set REDIS_URL.`,
    );
    process.exit(1);
  }
  const dbFile = path.resolve('data/demo.db');
  for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) fs.rmSync(f, { force: true });
  const latency = Number(values['latency-ms']);
  console.log('Lan Tỏa demo: starting the Graph API simulator, the API and the workers (SQLite, local Redis)…');
  const stack = await startStack({
    env: {
      ...env,
      DATABASE_URL: `sqlite:${dbFile}`,
      QUEUE_PREFIX: `lantoa-demo-${crypto.randomBytes(3).toString('hex')}`,
      LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
    },
    simulator: { seed: 2025, latency: latency > 0 ? { kind: 'lognormal', medianMs: latency, sigma: 0.4 } : { kind: 'fixed', ms: 0 } },
    port: Number(values.port ?? base.port),
    log: createLogger(env.LOG_LEVEL ?? 'warn'),
  });
  let exitCode = 0;
  try {
    const t0 = Date.now();
    const { units, linked } = await seedOrganisation(stack);
    console.log(
      `Imported ${units.total} units (${units.created} new) + root, linked ${linked.linked} simulated Pages in ${((Date.now() - t0) / 1000).toFixed(1)} s.`,
    );

    const editor = await stack.admin.createKey({ name: 'Ban Tuyên giáo (biên tập)', role: 'editor', unit: 'root' });
    const approver = await stack.admin.createKey({ name: 'Thường trực (phê duyệt)', role: 'approver', unit: 'root' });
    const viewer = await stack.admin.createKey({ name: 'Vận hành (xem)', role: 'viewer', unit: 'root' });
    const keysFile = path.resolve('data/demo-keys.json');
    fs.writeFileSync(
      keysFile,
      JSON.stringify({ api: stack.apiUrl, admin: stack.adminKey, editor: editor.key, approver: approver.key, viewer: viewer.key }, null, 2),
      { mode: 0o600 },
    );
    console.log(`Dashboard: ${stack.apiUrl}/dashboard   (sign in with the "viewer" key from ${keysFile})`);

    const post = await stack.admin.withKey(editor.key).createPost({ message: MESSAGE, target: { unit: 'root', scope: 'subtree' } });
    console.log(`Post ${post.id} submitted by the editor (${post.status}); approving as a different key…`);
    const approved = await stack.admin.withKey(approver.key).approve(post.id);
    const started = Date.now();
    console.log(`Approved (${approved.status}). Publishing to every Page:`);
    const final = await watchPost(stack.admin.withKey(viewer.key), post.id);
    const secs = (Date.now() - started) / 1000;
    const c = final.counts;
    const visible = [...stack.sim.visibleCounts().values()].reduce((a, b) => a + b, 0);
    console.log('');
    console.log(
      `Result: ${final.status}. published ${c.published}, failed ${c.failed}, skipped ${c.skipped}, cancelled ${c.cancelled} of ${final.total} Pages`,
    );
    console.log(
      `Elapsed ${secs.toFixed(1)} s (${((c.published + c.failed) / secs).toFixed(0)} deliveries/s); the simulator shows ${visible} visible posts.`,
    );
    console.log(`API:  ${stack.apiUrl}/v1/posts/${post.id}   (keys for this run: ${keysFile})`);
    console.log(`Docs: ${stack.apiUrl}/docs`);
    if (c.published !== final.total) exitCode = 1;
  } catch (err) {
    console.error(`Demo failed: ${(err as Error).message}`);
    exitCode = 1;
  }
  if (values.exit || exitCode !== 0) {
    await stack.close();
    process.exit(exitCode);
  }
  console.log('Serving until Ctrl-C…');
  const stop = async () => {
    await stack.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
