/**
 * Request parameter handling (spec §1.2–1.3): query string, JSON and
 * urlencoded bodies merged into one flat parameter bag, plus coercions.
 */
import type { IncomingMessage } from 'node:http';
import { invalidParam, SimGraphError } from './errors';

export type Params = Record<string, unknown>;

export class BodyTooLargeError extends Error {}

/** Reads the whole body as UTF-8; resolves '' when there is none. */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<string> {
  const len = req.headers['content-length'];
  if ((len === '0' || len === undefined) && req.headers['transfer-encoding'] === undefined) {
    // No body announced: drain nothing and avoid allocating.
    return Promise.resolve('');
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        reject(new BodyTooLargeError(`body exceeds ${limitBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function addFormPair(out: Params, key: string, value: string): void {
  const bracket = key.indexOf('[');
  if (bracket > 0 && key.endsWith(']')) {
    // `attached_media[0]={"media_fbid":"…"}` → attached_media: ['{"media_fbid":"…"}']
    const base = key.slice(0, bracket);
    const idx = Number(key.slice(bracket + 1, -1));
    const arr = Array.isArray(out[base]) ? (out[base] as unknown[]) : [];
    if (Number.isInteger(idx) && idx >= 0) arr[idx] = value;
    else arr.push(value);
    out[base] = arr;
    return;
  }
  out[key] = value;
}

export function parseQuery(qs: string, out: Params = {}): Params {
  if (qs.length === 0) return out;
  for (const [k, v] of new URLSearchParams(qs)) addFormPair(out, k, v);
  return out;
}

/** Merges query parameters with the body; body values win. */
export function parseParams(query: string, raw: string, contentType: string | undefined): Params {
  const out = parseQuery(query);
  if (raw.length === 0) return out;
  const ct = (contentType ?? '').toLowerCase();
  if (ct.startsWith('multipart/')) {
    throw invalidParam('multipart/form-data bodies are not supported by this simulator; send JSON or urlencoded');
  }
  const looksJson = ct.includes('json') || (!ct.includes('urlencoded') && raw.trimStart().startsWith('{'));
  if (looksJson) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw invalidParam('Invalid JSON in request body');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw invalidParam('Request body must be a JSON object');
    }
    Object.assign(out, parsed as Params);
    return out;
  }
  return parseQuery(raw, out);
}

export function extractToken(params: Params, authorization: string | undefined): string | undefined {
  if (authorization) {
    const m = /^\s*(?:Bearer|OAuth)\s+(\S+)\s*$/i.exec(authorization);
    if (m) return m[1];
  }
  const t = params['access_token'];
  return typeof t === 'string' && t.length > 0 ? t : undefined;
}

export function str(params: Params, key: string): string | undefined {
  const v = params[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw invalidParam(`Param ${key} must be a string`);
}

export function bool(params: Params, key: string): boolean | undefined {
  const v = params[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (v === true || v === 'true' || v === '1' || v === 1) return true;
  if (v === false || v === 'false' || v === '0' || v === 0) return false;
  throw invalidParam(`Param ${key} must be a boolean`);
}

function mediaIdOf(item: unknown): string | undefined {
  if (typeof item === 'string') {
    const s = item.trim();
    if (s.startsWith('{')) {
      try {
        return mediaIdOf(JSON.parse(s));
      } catch {
        return undefined;
      }
    }
    return /^\d+$/.test(s) ? s : undefined;
  }
  if (typeof item === 'number') return String(item);
  if (item && typeof item === 'object') {
    const id = (item as Record<string, unknown>)['media_fbid'];
    if (typeof id === 'string' || typeof id === 'number') return String(id);
  }
  return undefined;
}

/** attached_media as JSON array, JSON string of an array, or indexed form fields. */
export function attachedMedia(params: Params): string[] {
  let v = params['attached_media'];
  if (v === undefined || v === null || v === '') return [];
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      throw invalidParam('Param attached_media must be an array of {"media_fbid": id}');
    }
  }
  const list = Array.isArray(v) ? v : [v];
  const ids: string[] = [];
  list.forEach((item, i) => {
    if (item === undefined) return; // sparse indexed form fields
    const id = mediaIdOf(item);
    if (id === undefined) throw invalidParam(`Param attached_media[${i}] must be a JSON object with a media_fbid`);
    ids.push(id);
  });
  return ids;
}

/** Top-level names of a `fields=` list; nested `{…}` selections and `.modifier(…)` are dropped. */
export function parseFields(raw: unknown): string[] | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const s = Array.isArray(raw) ? raw.join(',') : String(raw);
  const names: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '{' || ch === '(') depth++;
    else if (ch === '}' || ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      names.push(cur);
      cur = '';
    } else cur += ch;
  }
  names.push(cur);
  return names.map((n) => n.split(/[{.(]/)[0]!.trim()).filter((n) => n.length > 0);
}

const RELATIVE = /^\+?\s*(\d+)\s*(second|sec|minute|min|hour|day|week)s?$/i;
const UNIT_MS: Record<string, number> = {
  second: 1000,
  sec: 1000,
  minute: 60_000,
  min: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 604_800_000,
};

/** scheduled_publish_time: unix seconds (number or string), ISO-8601, `+N unit`, `tomorrow`. Returns ms. */
export function parseTime(v: unknown, now: number): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v * 1000;
  if (typeof v === 'string') {
    const s = v.trim();
    if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
    const rel = RELATIVE.exec(s);
    if (rel) return now + Number(rel[1]) * UNIT_MS[rel[2]!.toLowerCase()]!;
    if (s.toLowerCase() === 'tomorrow') {
      const d = new Date(now);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
    }
    const parsed = Date.parse(s);
    if (!Number.isNaN(parsed)) return parsed;
  }
  throw new SimGraphError(100, '(#100) The specified scheduled publish time is invalid');
}
