import { ConfigError, loadConfig } from '../../config';

describe('ops configuration (metrics, webhooks, admin sessions)', () => {
  it('has documented defaults', () => {
    const env = loadConfig({}).env;
    expect(env.METRICS_TOKEN).toBeUndefined();
    expect(env).toMatchObject({
      METRICS_PORT: 9464,
      METRICS_HOST: '127.0.0.1',
      WEBHOOK_ATTEMPTS: 8,
      WEBHOOK_BACKOFF_MS: 10_000,
      WEBHOOK_TIMEOUT_MS: 10_000,
      ADMIN_SESSION_TTL_MS: 1_800_000,
    });
    expect(loadConfig({ METRICS_PORT: '0' }).env.METRICS_PORT).toBe(0);
  });

  it('lists every bad variable and never echoes the metrics token', () => {
    let err: unknown;
    try {
      loadConfig({
        METRICS_TOKEN: 'short',
        METRICS_PORT: '70000',
        WEBHOOK_ATTEMPTS: '0',
        WEBHOOK_TIMEOUT_MS: 'soon',
        ADMIN_SESSION_TTL_MS: '5',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    for (const name of ['METRICS_TOKEN', 'METRICS_PORT', 'WEBHOOK_ATTEMPTS', 'WEBHOOK_TIMEOUT_MS', 'ADMIN_SESSION_TTL_MS']) {
      expect(problems.some((p) => p.startsWith(`${name}:`))).toBe(true);
    }
    expect(problems.join('\n')).not.toContain('short');
  });
});
