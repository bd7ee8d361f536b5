import fs from 'node:fs';
import path from 'node:path';
import { DASHBOARD_ROOT } from '../../src/dashboard/dashboard.plugin';

type Format = (value: unknown, lang: string, timeZone?: string) => string;

/** dates.js is a browser ES module without imports; evaluate it without a bundler, as the catalogue test does. */
function load(): Format {
  const text = fs.readFileSync(path.join(DASHBOARD_ROOT, 'dates.js'), 'utf8');
  return new Function(`${text.replace(/^export function /m, 'function ')}\nreturn formatDateTime;`)() as Format;
}

describe('dashboard date format', () => {
  const format = load();

  it('writes one format per language, 24-hour, in the given time zone', () => {
    const at = '2026-12-02T07:05:09Z';
    expect(format(at, 'vi', 'Asia/Ho_Chi_Minh')).toBe('02/12/2026 14:05');
    expect(format(at, 'en', 'Asia/Ho_Chi_Minh')).toBe('2 Dec 2026, 14:05');
    expect(format(new Date(at), 'vi', 'UTC')).toBe('02/12/2026 07:05');
  });

  it('spells every month the same way and pads the Vietnamese day and month', () => {
    expect(format('2026-09-01T00:00:00Z', 'en', 'UTC')).toBe('1 Sep 2026, 00:00');
    expect(format('2026-09-01T00:00:00Z', 'vi', 'UTC')).toBe('01/09/2026 00:00');
    expect(format('2027-01-31T23:59:00Z', 'en', 'UTC')).toBe('31 Jan 2027, 23:59');
  });

  it('answers an empty string for a missing or invalid date', () => {
    expect(format(null, 'vi')).toBe('');
    expect(format('', 'en')).toBe('');
    expect(format('not a date', 'vi')).toBe('');
  });
});
