import { kindOfReason } from '../../graph/classify';

/**
 * What can fix a failed delivery:
 * - `retry`: sending it again may work (transient errors, rate limits, attempts exhausted, unknown reasons);
 * - `relink`: the Page's token or grant is broken (or the Page was unlinked): a retry works only after
 *   the Page is linked again with a working token (PUT /v1/units/{code}/page, a Pages import, a connect link);
 * - `none`: Facebook refused this content (bad image, invalid link, community standards…): it never will.
 */
export type RetryAction = 'retry' | 'relink' | 'none';

/** Reasons the delivery worker sets itself, before or instead of calling Graph. */
const DELIVERY_REASONS: Record<string, RetryAction> = {
  needs_reauth: 'relink',
  no_token: 'relink',
  no_page: 'relink',
  page_unlinked: 'relink',
  retries_exhausted: 'retry',
  outcome_unknown_exhausted: 'retry',
  outcome_unknown: 'retry',
};

export function retryActionOf(reason: string | null): RetryAction {
  if (reason === null) return 'retry';
  // `token_expired_outcome_unknown`: a token failure whose earlier attempt could not be read back.
  const base = reason.endsWith('_outcome_unknown') ? reason.slice(0, -'_outcome_unknown'.length) : reason;
  const own = DELIVERY_REASONS[base];
  if (own) return own;
  switch (kindOfReason(base)) {
    case 'reauth':
    case 'permission':
      return 'relink';
    case 'permanent':
    case 'already_posted':
    case 'gone':
      return 'none';
    default:
      return 'retry';
  }
}

/** Page token statuses that say nothing is known to be wrong with the token. */
const BROKEN_TOKEN_STATUSES = new Set(['needs_reauth', 'no_token']);

/**
 * A relink-group delivery is worth requeueing only when its Page was linked again after it failed: the
 * Page row changed after the delivery did, it has a token, is not retired, and its token is not known broken.
 */
export function relinkedSince(
  failedAt: string,
  page: { updatedAt: string | null; hasToken: boolean; tokenStatus: string | null; retired: boolean } | null,
): boolean {
  if (!page || page.updatedAt === null || !page.hasToken || page.retired) return false;
  if (page.tokenStatus !== null && BROKEN_TOKEN_STATUSES.has(page.tokenStatus)) return false;
  return page.updatedAt > failedAt;
}
