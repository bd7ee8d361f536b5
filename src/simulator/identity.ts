/**
 * People, system users, authorization codes and user tokens of the simulator
 * (onboarding, docs graph-onboarding.md §1.a–1.d). Page tokens stay in SimStore.
 */
import { randomBytes } from 'node:crypto';
import type { DialogBehaviour, PageGrant, SystemUserSeed, UserSeed } from './types';

/** Authorization codes live about an hour (graph-onboarding.md §1.a.1, [CODE/secondary]). */
export const CODE_TTL_MS = 3_600_000;
/** `expires_in` of user tokens: the doc's example value, ≈ 60 days (§1.a.2, §1.a.3 [DOC]). */
export const USER_TOKEN_TTL_S = 5_183_944;

export interface StoredUser {
  id: string;
  name: string;
  pages: PageGrant[];
}

export interface StoredSystemUser {
  id: string;
  name: string;
  token: string;
  scopes: string[];
  pages: PageGrant[];
}

export interface AuthCode {
  userId: string;
  /** Pages shared in the dialog; 'all' = every Page the person can act on. */
  share: string[] | 'all';
  scopes: string[];
  redirectUri: string;
  issuedAt: number;
  expiresAt: number;
  used: boolean;
}

/** A user or system-user token (Page tokens are SimStore's). */
export interface PrincipalToken {
  kind: 'USER' | 'SYSTEM_USER';
  /** The person's or system user's id. */
  subjectId: string;
  scopes: string[];
  /** USER only: the Pages shared in the dialog. */
  share: string[] | 'all';
  /** USER: obtained through fb_exchange_token. */
  long: boolean;
  issuedAt: number;
  /** ms since epoch; 0 = never. */
  expiresAt: number;
}

export interface IdentitySnapshot {
  users: StoredUser[];
  systemUsers: StoredSystemUser[];
  tokens: Array<[string, PrincipalToken]>;
}

/** Real codes start with `AQ` and are long base64url strings [INF from captured dialog redirects]. */
const CODE_RE = /^AQ[A-Za-z0-9_-]{40,}$/;

function grants(raw: unknown, who: string): PageGrant[] {
  if (!Array.isArray(raw)) throw new TypeError(`${who}: pages must be an array of {id, tasks}`);
  return raw.map((g: unknown) => {
    const p = g as PageGrant;
    if (typeof p?.id !== 'string' || p.id.length === 0) throw new TypeError(`${who}: each page needs a non-empty string id`);
    if (!Array.isArray(p.tasks) || !p.tasks.every((t) => typeof t === 'string')) {
      throw new TypeError(`${who}: tasks of page ${p.id} must be an array of strings`);
    }
    return { id: p.id, tasks: [...p.tasks] };
  });
}

export class IdentityStore {
  readonly users = new Map<string, StoredUser>();
  readonly systemUsers = new Map<string, StoredSystemUser>();
  /** User and system-user tokens. */
  readonly tokens = new Map<string, PrincipalToken>();
  readonly codes = new Map<string, AuthCode>();
  dialog: DialogBehaviour | undefined;

  /** Forgets codes, user tokens and the dialog; `keepSeeds` keeps people and system users (and their tokens). */
  clear(keepSeeds: boolean): void {
    this.codes.clear();
    this.dialog = undefined;
    for (const [t, rec] of this.tokens) if (rec.kind === 'USER' || !keepSeeds) this.tokens.delete(t);
    if (!keepSeeds) {
      this.users.clear();
      this.systemUsers.clear();
    }
  }

  /** People, system users and user/system-user tokens (codes and the dialog are not kept: they live minutes). */
  snapshot(): IdentitySnapshot {
    return { users: [...this.users.values()], systemUsers: [...this.systemUsers.values()], tokens: [...this.tokens.entries()] };
  }

  restore(s: IdentitySnapshot): void {
    this.clear(false);
    for (const u of s.users) this.users.set(u.id, u);
    for (const u of s.systemUsers) this.systemUsers.set(u.id, u);
    for (const [token, rec] of s.tokens) this.tokens.set(token, rec);
  }

  seedUsers(seeds: UserSeed[]): number {
    for (const s of seeds) {
      if (typeof s?.id !== 'string' || s.id.length === 0) throw new TypeError('each user needs a non-empty string id');
      this.users.set(s.id, { id: s.id, name: s.name ?? `User ${s.id}`, pages: grants(s.pages, `user ${s.id}`) });
    }
    return seeds.length;
  }

