/**
 * The service under benchmark as `npm start` runs it: API + workers in one child process, the compiled
 * entry point, with the heap settings of the start scripts (config/node-flags.ts). Its own process, so
 * what it measures (peak RSS, the event loop the API shares with the workers) is the service's alone,
 * not the bench's (seeding, yardstick queries, raw loops).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readEnv } from '../../config';
import { SERVICE_NODE_FLAGS } from '../../config/node-flags';
import { freePort, sleep, stopProcess, track } from '../reliability/procs';

const ROOT = path.resolve(__dirname, '../..');

/** Where `--cpu-prof` runs of the benches leave the service's V8 CPU profiles (git-ignored). */
export const PROFILE_DIR = path.join(ROOT, 'bench/profiles');

/** The service's node flags for a bench run: the start scripts' (or V8's defaults), plus a CPU profile with `--cpu-prof`. */
export function benchNodeFlags(argv: readonly string[], base: readonly string[] = SERVICE_NODE_FLAGS): readonly string[] {
  return argv.includes('--cpu-prof') ? [...base, '--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : base;
}

export class ServiceProcess {
  private constructor(
    readonly url: string,
    private readonly proc: ChildProcess,
    private readonly stderr: () => string,
  ) {}

  /**
   * Builds dist/ if stale (as `npm start`'s prestart does), starts the service and waits until it answers.
   * `nodeFlags`: the start scripts' heap settings by default; `[]` runs it on V8's defaults (for comparison).
   */
  static async start(
    env: Record<string, string>,
    nodeFlags: readonly string[] = SERVICE_NODE_FLAGS,
    role: 'all' | 'api' | 'worker' = 'all',
  ): Promise<ServiceProcess> {
    execFileSync(process.execPath, [path.join(ROOT, 'bin/ensure-build.js')], { cwd: ROOT, stdio: 'inherit' });
    const port = await freePort();
    // The entry points of `npm start`, `npm run start:api` and `npm run start:worker`.
    const entry = role === 'worker' ? ['dist/workers/main.js'] : role === 'api' ? ['dist/src/main.js', '--role=api'] : ['dist/src/main.js'];
    const proc = track(
      spawn(process.execPath, [...nodeFlags, path.join(ROOT, entry[0]!), ...entry.slice(1)], {
        cwd: ROOT,
        env: { ...readEnv(), ...env, PORT: String(port), HOST: '127.0.0.1', ...(role === 'worker' ? { LOG_LEVEL: 'info' } : {}) },
        stdio: ['ignore', role === 'worker' ? 'pipe' : 'ignore', 'pipe'],
      }),
    );
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    const url = `http://127.0.0.1:${port}`;
    // A worker process has no API: it is up once it logs "worker started" (after its start-up reconcile).
    if (role === 'worker') {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        const onData = (d: Buffer) => {
          out = (out + d.toString()).slice(-8000);
          if (out.includes('"worker started"')) {
            proc.stdout!.off('data', onData);
            proc.stdout!.resume();
            resolve();
          }
        };
        proc.stdout!.on('data', onData);
        proc.once('exit', (code) => reject(new Error(`the worker exited with ${code} before it started:\n${err}`)));
      });
      return new ServiceProcess(url, proc, () => err);
    }
    for (let waited = 0; ; waited += 100) {
      if (proc.exitCode !== null) throw new Error(`the service exited with ${proc.exitCode} before it answered:\n${err}`);
      if (waited > 60_000) throw new Error(`the service did not answer ${url}/healthz within 60 s:\n${err}`);
      try {
        if ((await fetch(`${url}/healthz`)).ok) break;
      } catch {
        /* not listening yet */
      }
      await sleep(100);
    }
    return new ServiceProcess(url, proc, () => err);
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** The kernel's figures for the process: its RSS now and its peak RSS since it started (VmHWM), in MB. */
  memory(): { rssMb: number; peakRssMb: number } {
    const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
  }

  /** CPU seconds the process has used so far (user + system), from /proc. */
  cpuSeconds(): number {
    const fields = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }

  async stop(): Promise<void> {
    await stopProcess(this.proc, 'SIGTERM', 30_000);
    if (this.proc.exitCode !== 0 && this.proc.exitCode !== null) {
      console.error(`the service exited with ${this.proc.exitCode}:\n${this.stderr()}`);
    }
  }
}
