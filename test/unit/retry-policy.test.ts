import { kindOfReason } from '../../src/graph/classify';
import { relinkedSince, retryActionOf } from '../../src/services/delivery/retry-policy';

describe('retry policy: what can fix a failed delivery', () => {
  it.each([
    // Token and permission failures (classify: reauth / permission) and the worker's own Page checks: relink first.
    ['token_invalid', 'relink'],
    ['token_expired', 'relink'],
    ['password_changed', 'relink'],
    ['password_changed_outcome_unknown', 'relink'],
    ['permission_missing', 'relink'],
    ['capability_missing', 'relink'],
    ['publishing_authorization', 'relink'],
    ['needs_reauth', 'relink'],
    ['no_token', 'relink'],
    ['no_page', 'relink'],
    ['page_unlinked', 'relink'],
    // Content Facebook refused: a retry never helps.
    ['bad_image', 'none'],
    ['invalid_link', 'none'],
    ['community_standards', 'none'],
    ['invalid_parameter', 'none'],
    ['photo_too_large', 'none'],
    ['graph_error', 'none'],
    ['duplicate_post', 'none'],
    // Transient, throttled, exhausted or unknown: a retry may work.
    ['retries_exhausted', 'retry'],
    ['outcome_unknown_exhausted', 'retry'],
    ['page_rate_limited', 'retry'],
    ['app_rate_limited', 'retry'],
    ['posting_too_fast', 'retry'],
    ['network_timeout', 'retry'],
    ['graph_server_error', 'retry'],
    ['something_new', 'retry'],
    [null, 'retry'],
  ])('%s → %s', (reason, action) => {
    expect(retryActionOf(reason)).toBe(action);
  });

  it('knows the kind of every reason the classifier stores', () => {
    expect(kindOfReason('token_expired')).toBe('reauth');
    expect(kindOfReason('bad_image')).toBe('permanent');
    expect(kindOfReason('network_reset')).toBe('transient');
    expect(kindOfReason('retries_exhausted')).toBeUndefined();
  });

  it('a relink counts only when the Page changed after the failure, has a token, is linked and not known broken', () => {
    const failedAt = '2026-12-02T06:00:00.000Z';
    const page = { updatedAt: '2026-12-02T06:05:00.000Z', hasToken: true, tokenStatus: 'unknown', retired: false };
    expect(relinkedSince(failedAt, page)).toBe(true);
    expect(relinkedSince(failedAt, { ...page, updatedAt: '2026-12-02T05:59:00.000Z' })).toBe(false);
    expect(relinkedSince(failedAt, { ...page, updatedAt: failedAt })).toBe(false);
    expect(relinkedSince(failedAt, { ...page, tokenStatus: 'needs_reauth' })).toBe(false);
    expect(relinkedSince(failedAt, { ...page, tokenStatus: 'no_token' })).toBe(false);
    expect(relinkedSince(failedAt, { ...page, hasToken: false })).toBe(false);
    expect(relinkedSince(failedAt, { ...page, retired: true })).toBe(false);
    expect(relinkedSince(failedAt, null)).toBe(false);
  });
});
