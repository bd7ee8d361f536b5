import { formatDateTime } from './dates.js';
import en from './i18n/en.js';
import vi from './i18n/vi.js';

/** Vietnamese by default; the choice is kept in localStorage (it is not a secret). */
const CATALOGUES = { vi, en };
const LOCALES = { vi: 'vi-VN', en: 'en-GB' };
const STORAGE_KEY = 'lantoa.lang';

let lang = localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'vi';
document.documentElement.lang = lang;

export const getLang = () => lang;

export function setLang(next) {
  lang = next === 'en' ? 'en' : 'vi';
  localStorage.setItem(STORAGE_KEY, lang);
  document.documentElement.lang = lang;
}

/**
 * `t(key, params)`: the entry of the current catalogue with `{name}` placeholders filled in. An entry
 * may be `{one, other}`, chosen by `n`. Numbers are formatted for the language.
 */
export function t(key, params = {}) {
  let entry = CATALOGUES[lang][key] ?? CATALOGUES.vi[key];
  if (entry === undefined) return key;
  if (typeof entry === 'object') {
    entry = new Intl.PluralRules(LOCALES[lang]).select(Number(params.n ?? 0)) === 'one' ? entry.one : entry.other;
  }
  return entry.replace(/\{(\w+)\}/g, (_, name) => {
    const v = params[name];
    if (v === undefined || v === null) return '';
    return typeof v === 'number' ? num(v) : String(v);
  });
}

/** Whether the catalogue has an entry for `key` (in the chosen language or Vietnamese). */
export const has = (key) => key in CATALOGUES[lang] || key in CATALOGUES.vi;

/** `t` with a fallback for codes (statuses, reasons) that may have no entry. */
export function label(prefix, code) {
  if (code === null || code === undefined) return '';
  const key = `${prefix}.${code}`;
  const s = t(key);
  return s === key ? String(code).replace(/_/g, ' ') : s;
}

export const num = (n) => new Intl.NumberFormat(LOCALES[lang]).format(n);
export const decimal = (n) => new Intl.NumberFormat(LOCALES[lang], { maximumFractionDigits: 1 }).format(n);

/** Every date and time the dashboard shows goes through here: one format per language (see dates.js). */
export function dateTime(iso) {
  return formatDateTime(iso, lang);
}

export function time(date) {
  return new Intl.DateTimeFormat(LOCALES[lang], { timeStyle: 'medium' }).format(date);
}
