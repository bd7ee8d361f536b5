/**
 * `npm run sim -- --state <file>`: the simulator's Pages, tokens, posts, photos, people and system
 * users survive a restart. The file is loaded at start when it exists, rewritten atomically (a temp
 * file, then rename) shortly after each change and once more on SIGTERM/SIGINT. It holds every token
 * the simulator issued, as Facebook's own store would: it is written mode 600.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PersistentGraphSimulator, SimSnapshot } from './simulator';

/** A state file that exists but cannot be used: its path and what is wrong with it. */
export class StateFileError extends Error {}

/** Reads a state file; undefined when it does not exist yet. */
export function readStateFile(file: string): SimSnapshot | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateFileError(`cannot read the state file ${file}: ${(err as Error).message}`);
  }
  const fix = 'fix it or delete it to start empty';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new StateFileError(`the state file ${file} is not valid JSON (${(err as Error).message}): ${fix}`);
  }
  const problem = snapshotProblem(parsed);
  if (problem) throw new StateFileError(`the state file ${file} is not a simulator state: ${problem}; ${fix}`);
  return parsed as SimSnapshot;
}

function snapshotProblem(v: unknown): string | undefined {
  const o = v as Partial<Record<string, unknown>> | null;
  if (!o || typeof o !== 'object' || Array.isArray(o)) return 'expected a JSON object';
  if (o['version'] !== 1) return `unknown version ${JSON.stringify(o['version'])} (expected 1)`;
  const store = o['store'] as Partial<Record<string, unknown>> | undefined;
  const identity = o['identity'] as Partial<Record<string, unknown>> | undefined;
  if (!store || typeof store !== 'object') return '"store" is missing';
  if (typeof store['lastId'] !== 'number') return '"store.lastId" is not a number';
  for (const k of ['pages', 'tokens', 'photos']) if (!Array.isArray(store[k])) return `"store.${k}" is not an array`;
  const pages = store['pages'] as unknown[];
  for (const [i, p] of pages.entries()) {
    const page = p as Partial<Record<string, unknown>> | null;
    if (!page || typeof page['id'] !== 'string' || typeof page['token'] !== 'string' || !Array.isArray(page['posts'])) {
      return `"store.pages[${i}]" needs a string id, a string token and a posts array`;
    }
  }
  for (const [i, t] of (store['tokens'] as unknown[]).entries()) {
    if (!Array.isArray(t) || typeof t[0] !== 'string' || !t[1] || typeof t[1] !== 'object') {
      return `"store.tokens[${i}]" is not [token, record]`;
    }
  }
  if (!identity || typeof identity !== 'object') return '"identity" is missing';
  for (const k of ['users', 'systemUsers', 'tokens']) if (!Array.isArray(identity[k])) return `"identity.${k}" is not an array`;
  return undefined;
}

/** Writes the snapshot to `file` atomically (temp file in the same folder, then rename), mode 600. */
export function writeStateFile(file: string, snapshot: SimSnapshot): void {
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(snapshot));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

/**
 * Saves the simulator to `file` `debounceMs` after a request (requests meanwhile join the same write).
 * `flush()` writes now if anything changed since the last write (the signal handlers call it).
 */
export function persistTo(sim: PersistentGraphSimulator, file: string, debounceMs: number, onError: (err: Error) => void) {
  let dirty = false;
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!dirty) return;
    dirty = false;
    try {
      writeStateFile(file, sim.exportState());
    } catch (err) {
      onError(err as Error);
    }
  };
  sim.onChange(() => {
    dirty = true;
    timer ??= setTimeout(flush, debounceMs);
  });
  return {
    flush,
    /** Marks the state changed (after seeding in-process, which is not a request). */
    touch(): void {
      dirty = true;
    },
  };
}
