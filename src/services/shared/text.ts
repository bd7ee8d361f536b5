/**
 * PostgreSQL text cannot hold NUL (U+0000): such input would fail deep in a query as a 500. Every
 * free-text field that reaches the store is refined with this, so it is a 400 naming the field.
 */
export const hasNoNul = (s: string): boolean => !s.includes('\u0000');
export const NO_NUL_MESSAGE = 'must not contain NUL (U+0000) characters';
