import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** Hand-written ES modules, HTML and CSS: served as they are, no build step and no CDN. */
export const DASHBOARD_ROOT = path.join(__dirname, 'public');

/**
 * Everything the page loads comes from this origin; scripts and styles are files, never inline.
 * Data only reaches the page through fetch with the key in a header, so no secret is in any URL.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** `/dashboard/` (and `/dashboard`, redirected): the operators' and communications staff's view. */
export const dashboardPlugin: FastifyPluginAsync = async (app) => {
  await app.register(fastifyStatic, {
    root: DASHBOARD_ROOT,
    prefix: '/dashboard',
    redirect: true,
    index: ['index.html'],
    decorateReply: false,
    // Revalidate on every load (ETag): a deploy is picked up at once, and nothing here is large.
    cacheControl: false,
    setHeaders: (reply) => {
      reply.header('cache-control', 'no-cache');
      reply.header('content-security-policy', CSP);
      reply.header('referrer-policy', 'no-referrer');
      reply.header('x-content-type-options', 'nosniff');
    },
  });
};
