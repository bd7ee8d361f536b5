import crypto from 'node:crypto';

/** Headers of every webhook POST. */
export const WEBHOOK_HEADERS = {
  timestamp: 'x-lantoa-timestamp',
  signature: 'x-lantoa-signature',
  event: 'x-lantoa-event',
  eventId: 'x-lantoa-event-id',
} as const;

/** Receivers should reject a timestamp further than this from their clock (replay window). */
export const WEBHOOK_TOLERANCE_S = 300;

/** A fresh signing secret (`whsec_` + 32 random bytes, base64url). The HMAC key is the whole string. */
export function generateWebhookSecret(): string {
  return `whsec_${crypto.randomBytes(32).toString('base64url')}`;
}

/** `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`: the timestamp is signed with the body, so it cannot be swapped. */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `v1=${crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export type WebhookVerification = { ok: true } | { ok: false; reason: 'malformed' | 'stale' | 'mismatch' };

/**
 * What a receiver does (also the README snippet): the raw body exactly as received, the two headers,
 * a clock. Rejects a timestamp outside ±`toleranceS` (replays) and compares in constant time. The
 * header may carry several `v1=` values (comma-separated) during a secret rotation.
 */
export function verifyWebhook(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  rawBody: string,
  opts: { nowS?: number; toleranceS?: number } = {},
): WebhookVerification {
  const ts = Number(headers.timestamp);
  if (!headers.timestamp || !/^\d{1,12}$/.test(headers.timestamp) || !headers.signature) return { ok: false, reason: 'malformed' };
  const now = opts.nowS ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - ts) > (opts.toleranceS ?? WEBHOOK_TOLERANCE_S)) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(signWebhook(secret, ts, rawBody));
  const match = headers.signature
    .split(',')
    .map((s) => Buffer.from(s.trim()))
    .some((given) => given.length === expected.length && crypto.timingSafeEqual(given, expected));
  return match ? { ok: true } : { ok: false, reason: 'mismatch' };
}
