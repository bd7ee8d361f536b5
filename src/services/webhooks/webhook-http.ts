import http from 'node:http';
import https from 'node:https';

/**
 * One POST with a whole-request deadline; resolves with the HTTP status and never reads the answer's
 * body (receivers' bodies are not stored). node:http rather than fetch: fetch refuses some ports
 * (6000, 6665…) that internal receivers may well use. Redirects are not followed.
 */
export function postOnce(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<number> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise<number>((resolve, reject) => {
    const req = transport.request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        signal: AbortSignal.timeout(timeoutMs),
        agent: false,
      },
      (res) => {
        resolve(res.statusCode ?? 0);
        res.destroy();
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.name === 'AbortError' || err.name === 'TimeoutError' ? new Error('timeout') : err),
    );
    req.end(body);
  });
}

/** A short, secret-free description of a failed POST (`ECONNREFUSED`, `timeout`…). */
export function describePostError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code === 'string') return e.code;
  return (typeof e?.message === 'string' ? e.message : 'request failed').slice(0, 200);
}