  seedSystemUsers(seeds: SystemUserSeed[], now: number, isPageToken: (t: string) => boolean): number {
    for (const s of seeds) {
      if (typeof s?.id !== 'string' || s.id.length === 0) throw new TypeError('each system user needs a non-empty string id');
      if (typeof s.token !== 'string' || s.token.length === 0) throw new TypeError(`system user ${s.id}: token must be a non-empty string`);
      if (isPageToken(s.token)) throw new TypeError(`system user ${s.id}: token is already a Page token`);
      if (!Array.isArray(s.scopes) || !s.scopes.every((x) => typeof x === 'string')) {
        throw new TypeError(`system user ${s.id}: scopes must be an array of strings`);
      }
      const expiresAt = s.expiresAt ?? 0;
      if (!Number.isFinite(expiresAt) || expiresAt < 0) throw new TypeError(`system user ${s.id}: expiresAt must be ms since epoch or 0`);
      const pages = grants(s.pages, `system user ${s.id}`);
      const previous = this.systemUsers.get(s.id);
      if (previous) this.tokens.delete(previous.token);
      this.systemUsers.set(s.id, { id: s.id, name: s.name ?? `System user ${s.id}`, token: s.token, scopes: [...s.scopes], pages });
      this.tokens.set(s.token, {
        kind: 'SYSTEM_USER',
        subjectId: s.id,
        scopes: [...s.scopes],
        share: 'all',
        long: true,
        issuedAt: now,
        expiresAt,
      });
    }
    return seeds.length;
  }

  setDialog(b: DialogBehaviour): void {
    if (!b || typeof b !== 'object') throw new TypeError('dialog must be {userId, share?} or {deny: true}');
    if ('deny' in b) {
      if (b.deny !== true) throw new TypeError('dialog: deny must be true');
      this.dialog = { deny: true };
      return;
    }
    const user = typeof b.userId === 'string' ? this.users.get(b.userId) : undefined;
    if (!user) throw new TypeError(`dialog: unknown user ${String(b.userId)} (seed users first)`);
    const share = b.share ?? 'all';
    if (share !== 'all') {
      if (!Array.isArray(share)) throw new TypeError("dialog: share must be an array of Page ids or 'all'");
      const own = new Set(user.pages.map((p) => p.id));
      for (const id of share) if (!own.has(id)) throw new TypeError(`dialog: user ${user.id} cannot act on Page ${String(id)}`);
    }
    this.dialog = { userId: user.id, share: share === 'all' ? 'all' : [...share] };
  }

  issueCode(c: Omit<AuthCode, 'used' | 'expiresAt'>): string {
    const code = `AQ${randomBytes(96).toString('base64url')}`;
    this.codes.set(code, { ...c, expiresAt: c.issuedAt + CODE_TTL_MS, used: false });
    return code;
  }

  /** undefined = not a code this simulator issued (or not code-shaped). */
  findCode(code: string): AuthCode | undefined {
    return CODE_RE.test(code) ? this.codes.get(code) : undefined;
  }

  issueUserToken(t: Omit<PrincipalToken, 'kind' | 'expiresAt'>): string {
    const token = `EAAG${randomBytes(96).toString('base64url')}`;
    this.tokens.set(token, { ...t, kind: 'USER', expiresAt: t.issuedAt + USER_TOKEN_TTL_S * 1000 });
    return token;
  }

  expireCodes(now: number): number {
    let n = 0;
    for (const c of this.codes.values()) {
      if (c.expiresAt > now) {
        c.expiresAt = now;
        n++;
      }
    }
    return n;
  }

  expireUserTokens(now: number): number {
    let n = 0;
    for (const t of this.tokens.values()) {
      if (t.kind === 'USER' && t.expiresAt > now) {
        t.expiresAt = now;
        n++;
      }
    }
    return n;
  }

  /** The Pages a token may act on, with tasks, in seed order (Page existence is the caller's check). */
  grantsOf(t: PrincipalToken): PageGrant[] {
    if (t.kind === 'SYSTEM_USER') return this.systemUsers.get(t.subjectId)?.pages ?? [];
    const all = this.users.get(t.subjectId)?.pages ?? [];
    if (t.share === 'all') return all;
    const shared = new Set(t.share);
    return all.filter((g) => shared.has(g.id));
  }

  nameOf(t: PrincipalToken): string {
    return (t.kind === 'USER' ? this.users.get(t.subjectId)?.name : this.systemUsers.get(t.subjectId)?.name) ?? t.subjectId;
  }
}

export function isExpired(t: { expiresAt: number }, now: number): boolean {
  return t.expiresAt !== 0 && t.expiresAt <= now;
}
