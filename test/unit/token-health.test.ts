import { judgeToken } from '../../src/services/governance/token-health.service';

const NOW = Date.parse('2026-03-01T00:00:00Z');
const DAY = 86_400_000;
const WEEK = 7 * DAY;
const valid = {
  is_valid: true,
  type: 'PAGE',
  profile_id: '42',
  scopes: ['pages_show_list', 'pages_manage_posts'],
  expires_at: 0,
  data_access_expires_at: (NOW + 60 * DAY) / 1000,
};

describe('judgeToken (one debug_token answer → token status)', () => {
  it.each([
    ['a valid Page token', valid, { status: 'valid', reason: null }],
    [
      'an expired token (190/463)',
      { is_valid: false, error: { code: 190, subcode: 463, message: 'Session has expired' } },
      { status: 'needs_reauth', reason: 'token_expired: Session has expired' },
    ],
    [
      'a token whose owner lost the Page role (190/492)',
      { is_valid: false, error: { code: 190, subcode: 492, message: 'role' } },
      { status: 'needs_reauth', reason: 'role_removed: role' },
    ],
    [
      'a token Facebook cannot parse',
      { is_valid: false, error: { code: 190, message: 'Cannot parse access token' } },
      { status: 'needs_reauth', reason: 'token_invalid: Cannot parse access token' },
    ],
    ['a user token', { ...valid, type: 'USER' }, { status: 'needs_reauth', reason: expect.stringMatching(/^not_page_token/) }],
    [
      "another Page's token",
      { ...valid, profile_id: '43' },
      { status: 'needs_reauth', reason: expect.stringMatching(/^token_for_other_page/) },
    ],
    [
      'a token without pages_manage_posts',
      { ...valid, scopes: ['pages_show_list'] },
      { status: 'needs_reauth', reason: 'permission_missing: pages_manage_posts is not granted' },
    ],
    [
      'a token expiring in 3 days',
      { ...valid, expires_at: (NOW + 3 * DAY) / 1000 },
      { status: 'expiring', reason: expect.stringMatching(/^the token expires at 2026-03-04/) },
    ],
    ['a token expiring in 30 days', { ...valid, expires_at: (NOW + 30 * DAY) / 1000 }, { status: 'valid', reason: null }],
    [
      'data access ending in 2 days',
      { ...valid, data_access_expires_at: (NOW + 2 * DAY) / 1000 },
      { status: 'expiring', reason: expect.stringMatching(/^data access expires at 2026-03-03/) },
    ],
  ])('%s', (_name, data, verdict) => {
    expect(judgeToken(data as Record<string, unknown>, '42', NOW, WEEK)).toEqual(verdict);
  });
});
