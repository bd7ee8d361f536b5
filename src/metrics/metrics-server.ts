import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics';

/**
 * True when `/metrics` may be served: no METRICS_TOKEN configured (open on the bind address), or the
 * request carries `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time).
 */
export function metricsAuthorized(authorization: string | undefined, token: string | undefined): boolean {
  if (!token) return true;
  const m = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  if (!m) return false;
  const digest = (s: string) => crypto.createHash('sha256').update(s).digest();
  return crypto.timingSafeEqual(digest(m[1]!), digest(token));
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A bare HTTP listener serving `GET /metrics` for processes without the API (`npm run start:worker`),
 * so Prometheus scrapes each worker's own counters. Anything else is 404.
 */
export async function startMetricsServer(
  metrics: Metrics,
  opts: { port: number; host: string; token?: string | undefined },
): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, code: string, message: string) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ error: { code, message } }));
    };
    if (req.method !== 'GET' || path !== '/metrics') return json(404, 'NOT_FOUND', `no route ${req.method} ${path}`);
    if (!metricsAuthorized(req.headers.authorization, opts.token)) {
      return json(401, 'UNAUTHENTICATED', 'metrics need Authorization: Bearer <METRICS_TOKEN>');
    }
    metrics.expose().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType });
        res.end(body);
      },
      () => json(500, 'INTERNAL', 'metrics collection failed'),
    );
  });
  server.keepAliveTimeout = 65_000; // longer than Prometheus' idle timeout, so scrapes reuse the connection
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
