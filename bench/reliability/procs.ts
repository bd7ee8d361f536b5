/**
 * Child processes of the reliability suite: a dedicated redis-server (so it can be killed and
 * restarted empty without touching anybody else's Redis), the Graph API simulator in its own
 * process, and a pool of `start:worker` processes that can be SIGKILLed and restarted.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import axios, { type AxiosInstance } from 'axios';
import { Redis } from 'ioredis';
import { SERVICE_NODE_FLAGS } from '../../config/node-flags';
import { loadTestEnv } from '../../config/test-env';

const ROOT = path.resolve(__dirname, '../..');
/**
 * `node --import tsx <script>` runs TypeScript in ONE process. (The `tsx` CLI would start the script in a
 * child process: a SIGKILL to the CLI then leaves the real worker running, orphaned.)
 */
const TS_NODE = ['--import', 'tsx'];
// The service's processes run with the heap settings of the start scripts (config/node-flags.ts).

/** Every child still running when this process exits is SIGKILLed (no orphaned workers or servers). */
const children = new Set<ChildProcess>();
process.once('exit', () => children.forEach((c) => c.kill('SIGKILL')));
export function track(proc: ChildProcess): ChildProcess {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((r) => proc.once('exit', () => r()));
}

/** Sends `signal`, then SIGKILL if the process is still there after `graceMs`. */
export async function stopProcess(proc: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited(proc);
  clearTimeout(timer);
}

/** A private redis-server without persistence: "restart" means a new, empty Redis on the same port. */
export class RedisServer {
  private proc: ChildProcess | undefined;
  restarts = 0;

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const r = new RedisServer(await freePort());
    await r.spawn();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private async spawn(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
      '--loglevel',
      'warning',
    ];
    this.proc = track(spawn('redis-server', args, { stdio: 'ignore' }));
    this.proc.once('error', () => undefined);
    for (let i = 0; i < 100; i++) {
      const c = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.ping();
        return;
      } catch {
        await sleep(50);
      } finally {
        c.disconnect();
      }
    }
    throw new Error(`redis-server did not start on port ${this.port} (is redis-server installed?)`);
  }

  /** kill -9 the server, wait `downMs`, start a new empty one on the same port. */
  async restartEmpty(downMs: number): Promise<void> {
    if (this.proc) await stopProcess(this.proc, 'SIGKILL', 0);
    await sleep(downMs);
    await this.spawn();
    this.restarts++;
  }

  async flushAll(): Promise<void> {
    const c = new Redis(this.url);
    try {
      await c.flushall();
    } finally {
      c.disconnect();
    }
  }

  async stop(): Promise<void> {
    if (this.proc) await stopProcess(this.proc, 'SIGKILL', 0);
  }
}

/** The Graph API simulator as a separate process (like a remote Graph API), driven through its control API. */
export class SimulatorProcess {
  readonly control: AxiosInstance;

  private constructor(
    readonly url: string,
    private readonly proc: ChildProcess,
  ) {
    this.control = axios.create({ baseURL: `${url}/_sim`, maxBodyLength: Infinity, maxContentLength: Infinity, timeout: 60_000 });
  }

  static async start(seed: number): Promise<SimulatorProcess> {
    // Duplicates are not refused (Facebook does not reliably do it): a duplicate must show up as a second visible post.
    const proc = track(
      spawn(
        process.execPath,
        [...TS_NODE, path.join(ROOT, 'src/simulator/main.ts'), '--port', '0', '--duplicate-mode', 'off', '--seed', String(seed)],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      ),
    );
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      proc.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /^(http:\/\/\S+)$/m.exec(buf);
        if (m) resolve(m[1]!);
      });
      proc.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
    });
    proc.stdout!.resume();
    return new SimulatorProcess(url, proc);
  }

  async post(route: string, body: unknown): Promise<void> {
    await this.control.post(route, body);
  }

  async visibleCounts(): Promise<Record<string, number>> {
    return (await this.control.get<{ counts: Record<string, number> }>('/visible-counts')).data.counts;
  }

  async stats(): Promise<{ requests: number; byEndpoint: Record<string, number> }> {
    return (await this.control.get('/stats')).data;
  }

  async stop(): Promise<void> {
    await stopProcess(this.proc, 'SIGTERM', 5_000);
  }
}

/** `npm run start:worker` processes sharing one store and one Redis; each logs to its own file. */
export class WorkerPool {
  private readonly procs: Array<ChildProcess | undefined> = [];
  private readonly ready: Array<Promise<void>> = [];
  kills = 0;
  /** Worker processes that exited without being killed or stopped by the suite (e.g. after a store error). */
  unexpectedExits = 0;

  constructor(
    private readonly env: Record<string, string>,
    readonly size: number,
    private readonly logPrefix: string,
  ) {}

