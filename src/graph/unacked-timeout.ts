/**
 * A kernel-enforced bound on how late a request already handed to the kernel can still reach Graph.
 *
 * The fence (fence-transport.ts) stops a write before it leaves the process, but it cannot take back
 * bytes the kernel already holds. TCP sends those on its own: it retransmits lost segments with
 * exponential backoff (for up to ~15 minutes with Linux's defaults) and sends data held back by a
 * closed window when the window opens, and it does so while our process is paused. So a worker
 * frozen right after a create left it (a GC pause, a VM stall, SIGSTOP) could have that create land
 * after its lease and after another worker took the row over, read the Page back and published: two
 * copies. The reliability suite's freeze scenario saw exactly that at concurrency 500 (README,
 * "Fenced claims"), and `test/integration/graph/unacked-timeout.test.ts` shows it on demand.
 *
 * TCP_USER_TIMEOUT (Linux; macOS has an equivalent) makes the kernel give up on a connection whose
 * sent data has stayed unacknowledged, or unsent behind a closed window, for longer than the
 * timeout: it stops retransmitting and drops the connection, paused process or not. With it set to
 * the request deadline on every Graph socket, a write handed over before the lease ended reaches
 * Graph within lease + `GRAPH_TIMEOUT_MS` or never, which is what the take-over delay
 * (`GRAPH_TIMEOUT_MS` + `READBACK_DELAY_MS` after the lease) assumes. Data Graph has acknowledged
 * is not affected: a slow answer is still bounded only by the request deadline.
 *
 * Node has no setsockopt, so this goes through `net-keepalive` (FFI). Where it cannot load, the
 * service still runs, and says once that the bound is missing.
 */
import { createRequire } from 'node:module';
import type http from 'node:http';
import type net from 'node:net';
import type { Logger } from 'pino';

type NetKeepAlive = typeof import('net-keepalive');

let loaded: { lib: NetKeepAlive | null; error: string | null } | undefined;

function lib(): NetKeepAlive | null {
  if (!loaded) {
    try {
      loaded = { lib: createRequire(__filename)('net-keepalive') as NetKeepAlive, error: null };
    } catch (err) {
      loaded = { lib: null, error: (err as Error).message };
    }
  }
  return loaded.lib;
}

/** Null when the kernel bound is available here, else why not (logged with the first connection that lacks it). */
export function unackedTimeoutUnavailable(): string | null {
  lib();
  return loaded?.error ?? null;
}

/**
 * Sets TCP_USER_TIMEOUT on a connected socket (TCP or TLS). Returns false where the platform or the
 * socket does not allow it; never throws.
 */
export function setUnackedTimeout(socket: net.Socket, ms: number): boolean {
  const nk = lib();
  if (!nk || socket.destroyed) return false;
  try {
    return nk.setUserTimeout(socket, Math.max(1, Math.round(ms)));
  } catch {
    return false;
  }
}

/** The socket's TCP_USER_TIMEOUT in ms (0: the system default), or null where it cannot be read. */
export function unackedTimeoutOf(socket: net.Socket): number | null {
  const nk = lib();
  if (!nk) return null;
  try {
    return nk.getUserTimeout(socket);
  } catch {
    return null;
  }
}

type CreateConnection = (options: object, callback?: (err: Error | null, socket: net.Socket) => void) => net.Socket | undefined;

/**
 * Every socket `agent` opens gets the bound as soon as it connects: in the first `connect` listener,
 * so before the request's own bytes, which Node writes from a later `connect` listener.
 */
export function boundUnackedData(agent: http.Agent, ms: number, logger?: Logger): void {
  const self = agent as unknown as { createConnection: CreateConnection };
  const create = self.createConnection.bind(agent);
  let warned = false;
  self.createConnection = (options, callback) => {
    const socket = create(options, callback);
    socket?.prependOnceListener('connect', () => {
      if (!setUnackedTimeout(socket, ms) && !warned && !socket.destroyed) {
        warned = true;
        logger?.warn(
          { reason: unackedTimeoutUnavailable() ?? 'setsockopt refused' },
          'TCP_USER_TIMEOUT could not be set on a Graph socket: a worker paused right after a create could see it land after a take-over',
        );
      }
    });
    return socket;
  };
}
