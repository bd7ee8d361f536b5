/**
 * The dashboard's one date format, per language (no imports: a pure function, unit-tested):
 * vi `02/12/2026 14:05`, en `2 Dec 2026, 14:05`, always 24-hour, in the browser's time zone unless
 * `timeZone` is given. Built from numeric parts, so it does not depend on how the browser's ICU
 * spells a locale's "short" style (vi-VN puts the time first, en-GB writes "Sept").
 */
const MONTHS_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function formatDateTime(value, lang, timeZone) {
  if (value === null || value === undefined || value === '') return '';
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return '';
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      ...(timeZone ? { timeZone } : {}),
    })
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  );
  const time = `${parts.hour}:${parts.minute}`;
  if (lang === 'en') return `${Number(parts.day)} ${MONTHS_EN[Number(parts.month) - 1]} ${parts.year}, ${time}`;
  return `${parts.day}/${parts.month}/${parts.year} ${time}`;
}
