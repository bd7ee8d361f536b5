import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, readEnv } from '../../config';
import { ApiError, type ApiClient, type ReorganiseInput, type ReorganiseResult } from '../../src/cli/api-client';
import { blockedLines, problemLines, reorganiseSummary } from '../../src/cli/reorganise';
import { watchPost } from '../../src/cli/watch';
import { createLogger } from '../../src/logger';
import { probeRedis } from '../../src/queues/redis';
import type { PostView } from '../../src/services/read-models/post-views.service';
import { DEMO_PREFIX, dropKeysUnder } from './redis-keys';
import { MERGES_CSV_2025_07, seedOrganisation, SIM_APP, startStack, UNITS_CSV, UNITS_CSV_2025_03, type Stack } from '../stack';

const MESSAGE = `Ủy ban Trung ương Mặt trận Tổ quốc Việt Nam trân trọng thông báo: Ngày hội Đại đoàn kết toàn dân tộc năm 2026 sẽ được tổ chức đồng loạt tại tất cả các khu dân cư trên cả nước. Kính mời bà con tham gia!`;
/** The national post of `--reorganise` after the new tree is applied (another text: the simulator tells the copies apart by it). */
const MESSAGE_AFTER = `Ủy ban Trung ương Mặt trận Tổ quốc Việt Nam thông báo: từ ngày 01/07/2025, Mặt trận Tổ quốc các cấp hoạt động theo mô hình chính quyền địa phương hai cấp (tỉnh và xã). Trang của Mặt trận các tỉnh, xã, phường, đặc khu tiếp tục đưa tin tới bà con.`;
const RECALL_REASON = 'Thông báo trước khi sắp xếp đơn vị hành chính: thu hồi trên mọi Trang (demo)';
/** How long `--reorganise` waits for the recall of the first post to finish. */
const RECALL_TIMEOUT_MS = 15 * 60_000;

/**
 * Labels of the levels of a units CSV for the progress bars: 0 central, 1 provinces, the deepest level
 * communes, any level in between districts (2025-03: provinces / districts / communes; 2025-07: provinces / communes).
 */
function levelNamesOf(csv: string): Record<number, string> {
  const levels = csv
    .split(/\r?\n/)
    .slice(1)
    .filter(Boolean)
    .map((l) => Number(l.split(',')[2]));
  const deepest = Math.max(1, ...levels.filter(Number.isFinite));
  const names: Record<number, string> = { 0: 'central', 1: 'provinces' };
  for (let l = 2; l <= deepest; l++) names[l] = l === deepest ? 'communes' : 'districts';
  return names;
}

interface Roles {
  editor: ApiClient;
  approver: ApiClient;
  viewer: ApiClient;
}

/** Editor writes a national post, a different key approves it, the progress bar runs until it is final. */
async function publishNational(
  roles: Roles,
  message: string,
  levelNames: Record<number, string>,
): Promise<{ final: PostView; secs: number }> {
  const post = await roles.editor.createPost({ message, target: { unit: 'root', scope: 'subtree' } });
  console.log(`Post ${post.id} submitted by the editor (${post.status}); approving as a different key…`);
  const approved = await roles.approver.approve(post.id);
  const started = Date.now();
  console.log(`Approved (${approved.status}). Publishing to every Page:`);
  const final = await watchPost(roles.viewer, post.id, { levelNames });
  return { final, secs: (Date.now() - started) / 1000 };
}

function printResult(stack: Stack, final: PostView, secs: number): void {
  const c = final.counts;
  const visible = [...stack.sim.visibleCounts().values()].reduce((a, b) => a + b, 0);
  console.log('');
  console.log(
    `Result: ${final.status}. published ${c.published}, failed ${c.failed}, skipped ${c.skipped}, cancelled ${c.cancelled} of ${final.total} Pages`,
  );
  console.log(
    `Elapsed ${secs.toFixed(1)} s (${((c.published + c.failed) / secs).toFixed(0)} deliveries/s); the simulator shows ${visible} visible posts.`,
  );
}

