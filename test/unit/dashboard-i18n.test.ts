import fs from 'node:fs';
import path from 'node:path';
import { DASHBOARD_ROOT } from '../../src/dashboard/dashboard.plugin';
import { ROLES } from '../../src/services/auth/keys.service';
import { TOKEN_STATUSES } from '../../src/services/tree/pages.service';
import { DELIVERY_STATUSES, POST_STATUSES } from '../../src/services/posts/post-status';

type Catalogue = Record<string, string | { one: string; other: string }>;

/** The catalogues are browser ES modules (`export default {…}`); evaluate them without a bundler. */
function catalogue(lang: string): Catalogue {
  const text = fs.readFileSync(path.join(DASHBOARD_ROOT, 'i18n', `${lang}.js`), 'utf8');
  return new Function(text.replace(/^export default /m, 'return '))() as Catalogue;
}

function sources(): string {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && e.name !== 'i18n') walk(p);
      else if (e.name.endsWith('.js')) files.push(p);
    }
  };
  walk(DASHBOARD_ROOT);
  return files.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
}

describe('dashboard string catalogues', () => {
  const vi = catalogue('vi');
  const en = catalogue('en');

  it('have the same keys in Vietnamese and English', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(vi).sort());
  });

  it('cover every key the code asks for', () => {
    const code = sources();
    const literal = [...code.matchAll(/\bt\(\s*'([^']+)'/g)].map((m) => m[1]!);
    const ternary = [...code.matchAll(/\bt\(\s*[^'()]+\?\s*'([^']+)'\s*:\s*'([^']+)'/g)].flatMap((m) => [m[1]!, m[2]!]);
    const families = [
      ...['posts', 'pages', 'connections', 'queues', 'reorganise', 'compose', 'approvals'].map((n) => `nav.${n}`),
      ...['connected', 'needs_reauth', 'expiring', 'missing'].map((s) => `cov.state.${s}`),
      ...['none', 'missing', 'needs_reauth', 'expiring'].map((f) => `cov.filter.${f}`),
      ...['live', 'reconnecting', 'ended', 'idle'].map((s) => `live.${s}`),
      ...['attention', 'needs_reauth', 'expiring'].map((f) => `pages.filter.${f}`),
      ...['deliveries', 'fanout'].flatMap((q) => [`queues.${q}`, `queues.${q}Hint`]),
      'queues.lastMinute',
      'queues.last5Minutes',
      ...POST_STATUSES.map((s) => `post.${s}`),
      ...DELIVERY_STATUSES.map((s) => `delivery.${s}`),
      ...TOKEN_STATUSES.map((s) => `token.${s}`),
      ...ROLES.map((r) => `role.${r}`),
      ...['published', 'failed', 'skipped', 'cancelled', 'pending'].map((s) => `count.${s}`),
      ...['waiting', 'active', 'delayed', 'failed'].map((s) => `queue.${s}`),
      ...[0, 1, 2, 3].map((l) => `level.${l}`),
      ...['subtree', 'self'].map((s) => `compose.scope.${s}`),
      ...['now', 'at'].map((s) => `compose.schedule.${s}`),
      ...['rejected', 'recalled'].map((k) => `outcome.${k}.title`),
      'compose.pickUnit',
      'compose.excludeUnit',
    ];
    const needed = [...new Set([...literal, ...ternary, ...families])];
    expect(literal.length).toBeGreaterThan(50);
    expect(needed.filter((k) => !(k in vi))).toEqual([]);
    expect(needed.filter((k) => !(k in en))).toEqual([]);
  });

  it('fill the same placeholders in both languages', () => {
    const holes = (v: Catalogue[string]) => [...new Set(JSON.stringify(v).match(/\{\w+\}/g) ?? [])].sort();
    const differ = Object.keys(vi).filter((k) => k in en && JSON.stringify(holes(vi[k]!)) !== JSON.stringify(holes(en[k]!)));
    expect(differ).toEqual([]);
  });

  it('load nothing from another origin', () => {
    const all = `${sources()}\n${fs.readFileSync(path.join(DASHBOARD_ROOT, 'index.html'), 'utf8')}\n${fs.readFileSync(path.join(DASHBOARD_ROOT, 'styles.css'), 'utf8')}`;
    expect(all).not.toMatch(/(src|href)=["']https?:|@import|url\(\s*["']?https?:|fetch\(\s*['"`]https?:/);
    expect(all).not.toMatch(/\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/);
  });
});
