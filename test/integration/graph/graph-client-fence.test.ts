import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphClient } from '../../../src/graph/graph-client';

/**
 * The fence of a write is checked twice: when the call starts and again on the socket the request
 * gets (at connect on a new connection). A fence that refuses at the second check sends nothing.
 */
describe('GraphClient fence at the socket', () => {
  let server: Server;
  let url: string;
  let received = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      received++;
      req.resume();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id: '1_2' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  /** A fence that lets its first `passes` checks through, then refuses. */
  const fenceAfter = (passes: number) => {
    let calls = 0;
    return () => {
      if (++calls > passes) throw new Error('lease over');
    };
  };

  it.each([
    ['a new connection', false],
    ['a kept-alive connection', true],
  ])('on %s: refused at the socket, nothing reaches the server', async (_name, warm) => {
    const client = new GraphClient({ baseUrl: url, version: 'v25.0', timeoutMs: 2000 });
    try {
      if (warm) await client.createFeedPost('1', 'tok', { message: 'warm-up' });
      const before = received;
      await expect(client.createFeedPost('1', 'tok', { message: 'fenced' }, { fence: fenceAfter(1) })).rejects.toThrow('lease over');
      await new Promise((r) => setTimeout(r, 50));
      expect(received).toBe(before);
      // A fence that holds lets the write through.
      await expect(client.createFeedPost('1', 'tok', { message: 'ok' }, { fence: fenceAfter(10) })).resolves.toMatchObject({
        data: { id: '1_2' },
      });
      expect(received).toBe(before + 1);
    } finally {
      client.close();
    }
  });
});
