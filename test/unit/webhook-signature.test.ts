import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { generateWebhookSecret, signWebhook, verifyWebhook, WEBHOOK_TOLERANCE_S } from '../../src/services/webhooks/webhook-signature';

describe('webhook signatures', () => {
  const secret = 'whsec_test-secret';
  const body = '{"id":"evt_1","type":"post.published","data":{}}';
  const ts = 1_760_000_000;

  it('is v1= HMAC-SHA256 over "<timestamp>.<body>" in hex, computable with nothing but node:crypto', () => {
    const expected = crypto.createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
    expect(signWebhook(secret, ts, body)).toBe(`v1=${expected}`);
  });

  it('accepts a fresh, matching signature (also one of several during a rotation)', () => {
    const signature = signWebhook(secret, ts, body);
    expect(verifyWebhook(secret, { timestamp: String(ts), signature }, body, { nowS: ts + 10 })).toEqual({ ok: true });
    const both = `${signWebhook('whsec_old', ts, body)}, ${signature}`;
    expect(verifyWebhook(secret, { timestamp: String(ts), signature: both }, body, { nowS: ts })).toEqual({ ok: true });
  });

  it('rejects another body, secret or timestamp, and anything outside the replay window', () => {
    const signature = signWebhook(secret, ts, body);
    const at = { nowS: ts };
    expect(verifyWebhook(secret, { timestamp: String(ts), signature }, `${body} `, at)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyWebhook('whsec_other', { timestamp: String(ts), signature }, body, at)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyWebhook(secret, { timestamp: String(ts + 1), signature }, body, at)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyWebhook(secret, { timestamp: String(ts), signature }, body, { nowS: ts + WEBHOOK_TOLERANCE_S + 1 })).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(verifyWebhook(secret, { timestamp: String(ts), signature }, body, { nowS: ts - WEBHOOK_TOLERANCE_S - 1 })).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(verifyWebhook(secret, { timestamp: String(ts), signature }, body, { nowS: ts + WEBHOOK_TOLERANCE_S })).toEqual({ ok: true });
    for (const h of [
      { timestamp: undefined, signature },
      { timestamp: 'soon', signature },
      { timestamp: String(ts), signature: undefined },
    ]) {
      expect(verifyWebhook(secret, h, body, at)).toEqual({ ok: false, reason: 'malformed' });
    }
    expect(verifyWebhook(secret, { timestamp: String(ts), signature: 'v1=abc' }, body, at)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('generates 256-bit secrets', () => {
    const a = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(generateWebhookSecret()).not.toBe(a);
  });
});

describe('the README verification snippet', () => {
  it('accepts what the service signs and rejects stale or altered requests', () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
    const code = /## Webhooks[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(code).toContain('function verifyLantoa');
    const verifyLantoa = new Function('require', `${code}\nreturn verifyLantoa;`)(require) as (
      s: string,
      b: string,
      h: Record<string, string>,
    ) => boolean;
    const secret = generateWebhookSecret();
    const body = '{"id":"evt_x","type":"post.failed","data":{}}';
    const now = Math.floor(Date.now() / 1000);
    const headers = (ts: number, b = body) => ({ 'x-lantoa-timestamp': String(ts), 'x-lantoa-signature': signWebhook(secret, ts, b) });
    expect(verifyLantoa(secret, body, headers(now))).toBe(true);
    expect(verifyLantoa(secret, `${body} `, headers(now))).toBe(false);
    expect(verifyLantoa(secret, body, headers(now - 301))).toBe(false);
    expect(verifyLantoa('whsec_other', body, headers(now))).toBe(false);
  });
});
