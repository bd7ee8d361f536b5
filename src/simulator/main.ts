/**
 * `npm run sim` — runs the Graph API simulator as a standalone server (`--help` lists the flags).
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { parseLatencyFlag } from './latency';
import { planUnitPages, readUnitsCsv, UnitsCsvError, writePagesCsv } from './seed-units';
import { createGraphSimulator } from './simulator';
import { persistTo, readStateFile, StateFileError } from './state-file';

/** How long after a request the `--state` file is rewritten (requests meanwhile join the same write). */
const STATE_DEBOUNCE_MS = 500;

export const HELP = `Usage: npm run sim -- [options]

A local Facebook Graph API simulator: point the service's GRAPH_API_URL (and FB_DIALOG_URL) at it.

Options:
  --port <n>                 port to listen on (default 4010; 0 = any free port)
  --host <addr>              address to listen on (default 127.0.0.1)
  --pages <units.csv>        seed one Page per unit of this units CSV (root included), each with a valid Page token
  --write-pages-csv <file>   write the matching Pages CSV (unit_code,page_id,access_token) for \`lantoa pages import\`;
                             it holds the Page tokens, so it is written mode 600
  --state <file>             keep Pages, tokens, posts, people and system users in this file across restarts
                             (loaded at start when it exists, saved after changes and on exit; mode 600, it holds tokens)
  --latency <spec>           fixed:<ms> or lognormal:<medianMs>:<sigma> (default fixed:0)
  --error-rate <0..1>        fraction of writes failing with a transient error (default 0)
  --seed <n>                 seed of every random choice (default 1)
  --duplicate-mode <mode>    off | consecutive | window: how identical consecutive posts are refused (default consecutive)
  --help                     this text

Control routes (no auth, JSON bodies), under /_sim/:
  POST /_sim/pages {pages:[{id,name?,token}]}            seed Pages (a re-seeded Page gets the new token, valid)
  GET  /_sim/pages/{pageId}/posts                         every post of a Page, deleted ones included
  GET  /_sim/visible-counts                               visible posts per Page and in total
  GET  /_sim/stats                                        requests, posts, visible posts, requests per endpoint
  POST /_sim/tokens/invalidate {pageId, subcode}          invalidate a Page's tokens (190 with subcode 460|463|492|458|467)
  POST /_sim/faults {rules:[…]} / GET / DELETE            inject errors, drops, delays, read lag, incidents
  POST /_sim/usage {pageId, percent, regainMinutes?}      set a Page's usage (rate-limit headers, throttling past 100%)
  POST /_sim/users {users:[{id,name?,pages:[{id,tasks}]}]}                       people who can sign in (Login dialog)
  POST /_sim/system-users {systemUsers:[{id,token,scopes,pages:[{id,tasks}]}]}   Business Manager system users
  POST /_sim/dialog {userId, share?} | {deny:true}        what the Login dialog does next
  POST /_sim/codes/expire, POST /_sim/user-tokens/expire  expire OAuth codes / user tokens
  POST /_sim/config {…}                                   change options (errorRate, latency, appId, appSecret, redirectUris, …)
  POST /_sim/reset {keepPages?}                           forget posts (and Pages, unless keepPages)
  GET  /_sim/health
`;

function numberFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new TypeError(`--${name} must be a number, got ${value}`);
  return n;
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '4010' },
      host: { type: 'string', default: '127.0.0.1' },
      latency: { type: 'string', default: 'fixed:0' },
      'error-rate': { type: 'string', default: '0' },
      seed: { type: 'string', default: '1' },
      'duplicate-mode': { type: 'string', default: 'consecutive' },
      pages: { type: 'string' },
      'write-pages-csv': { type: 'string' },
      state: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (values['write-pages-csv'] !== undefined && values.pages === undefined) {
    throw new TypeError('--write-pages-csv needs --pages <units.csv> (the units whose Pages it lists)');
  }
  const logger = pino({ name: 'graph-sim' });
  const mode = values['duplicate-mode'];
  if (mode !== 'off' && mode !== 'consecutive' && mode !== 'window') {
    throw new TypeError('--duplicate-mode must be off|consecutive|window');
  }
  const sim = createGraphSimulator({
    seed: numberFlag('seed', values.seed, 1),
    latency: parseLatencyFlag(values.latency ?? 'fixed:0'),
    errorRate: numberFlag('error-rate', values['error-rate'], 0),
    duplicateMode: mode,
    logger,
  });

  const lines: string[] = [];
  const stateFile = values.state;
  let state: ReturnType<typeof persistTo> | undefined;
  if (stateFile) {
    const saved = readStateFile(stateFile);
    if (saved) {
      sim.importState(saved);
      const posts = saved.store.pages.reduce((n, p) => n + p.posts.length, 0);
      lines.push(`Loaded ${saved.store.pages.length} Pages and ${posts} posts from ${stateFile}.`);
    }
    state = persistTo(sim, stateFile, STATE_DEBOUNCE_MS, (err) => logger.error({ err: err.message }, 'writing the state file failed'));
    lines.push(`State file: ${stateFile} (mode 600; it holds the Page tokens, like Facebook's own store).`);
  }
  if (values.pages) {
    const units = readUnitsCsv(values.pages, fs.readFileSync(values.pages, 'utf8'));
    const { seeds, links } = planUnitPages(units, (id) => sim.currentPageToken(id));
    sim.seedPages(seeds);
    state?.touch();
    lines.push(
      `Seeded ${seeds.length} new Pages with valid tokens (${links.length - seeds.length} kept with their tokens from the state file) for ${links.length} units of ${values.pages} (root included).`,
    );
    const out = values['write-pages-csv'];
    if (out) {
      writePagesCsv(out, links);
      lines.push(`Wrote ${out} (mode 600): ${links.length} Pages with their access tokens — keep it private, delete it after the import.`);
    }
  }
  state?.flush();

  const url = await sim.start(numberFlag('port', values.port, 4010), values.host);
  process.stdout.write(`${url}\n`);
  if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
  if (values.pages) {
    const csv = values['write-pages-csv'] ?? '<pages.csv>';
    process.stdout.write(
      [
        'Next steps:',
        `  1. start the service with GRAPH_API_URL=${url} (and FB_DIALOG_URL=${url}), e.g. GRAPH_API_URL=${url} npm start`,
        `  2. lantoa units import ${values.pages}`,
        `  3. lantoa pages import ${csv}`,
        '',
      ].join('\n'),
    );
  }

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping graph simulator');
    sim.stop().then(
      () => {
        state?.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'graph simulator stop failed');
        state?.flush();
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    if (err instanceof UnitsCsvError) {
      process.stderr.write(`graph simulator: cannot seed Pages from ${err.file}: ${err.message}\n${err.lines().join('\n')}\n`);
    } else if (err instanceof StateFileError) {
      process.stderr.write(`graph simulator: ${err.message}\n`);
    } else {
      process.stderr.write(`graph simulator failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    process.exit(1);
  });
}