/** Copies of a message in the simulator: all it ever got, and those still visible (published, not deleted). */
function simCopies(stack: Stack, pageIds: string[], message: string): { created: number; visible: number } {
  let created = 0;
  let visible = 0;
  for (const id of pageIds) {
    for (const p of stack.sim.postsOf(id)) {
      if (p.message !== message) continue;
      created++;
      if (p.isPublished && !p.isDeleted) visible++;
    }
  }
  return { created, visible };
}

/** Polls a recalled post until it is `recalled` (or the time runs out), printing its counts every few seconds. */
async function waitForRecall(api: ApiClient, postId: string): Promise<PostView> {
  const end = Date.now() + RECALL_TIMEOUT_MS;
  let printed = 0;
  for (;;) {
    const view = await api.getPost(postId);
    const c = view.counts;
    if (view.status !== 'recalling' || Date.now() > end || Date.now() - printed >= 2_000) {
      console.log(
        `  ${view.status}: recalled ${c.recalled}, recalling ${c.recalling}, recall_failed ${c.recall_failed}, still published ${c.published} of ${view.total} Pages`,
      );
      printed = Date.now();
    }
    if (view.status !== 'recalling' || Date.now() > end) return view;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** POST /v1/units/reorganise; a 400 or 409 prints its problems or blocked posts before it fails the demo. */
async function reorganise(stack: Stack, input: ReorganiseInput): Promise<ReorganiseResult> {
  try {
    return await stack.admin.reorganise(input);
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) console.error(problemLines(err).join('\n'));
    if (err instanceof ApiError && err.status === 409) console.error(blockedLines(err).join('\n'));
    throw err;
  }
}

/**
 * `--reorganise`: a national post on the 2025-03 tree, the 2025-07 reorganisation (dry run, then applied),
 * a second national post on the new tree, then the first post recalled from every Page it reached.
 * Returns the exit code: 0 only when every check held.
 */
async function reorganiseDemo(stack: Stack, roles: Roles, pageIds: string[], oldCsv: string): Promise<number> {
  const checks: Array<{ ok: boolean; what: string }> = [];
  const check = (ok: boolean, what: string) => {
    checks.push({ ok, what });
    console.log(`${ok ? '✔' : '✘'} ${what}`);
  };
  const indent = (lines: string[]) => lines.map((l) => `  ${l}`).join('\n');
  const before = pageIds.length;

  console.log(`\nStep 1 of 5: a national post on the 2025-03 tree (${before} Pages).`);
  const first = await publishNational(roles, MESSAGE, levelNamesOf(oldCsv));
  printResult(stack, first.final, first.secs);
  const c1 = first.final.counts;
  check(
    first.final.status === 'published' && first.final.total === before && c1.published === before,
    `first post published on ${c1.published} of ${before} Pages (status ${first.final.status}, ${first.final.total} deliveries)`,
  );

  const units = fs.readFileSync(UNITS_CSV, 'utf8');
  const merges = fs.readFileSync(MERGES_CSV_2025_07, 'utf8');
  console.log(`\nStep 2 of 5: reorganisation to ${path.basename(UNITS_CSV)} by ${path.basename(MERGES_CSV_2025_07)}, dry run.`);
  let t = Date.now();
  const plan = await reorganise(stack, { units, merges });
  console.log(indent(reorganiseSummary(plan)));
  console.log(`  (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  check(!plan.applied, 'the dry run changed nothing (applied: false)');

  console.log('\nStep 3 of 5: the same reorganisation, applied (Pages carried to the successor units).');
  t = Date.now();
  const done = await reorganise(stack, { units, merges, apply: true });
  console.log(indent(reorganiseSummary(done)));
  console.log(`  (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  const same = (['kept', 'renamed', 'created', 'retired'] as const).every((k) => plan.units[k] === done.units[k]);
  const samePages = plan.pages.carried === done.pages.carried && plan.pages.retired === done.pages.retired;
  console.log(`  ${same && samePages ? 'Same counts as the dry run.' : 'The counts differ from the dry run.'}`);
  check(done.applied, 'applied: true');
  check(
    done.pages.carried + done.pages.retired === before,
    `Pages carried ${done.pages.carried} + retired ${done.pages.retired} = ${done.pages.carried + done.pages.retired} (linked before: ${before})`,
  );

  const carried = done.pages.carried;
  console.log(`\nStep 4 of 5: a second national post on the new tree (${carried} Pages carried).`);
  const second = await publishNational(roles, MESSAGE_AFTER, levelNamesOf(units));
  printResult(stack, second.final, second.secs);
  const c2 = second.final.counts;
  check(
    second.final.status === 'published' && second.final.total === carried && c2.published === carried,
    `second post reached ${second.final.total} Pages, published on ${c2.published} (status ${second.final.status}; pages.carried = ${carried})`,
  );

  console.log(`\nStep 5 of 5: recall of the first post (${first.final.id}) from every Page it reached.`);
  const recall = await roles.approver.recall(first.final.id, RECALL_REASON);
  console.log(`Recall requested by the approver (${recall.status}): ${recall.queued} copies to delete.`);
  t = Date.now();
  const recalled = await waitForRecall(roles.viewer, first.final.id);
  console.log(`  (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  check(
    recalled.status === 'recalled',
    `first post ${recalled.status}: recalled ${recalled.counts.recalled}, recall_failed ${recalled.counts.recall_failed} of ${recalled.total}`,
  );

  const old = simCopies(stack, pageIds, MESSAGE);
  const now = simCopies(stack, pageIds, MESSAGE_AFTER);
  check(old.visible === 0, `the simulator shows ${old.visible} visible copies of the first post (of ${old.created} it received)`);
  check(now.visible === carried, `the simulator shows ${now.visible} visible copies of the second post (pages.carried = ${carried})`);

  const failed = checks.filter((c) => !c.ok);
  console.log(
    failed.length
      ? `\nReorganisation demo FAILED: ${failed.length} of ${checks.length} checks did not hold.`
      : `\nReorganisation demo passed: all ${checks.length} checks held.`,
  );
  console.log(`Posts: ${first.final.id} (recalled), ${second.final.id} (on the new tree).`);
  return failed.length ? 1 : 0;
}

/**
 * `npm run demo`: the whole path on one machine. Simulator + API + workers on SQLite and the local
 * Redis, the real tree of 2025-07 (3,356 units with root), one national post written by an editor,
 * approved by an approver, delivered to every Page with a live progress bar. `--exit` stops after the summary.
 * `--reorganise` starts on the 2025-03 tree (10,807 Pages) and reorganises it into the 2025-07 one in between
 * two national posts, then recalls the first (see reorganiseDemo); it exits when done.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      exit: { type: 'boolean', default: false },
      reorganise: { type: 'boolean', default: false },
      port: { type: 'string' },
      'latency-ms': { type: 'string', default: '40' },
    },
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
  // Keys of an earlier run that did not get to clean up (killed, crashed): only the demo's own prefix.
  const leftovers = await dropKeysUnder(base.redisUrl, DEMO_PREFIX);
  if (leftovers) console.log(`Removed ${leftovers} Redis keys under ${DEMO_PREFIX}: left by an earlier demo run that did not finish.`);
  const treeFile = values.reorganise ? UNITS_CSV_2025_03 : UNITS_CSV;
  for (const f of values.reorganise ? [treeFile, UNITS_CSV, MERGES_CSV_2025_07] : [treeFile]) {
    if (!fs.existsSync(f)) {
      console.error(`Missing ${path.relative(process.cwd(), f)}: the demo reads its trees from data/ (see data/README.md).`);
      process.exit(1);
    }
  }
  const dbFile = path.resolve('data/demo.db');
  for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) fs.rmSync(f, { force: true });
  const latency = Number(values['latency-ms']);
  console.log('Lan Tỏa demo: starting the Graph API simulator, the API and the workers (SQLite, local Redis)…');
  const stack = await startStack({
    env: {
      ...env,
      DATABASE_URL: `sqlite:${dbFile}`,
      QUEUE_PREFIX: DEMO_PREFIX,
      LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
      // The simulator's app: the Pages are connected through the (simulated) Business Manager, not tokens in a CSV.
      FB_APP_ID: SIM_APP.id,
      FB_APP_SECRET: SIM_APP.secret,
    },
    simulator: { seed: 2025, latency: latency > 0 ? { kind: 'lognormal', medianMs: latency, sigma: 0.4 } : { kind: 'fixed', ms: 0 } },
    port: Number(values.port ?? base.port),
    log: createLogger(env.LOG_LEVEL ?? 'warn'),
  });
  let exitCode = 0;
  let editor: { key: string } | undefined;
  let approver: { key: string } | undefined;
  let viewer: { key: string } | undefined;
  let postId: string | undefined;
  const keysFile = path.resolve('data/demo-keys.json');
  /** Stops the stack, then removes the demo's Redis keys and its keys file (the SQLite file stays, for a look at the ledger). */
  const finish = async (code: number): Promise<never> => {
    await stack.close();
    fs.rmSync(keysFile, { force: true });
    const removed = await dropKeysUnder(base.redisUrl, DEMO_PREFIX);
    console.log(`Stopped; removed the demo's ${removed} Redis keys (prefix ${DEMO_PREFIX}).`);
    process.exit(code);
  };
  try {
    const t0 = Date.now();
    const csv = fs.readFileSync(treeFile, 'utf8');
    const { units, linked, pages, sync } = await seedOrganisation(stack, csv, { via: 'sync' });
    console.log(
      `Imported ${units.total} units (${units.created} new) + root, mapped ${linked.linked} simulated Pages without tokens, ` +
        `then the Business Manager sync stored ${sync!.pages.tokensUpdated} Page tokens (${sync!.requests} pages of /me/accounts) in ` +
        `${((Date.now() - t0) / 1000).toFixed(1)} s.`,
    );

    editor = await stack.admin.createKey({ name: 'Ban Tuyên giáo (biên tập)', role: 'editor', unit: 'root' });
    approver = await stack.admin.createKey({ name: 'Thường trực (phê duyệt)', role: 'approver', unit: 'root' });
    viewer = await stack.admin.createKey({ name: 'Vận hành (xem)', role: 'viewer', unit: 'root' });
    const roles: Roles = {
      editor: stack.admin.withKey(editor.key),
      approver: stack.admin.withKey(approver.key),
      viewer: stack.admin.withKey(viewer.key),
    };

    if (values.reorganise) {
      exitCode = await reorganiseDemo(
        stack,
        roles,
        pages.map((p) => p.pageId),
        csv,
      );
    } else {
      const { final, secs } = await publishNational(roles, MESSAGE, levelNamesOf(csv));
      printResult(stack, final, secs);
      postId = final.id;
      if (final.counts.published !== final.total) exitCode = 1;
    }
  } catch (err) {
    console.error(`Demo failed: ${(err as Error).message}`);
    exitCode = 1;
  }
  // URLs and keys only for a demo that keeps serving: after --exit they would be dead on arrival.
  if (values.exit || values.reorganise || exitCode !== 0 || !editor || !approver || !viewer) return finish(exitCode);
  fs.writeFileSync(
    keysFile,
    JSON.stringify({ api: stack.apiUrl, admin: stack.adminKey, editor: editor.key, approver: approver.key, viewer: viewer.key }, null, 2),
    { mode: 0o600 },
  );
  console.log(`Dashboard: ${stack.apiUrl}/dashboard   (sign in with the "viewer" key from ${keysFile})`);
  console.log(`API:  ${stack.apiUrl}/v1/posts/${postId}`);
  console.log(`Docs: ${stack.apiUrl}/docs`);
  console.log('Serving until Ctrl-C…');
  const stop = () => void finish(0);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