  private spawnOne(i: number): void {
    const log = fs.createWriteStream(`${this.logPrefix}-w${i}.log`, { flags: 'a' });
    const proc = track(
      spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...TS_NODE, path.join(ROOT, 'workers/main.ts')], {
        cwd: ROOT,
        env: { PATH: loadTestEnv().path, ...this.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    this.procs[i] = proc;
    proc.once('exit', () => {
      if (this.procs[i] === proc) {
        this.unexpectedExits++;
        this.procs[i] = undefined;
      }
    });
    this.ready[i] = new Promise<void>((resolve) => {
      let seen = '';
      proc.stdout!.on('data', (d: Buffer) => {
        log.write(d);
        if (seen !== 'ok') {
          seen += d.toString();
          if (seen.includes('"worker started"')) {
            seen = 'ok';
            resolve();
          }
        }
      });
      proc.once('exit', () => resolve());
    });
    proc.stderr!.on('data', (d: Buffer) => log.write(d));
    // 'close' (not 'exit'): only after stdout and stderr have delivered their last chunk.
    proc.once('close', (code, signal) => log.end(`--- exited code=${code} signal=${signal}\n`));
  }

  /** Starts every worker and waits until each has said "worker started" (start-up reconcile done). */
  async start(): Promise<void> {
    for (let i = 0; i < this.size; i++) this.spawnOne(i);
    await Promise.all(this.ready);
  }

  alive(): number[] {
    return this.procs.flatMap((p, i) => (p && p.exitCode === null && p.signalCode === null ? [i] : []));
  }

  /** kill -9, no goodbye. */
  async kill(i: number): Promise<void> {
    const p = this.procs[i];
    if (!p) return;
    this.procs[i] = undefined;
    this.kills++;
    await stopProcess(p, 'SIGKILL', 0);
  }

  /** SIGSTOP / SIGCONT: a frozen process (long GC pause, VM steal, blocked event loop) that later carries on. */
  freeze(i: number, frozen: boolean): void {
    this.procs[i]?.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  restart(i: number): void {
    if (!this.procs[i]) this.spawnOne(i);
  }

  /** SIGTERM everybody (graceful: finish or release in-flight deliveries), SIGKILL stragglers. */
  async stop(): Promise<void> {
    const procs = [...this.procs];
    this.procs.fill(undefined);
    await Promise.all(procs.map((p) => (p ? stopProcess(p, 'SIGTERM', 40_000) : undefined)));
  }
}

/**
 * A private PostgreSQL cluster (Debian's server binaries) on a free port and a temporary data
 * directory, so the store-restart scenario can stop it with `pg_ctl stop -m fast` (a real
 * administrator shutdown: every session gets "terminating connection due to administrator command")
 * without touching anybody else's server. Run as the `postgres` user when this process is root.
 */
export class PgCluster {
  stops = 0;
  private constructor(
    readonly port: number,
    private readonly dataDir: string,
    private readonly bin: string,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** The directory holding initdb and pg_ctl, or undefined when no PostgreSQL server is installed. */
  static findBin(): string | undefined {
    const root = '/usr/lib/postgresql';
    if (!fs.existsSync(root)) return undefined;
    const versions = fs
      .readdirSync(root)
      .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
  }

  static async start(): Promise<PgCluster> {
    const bin = PgCluster.findBin();
    if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)');
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-pg-'));
    const c = new PgCluster(await freePort(), dataDir, bin);
    if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', dataDir]);
    await c.run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions']);
    await c.startServer();
    return c;
  }

  private async run(tool: string, args: string[]): Promise<void> {
    const cmd = path.join(this.bin, tool);
    // initdb and the server refuse to run as root. (No pipes kept open by the forked server: its output goes to -l.)
    const [file, argv] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
    await promisify(execFile)(file, argv, { cwd: os.tmpdir(), timeout: 120_000 });
  }

  /** Starts the server and waits until it accepts connections. */
  async startServer(): Promise<void> {
    const opts = `-p ${this.port} -k ${this.dataDir} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c full_page_writes=off`;
    await this.run('pg_ctl', ['start', '-D', this.dataDir, '-w', '-t', '60', '-l', path.join(this.dataDir, 'server.log'), '-o', opts]);
  }

  /** `pg_ctl stop -m fast`: what an administrator does; every open session is terminated. */
  async stopServer(): Promise<void> {
    await this.run('pg_ctl', ['stop', '-D', this.dataDir, '-m', 'fast', '-w', '-t', '60']);
    this.stops++;
  }

  async destroy(): Promise<void> {
    try {
      await this.run('pg_ctl', ['stop', '-D', this.dataDir, '-m', 'immediate', '-w']);
    } catch {
      // already stopped
    }
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** `npm run start:api` as its own process (the scale-out layout): its answers during a store outage are part of the check. */
export class ApiProcess {
  private constructor(
    readonly url: string,
    private readonly proc: ChildProcess,
  ) {}

  static async start(env: Record<string, string>, logFile: string): Promise<ApiProcess> {
    const port = await freePort();
    const log = fs.createWriteStream(logFile, { flags: 'a' });
    const proc = track(
      spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...TS_NODE, path.join(ROOT, 'src/main.ts'), '--role=api'], {
        cwd: ROOT,
        env: { PATH: loadTestEnv().path, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    proc.stderr!.on('data', (d: Buffer) => log.write(d));
    proc.once('close', (code, signal) => log.end(`--- exited code=${code} signal=${signal}\n`));
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      proc.stdout!.on('data', (d: Buffer) => {
        log.write(d);
        if (seen === 'ok') return;
        seen += d.toString();
        if (seen.includes('"lantoa started"')) {
          seen = 'ok';
          resolve();
        }
      });
      proc.once('exit', (code) => reject(new Error(`start:api exited with ${code} before it started`)));
    });
    return new ApiProcess(`http://127.0.0.1:${port}`, proc);
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async stop(): Promise<void> {
    await stopProcess(this.proc, 'SIGTERM', 30_000);
  }
}
