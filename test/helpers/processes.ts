import { loadTestEnv } from '../../config/test-env';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** The project root (where package.json, dist/ and the sources are). */
export const ROOT = path.resolve(__dirname, '../..');
/** tsx's CLI, for tests that run a TypeScript entry point as it is (`node <TSX> src/x.ts`). */
export const TSX = require.resolve('tsx/cli');

export interface NodeProcess {
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  output(): { out: string; err: string };
  /** Resolves when stdout or stderr has matched `pattern`; rejects if the process exits first or the time runs out. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends SIGTERM and resolves with the exit code; rejects if the process is still running after `graceMs`. */
  terminate(graceMs: number): Promise<number | null>;
}

/**
 * Starts `node <args…>` in the project root (or `opts.cwd`) with exactly `env` (plus PATH): nothing leaks in
 * from the test runner's environment, so a test states every variable the process sees.
 */
export function spawnNode(args: string[], env: Record<string, string>, opts: { cwd?: string; command?: string } = {}): NodeProcess {
  const child = spawn(opts.command ?? process.execPath, args, {
    cwd: opts.cwd ?? ROOT,
    env: { PATH: loadTestEnv().path, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let exitCode: number | null | undefined;
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((l) => l());
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    notify();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    notify();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      notify();
      resolve(code);
    }),
  );
  const output = () => ({ out, err });
  return {
    child,
    exited,
    output,
    waitForOutput(pattern, timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const done = (fn: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          fn();
        };
        const check = () => {
          if (pattern.test(out) || pattern.test(err)) done(resolve);
          else if (exitCode !== undefined) {
            done(() => reject(new Error(`process exited (${exitCode}) before printing ${pattern}\nstdout: ${out}\nstderr: ${err}`)));
          }
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`))),
          timeoutMs,
        );
        listeners.add(check);
        check();
      });
    },
    async terminate(graceMs) {
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`still running ${graceMs} ms after SIGTERM\nstdout: ${out}\nstderr: ${err}`)), graceMs);
      });
      try {
        return await Promise.race([exited, late]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** A TCP port that was free a moment ago on 127.0.0.1 (the reliability suite's helper). */
export { freePort } from '../../bench/reliability/procs';

/** Polls `url` until it answers at all (any status), or throws after `timeoutMs`. */
export async function waitForHttp(url: string, init: RequestInit = {}, timeoutMs = 30_000): Promise<Response> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(url, init).catch(() => undefined);
    if (res) return res;
    if (Date.now() > end) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
