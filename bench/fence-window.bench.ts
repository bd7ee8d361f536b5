/**
 * `npm run bench:fence` — how long the remaining window of a fenced write is: the time between the
 * last lease check of a publish and the moment its bytes are handed to the socket. A worker paused
 * exactly inside that window (and for longer than the take-over delay) is the one way a fenced claim
 * can still post twice. Measured on a kept-alive socket and on new connections, against the bundled
 * simulator on this machine; figures are medians over many sequential writes.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { GraphClient } from '../src/graph/graph-client';
import { createGraphSimulator } from '../src/simulator/simulator';

const WARM = 2_000;
const COLD = 300;

function quantiles(xs: number[]): { median: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: at(0.5), p99: at(0.99), max: s[s.length - 1]! };
}

async function main(): Promise<void> {
  const sim = createGraphSimulator({});
  const url = await sim.start(0, '127.0.0.1');
  sim.seedPages([{ id: '100000000000001', token: 'EAAGbenchfencewindowtoken000000000000', name: 'Bench' }]);
  const token = 'EAAGbenchfencewindowtoken000000000000';
  // The first write to a connected socket's handle after a fence check closes that check's window
  // (a write while the socket still connects is only buffered; it goes out on connect).
  let lastCheck: number | null = null;
  const gaps: number[] = [];
  const proto = net.Socket.prototype as unknown as { _writeGeneric: (...a: unknown[]) => unknown };
  const writeGeneric = proto._writeGeneric;
  proto._writeGeneric = function patched(this: net.Socket, ...args: unknown[]) {
    if (lastCheck !== null && !this.connecting) {
      gaps.push((performance.now() - lastCheck) * 1_000);
      lastCheck = null;
    }
    return writeGeneric.apply(this, args);
  };
  const fence = () => {
    lastCheck = performance.now();
  };

  const run = async (label: string, n: number, fresh: boolean) => {
    gaps.length = 0;
    let client = new GraphClient({ baseUrl: url, version: 'v25.0', timeoutMs: 10_000 });
    for (let i = 0; i < n; i++) {
      if (fresh) {
        client.close();
        client = new GraphClient({ baseUrl: url, version: 'v25.0', timeoutMs: 10_000 });
      }
      await client.createFeedPost('100000000000001', token, { message: `${label} ${i}` }, { fence });
    }
    client.close();
    const q = quantiles(gaps);
    console.log(
      `${label}: ${gaps.length} writes, last check → socket write: median ${q.median.toFixed(1)} µs, p99 ${q.p99.toFixed(1)} µs, max ${q.max.toFixed(1)} µs`,
    );
  };
  await run('kept-alive socket', WARM, false);
  await run('new connection (check at connect)', COLD, true);
  proto._writeGeneric = writeGeneric;
  await sim.stop();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
