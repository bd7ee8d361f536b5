/**
 * The load generator of `npm run bench:api`, in its own process so its CPU is not the API's event loop
 * (the API and the workers share one loop, as under `npm start`; the clients must not add to it).
 * Started by `runLoad` with a JSON spec; answers with one summary over IPC.
 */
import { fork } from 'node:child_process';
import crypto from 'node:crypto';
import autocannon from 'autocannon';

export interface LoadSpec {
  url: string;
  path: string;
  method: 'GET' | 'POST';
  key: string;
  connections: number;
  durationSec: number;
  /** POST only: each request creates a post (its own Idempotency-Key and message). */
  createBody?: { target: unknown };
}

export interface LoadSummary {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** Runs one load in a child process (tsx, like the bench itself) and returns its summary. */
export function runLoad(spec: LoadSpec): Promise<LoadSummary> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [JSON.stringify(spec)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let summary: LoadSummary | undefined;
    child.once('message', (m) => (summary = m as LoadSummary));
    child.once('error', reject);
    child.once('exit', (code) => (summary ? resolve(summary) : reject(new Error(`load client exited with ${code} and no summary`))));
  });
}

async function main(spec: LoadSpec): Promise<void> {
  const headers: Record<string, string> = { authorization: `Bearer ${spec.key}`, 'content-type': 'application/json' };
  const run = prefixRun();
  let n = 0;
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationSec,
    headers,
    requests: [
      spec.createBody
        ? {
            method: 'POST',
            path: spec.path,
            setupRequest: (req) => {
              n += 1;
              return {
                ...req,
                headers: { ...headers, 'idempotency-key': `${run}-${n}` },
                body: JSON.stringify({ message: `Bench create ${run} #${n}`, target: spec.createBody!.target }),
              };
            },
          }
        : { method: spec.method, path: spec.path },
    ],
  });
  const summary: LoadSummary = {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
  process.send!(summary, () => process.exit(0));
}

const prefixRun = () => crypto.randomBytes(4).toString('hex');

if (require.main === module) {
  main(JSON.parse(process.argv[2]!) as LoadSpec).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
