import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { GraphClient } from '../../../src/graph/graph-client';
import { unackedTimeoutOf, unackedTimeoutUnavailable } from '../../../src/graph/unacked-timeout';
import { ROOT, TSX, spawnNode } from '../../helpers/processes';

/**
 * A request the kernel already holds is sent by the kernel, also while its process is paused. The fence
 * cannot stop that; TCP_USER_TIMEOUT on the Graph client's sockets bounds it. Each case starts a writer
 * process (test/fixtures/paused-writer.ts) that hands a large request to the kernel and stops itself,
 * against a server that reads nothing for 2.5 s: without the bound the whole request reaches the server
 * while the writer is still stopped; with it the writer's kernel gives up after the client's 1 s deadline.
 */
describe('a paused writer and the bytes its kernel holds', () => {
  jest.setTimeout(30_000);

  it('the kernel bound is available on this machine', () => {
    expect(unackedTimeoutUnavailable()).toBeNull();
  });

  /** Runs the writer in `mode`; resolves with what the server saw by 0.8 s after it started reading. */
  async function pausedWrite(mode: 'graph-client' | 'plain-http'): Promise<{ complete: boolean; reset: boolean; bytes: number }> {
    let bytes = 0;
    let complete = false;
    let reset = false;
    let tail = '';
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      socket.pause();
      sockets.push(socket);
      socket.on('data', (d: Buffer) => {
        bytes += d.length;
        tail = (tail + d.toString('latin1')).slice(-64);
        if (tail.includes('END-OF-REQUEST')) complete = true;
      });
      socket.on('error', () => {
        reset = true;
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const writer = spawnNode([TSX, path.join(ROOT, 'test/fixtures/paused-writer.ts'), url, mode], {});
    try {
      await writer.waitForOutput(/handed-over/, 15_000);
      await new Promise((r) => setTimeout(r, 2500));
      // The writer is still stopped: whatever arrives now was sent by its kernel alone.
      expect(writer.child.exitCode).toBeNull();
      sockets.forEach((s) => s.resume());
      await new Promise((r) => setTimeout(r, 800));
      return { complete, reset, bytes };
    } finally {
      writer.child.kill('SIGKILL');
      writer.child.kill('SIGCONT');
      await writer.exited;
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => server.close(r));
    }
  }

  it('without the bound, the whole request arrives while its writer is stopped (the hazard)', async () => {
    const seen = await pausedWrite('plain-http');
    expect(seen.complete).toBe(true);
  });

  it('through the Graph client, the kernel drops the connection instead: the request never arrives whole', async () => {
    const seen = await pausedWrite('graph-client');
    expect(seen.complete).toBe(false);
    expect(seen.reset).toBe(true);
  });

  it('every Graph client socket carries the bound, set to the request deadline', async () => {
    const server = net.createServer((socket) => {
      socket.once('data', () =>
        socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{"id":"1_2"}\n'),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = new GraphClient({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      version: 'v25.0',
      timeoutMs: 1234,
    });
    let bound: number | null = null;
    try {
      let checks = 0;
      await client.createFeedPost(
        '1',
        'tok',
        { message: 'hello' },
        {
          fence: () => {
            // The second check runs on the socket as it connects, just before the bound is set: read it a moment later.
            if (++checks === 2) {
              const agent = (client as unknown as { httpAgent: { sockets: Record<string, net.Socket[]> } }).httpAgent;
              const socket = Object.values(agent.sockets).flat()[0]!;
              setImmediate(() => (bound = unackedTimeoutOf(socket)));
            }
          },
        },
      );
    } finally {
      client.close();
      await new Promise((r) => server.close(r));
    }
    expect(bound).toBe(1234);
  });
});
