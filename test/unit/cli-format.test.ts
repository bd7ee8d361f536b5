import { adviceFor, formatTime, progressSummary, targetSummary } from '../../src/cli/format';
import { CliInputError, parseLevels } from '../../src/cli/levels';
import { emptyCounts } from '../../src/services/posts/post-status';
import { levelOf } from '../../src/services/tree/level-names';

describe('level names (--levels and targets)', () => {
  it('map by the tree: communes are 2 on the 2025-07 tree and 3 on the 2025-03 one, districts only exist on the latter', () => {
    expect(parseLevels('provinces,communes', 2)).toEqual([1, 2]);
    expect(parseLevels('Tỉnh, xã', 2)).toEqual([1, 2]);
    expect(parseLevels('communes,districts', 3)).toEqual([2, 3]);
    expect(parseLevels('huyện', 3)).toEqual([2]);
    expect(parseLevels('root,1,commune,1', 2)).toEqual([0, 1, 2]);
    expect(levelOf('districts', 2)).toEqual({
      problem:
        'unknown level "districts" (this tree has no districts: provinces, then communes); valid levels of this tree: ' +
        '0 root/central/trung-uong, 1 provinces/province/tinh, 2 communes/commune/xa',
    });
  });

  it('refuse unknown names, numbers below the deepest level and an empty list, with the valid names', () => {
    expect(() => parseLevels('wards', 2)).toThrow(CliInputError);
    expect(() => parseLevels('wards', 2)).toThrow(
      '--levels: unknown level "wards"; valid levels of this tree: 0 root/central/trung-uong, 1 provinces/province/tinh, 2 communes/commune/xa',
    );
    expect(() => parseLevels('4', 3)).toThrow('--levels: this tree has no level 4 (its deepest is 3)');
    expect(() => parseLevels(' , ', 2)).toThrow('--levels: empty');
  });
});

describe('CLI wording', () => {
  it('one date format, in UTC', () => {
    expect(formatTime('2026-12-02T06:09:07.123Z')).toBe('2026-12-02 06:09 UTC');
    expect(formatTime('2026-12-02T13:09:07+07:00')).toBe('2026-12-02 06:09 UTC');
    expect(formatTime(null)).toBe('—');
  });

  it('progress in delivery terms, and in recall terms once a recall started', () => {
    expect(progressSummary('partially_failed', { ...emptyCounts(), published: 40, failed: 4 }, 44)).toBe('published 40 · failed 4 of 44');
    expect(progressSummary('publishing', { ...emptyCounts(), published: 3, queued: 2, skipped: 1 }, 6)).toBe(
      'published 3 · failed 0 · skipped 1 · pending 2 of 6',
    );
    expect(progressSummary('recalled', { ...emptyCounts(), recalled: 44 }, 44)).toBe('recalled 44 of 44 Pages');
    expect(progressSummary('recalling', { ...emptyCounts(), recalled: 40, recalling: 3, recall_failed: 1 }, 44)).toBe(
      'recalled 40 of 44 Pages · recalling 3 · recall failed 1',
    );
  });

  it('a target in one phrase', () => {
    expect(targetSummary({ unit: '01', scope: 'subtree', levels: [2], exclude: ['00004'] })).toBe('01 subtree · levels 2 · 1 excluded');
    expect(targetSummary({ unit: '01', scope: 'self' })).toBe('01 self');
  });

  it('advice: a broken token needs a relink before a retry, a transient error a retry, a permanent one a new post', () => {
    expect(adviceFor('needs_reauth', 'p1')).toMatchObject({ retry: false, relink: true });
    expect(adviceFor('token_expired', 'p1').what).toBe(
      'the Page token expired; reconnect the Page: relink the Pages first (lantoa pages link <unit> --page-id <id> --token-file <file>), ' +
        'then lantoa posts retry p1 --reasons token_expired',
    );
    expect(adviceFor('graph_transient', 'p1')).toMatchObject({ retry: true, relink: false });
    expect(adviceFor('page_rate_limited', 'p1')).toMatchObject({ retry: true, relink: false });
    expect(adviceFor('bad_image', 'p1')).toMatchObject({ retry: false, relink: false });
    expect(adviceFor('bad_image', 'p1').what).toContain('a retry fails the same way');
    expect(adviceFor('no_page', 'p1').what).toContain('link one (lantoa pages link <unit> --page-id <id>)');
  });
});
