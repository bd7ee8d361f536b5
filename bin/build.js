#!/usr/bin/env node
'use strict';
// `npm run build`: compiles src/, workers/ and config/ to dist/ (tsconfig.build.json), copies the files
// the compiled code reads from disk at run time, then writes dist/.build-stamp. `bin/ensure-build.js`
// (run before every start script) compares that stamp with the sources and builds only when needed.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');

/** Inputs of the build: a change under any of them (a file edited, added or removed) makes dist/ stale. */
const SOURCES = ['src', 'workers', 'config', 'tsconfig.json', 'tsconfig.build.json', 'bin/build.js'];

/**
 * Files the compiled code reads from disk next to itself (tsc copies none of them). Checked against the
 * sources with `grep -rn "__dirname\|readFileSync" src workers config`: the dashboard's static files are
 * the only ones; the OpenAPI document is generated at run time and the unit CSV is read only by the demo.
 */
const ASSETS = [{ from: 'src/dashboard/public', to: 'dist/src/dashboard/public' }];

const STAMP = 'dist/.build-stamp';
const LOCK = 'dist/.build-lock';

/** Newest mtime (ms) of the files and folders under `rel`; a folder's mtime moves when an entry is added or removed. */
function newestMtime(root, rel) {
  let stat;
  try {
    stat = fs.statSync(path.join(root, rel));
  } catch {
    return 0;
  }
  let newest = stat.mtimeMs;
  if (stat.isDirectory()) {
    for (const name of fs.readdirSync(path.join(root, rel))) newest = Math.max(newest, newestMtime(root, path.join(rel, name)));
  }
  return newest;
}

/** The TypeScript source folders; an image ships dist/ without any of them. */
const SOURCE_DIRS = ['src', 'workers', 'config'];

/** Why dist/ needs a build, or undefined when it is up to date. */
function staleReason(root = ROOT) {
  let stamp;
  try {
    stamp = fs.statSync(path.join(root, STAMP)).mtimeMs;
  } catch {
    return 'dist/ has no build stamp (never built, or the last build failed)';
  }
  // Without the sources (the production image) there is nothing to rebuild from: dist/ is what runs.
  if (!SOURCE_DIRS.some((d) => fs.existsSync(path.join(root, d)))) return undefined;
  const newest = Math.max(...SOURCES.map((rel) => newestMtime(root, rel)));
  return newest > stamp ? 'sources changed since the last build' : undefined;
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/**
 * Runs `fn` holding dist/.build-lock (a folder: mkdir is atomic), so two start scripts launched together
 * never run tsc over the same files at once. A lock left by a builder that died is taken over.
 */
function withLock(root, fn) {
  const lock = path.join(root, LOCK);
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let owner = NaN;
      try {
        owner = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
      } catch {
        // The owner has not written its pid yet, or the lock is half removed.
      }
      const age = (() => {
        try {
          return Date.now() - fs.statSync(lock).mtimeMs;
        } catch {
          return 0;
        }
      })();
      if ((Number.isInteger(owner) && !alive(owner)) || (!Number.isInteger(owner) && age > 10_000)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`another build still holds ${LOCK} (pid ${owner}); remove it if no build is running`, { cause: err });
      }
      sleep(200);
    }
  }
  try {
    fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function resolveTsc(root) {
  try {
    return require.resolve('typescript/bin/tsc', { paths: [root] });
  } catch {
    return undefined;
  }
}

/** Compiles and copies the assets; returns the exit status (0 = built). The stamp is written only on success. */
function buildNow(root = ROOT, log = (line) => process.stderr.write(`${line}\n`)) {
  const tsc = resolveTsc(root);
  if (!tsc) {
    log('lantoa: cannot build dist/: TypeScript is not installed (run `npm ci` with dev dependencies, then `npm run build`)');
    return 1;
  }
  // The stamp gets the time the build started: a source saved while tsc runs still counts as newer.
  const startedAt = new Date();
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    log(`lantoa: tsc failed (exit ${r.status ?? r.signal}); dist/ is not marked as built`);
    return r.status || 1;
  }
  for (const { from, to } of ASSETS) {
    fs.rmSync(path.join(root, to), { recursive: true, force: true });
    fs.cpSync(path.join(root, from), path.join(root, to), { recursive: true });
  }
  const stamp = path.join(root, STAMP);
  fs.writeFileSync(stamp, `${JSON.stringify({ builtAt: startedAt.toISOString(), node: process.version })}\n`);
  fs.utimesSync(stamp, startedAt, startedAt);
  return 0;
}

/** Builds under the lock. */
function build(root = ROOT) {
  return withLock(root, () => buildNow(root));
}

/**
 * Builds only when dist/ is missing or older than the sources (quick when up to date: a stat walk of
 * src/, workers/ and config/). An image that ships dist/ without the sources is always up to date.
 */
function ensureBuilt(root = ROOT) {
  if (!staleReason(root)) return 0;
  return withLock(root, () => {
    const reason = staleReason(root); // another process may have built it while we waited for the lock
    if (!reason) return 0;
    process.stderr.write(`lantoa: building dist/ (${reason})…\n`);
    return buildNow(root);
  });
}

module.exports = { SOURCES, ASSETS, STAMP, staleReason, build, ensureBuilt };

if (require.main === module) process.exit(build());
