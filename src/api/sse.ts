import type { FastifyReply } from 'fastify';

/** One server-sent-events response. Writes after the client left are dropped. */
export interface SseStream {
  readonly closed: boolean;
  /** Aborted when the stream closes (client gone, server closing, or `close()`). */
  readonly signal: AbortSignal;
  send(event: string, data: unknown): void;
  close(): void;
}

/** Open streams of one plugin, so a closing server can end them (an open stream would keep `close()` waiting). */
export class SseRegistry {
  private readonly open = new Set<SseStream>();

  add(s: SseStream): void {
    this.open.add(s);
    s.signal.addEventListener('abort', () => this.open.delete(s), { once: true });
  }

  closeAll(): void {
    for (const s of [...this.open]) s.close();
  }
}

/**
 * Takes the response over from Fastify and starts an event stream. Call it only after every check
 * that may answer with an error: from here on the status is 200 and errors travel as events.
 */
export function openSse(reply: FastifyReply, registry: SseRegistry, opts: { heartbeatMs?: number } = {}): SseStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-store, no-transform',
    connection: 'keep-alive',
    // Reverse proxies (nginx) would otherwise buffer the stream.
    'x-accel-buffering': 'no',
  });
  const ac = new AbortController();
  const write = (chunk: string) => {
    if (!ac.signal.aborted && !res.writableEnded && !res.destroyed) res.write(chunk);
  };
  const heartbeat = setInterval(() => write(': ping\n\n'), opts.heartbeatMs ?? 15_000);
  heartbeat.unref();
  const stream: SseStream = {
    get closed() {
      return ac.signal.aborted;
    },
    signal: ac.signal,
    send(event, data) {
      write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    close() {
      if (ac.signal.aborted) return;
      clearInterval(heartbeat);
      ac.abort();
      if (!res.writableEnded) res.end();
    },
  };
  res.on('close', () => stream.close());
  write(': connected\n\n');
  registry.add(stream);
  return stream;
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
