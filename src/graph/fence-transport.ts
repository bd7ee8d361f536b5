/**
 * The last check of a fenced Graph write (a delivery's claim still held): made as late as the socket
 * write itself, through the transport axios uses for that one request (graph-client.ts).
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';

/** Called synchronously right before a write is sent; throwing stops it unsent (a fenced claim whose lease ran out). */
export type Fence = () => void;

export interface WriteOptions {
  fence?: Fence;
}

/** The fence of one write, checked again on the socket it ends up on. */
export interface FenceScope {
  fence: Fence;
  /** Set when the fence refused at connect time (the request is then destroyed unsent). */
  refused?: unknown;
}

/**
 * Where a fenced write is checked for the last time: as late as the socket write itself. Axios does
 * a fair amount of work between dispatch and the write, and a process paused inside it (SIGSTOP, a
 * GC pause, a VM stall) would send on resume. So the request checks its fence when it gets its
 * socket, in the same synchronous step that then writes it out; on a new connection it checks when
 * the socket connects (the kernel finishes the handshake without us, and on resume the event loop
 * handles the connect before the overdue timers). A refusal destroys the request unsent.
 */
function refuse(scope: FenceScope, destroy: (err: Error) => void): boolean {
  try {
    scope.fence();
    return false;
  } catch (err) {
    scope.refused = err;
    destroy(err as Error);
    return true;
  }
}

/** Installed in the tick the request is created: the agent hands it its socket one tick later at the earliest. */
function guardRequest(req: http.ClientRequest, scope: FenceScope): void {
  req.prependOnceListener('socket', (socket: net.Socket) => {
    if (socket.connecting) socket.prependOnceListener('connect', () => refuse(scope, (err) => req.destroy(err)));
    else refuse(scope, (err) => req.destroy(err));
  });
}

type RequestFn = (options: http.RequestOptions, cb?: (res: http.IncomingMessage) => void) => http.ClientRequest;

/**
 * The transport axios uses for one fenced write: node's own http(s).request, with the fence guard on
 * the request it returns. (It replaced an AsyncLocalStorage scope read by the agent: on Node 20 any
 * AsyncLocalStorage turns on a promise hook for every promise of the process, which cost more than
 * the whole fence.)
 */
export function fencedTransport(scope: FenceScope): { request: RequestFn } {
  return {
    request(options, cb) {
      const send: RequestFn = options.protocol === 'https:' ? https.request : http.request;
      const req = send(options, cb);
      guardRequest(req, scope);
      return req;
    },
  };
}
