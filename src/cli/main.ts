import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadCliEnv } from '../../config/cli';
import { ApiClient, ApiError, ApiUnreachableError } from './api-client';
import { CliInputError } from './levels';
import { pagesLink } from './pages';
import { postsList, postsPreview, postsRetry, postsShow, targetFromFlags } from './posts';
import { reorganiseCommand } from './reorganise';
import { rotateKeyCommand } from './rotate-key';
import { rejectCommand } from './reject';
import { errorLines, uploading } from './problems';
import { keysBootstrapCommand } from './keys-bootstrap';
import { watchCommand } from './watch';

const USAGE = `lantoa — command line for a running Lan Tỏa API

Usage: lantoa [--url URL] [--key KEY] <command> [options]
  (defaults: LANTOA_API_URL, LANTOA_API_KEY from the environment or .env)

--levels takes numbers or the tree's level names: root (central) 0, provinces (province, tinh) 1, then
communes (commune, xa) 2 in the tree since 2025-07, or districts (district, huyen) 2 and communes 3 before.

Commands:
  units import <file.csv> [--in-place]           import code,parent_code,level,type,name into the active
                                                 tree; renaming or moving a unit posts went to needs
                                                 --in-place (a merger is \`units reorganise\`)
  units reorganise <units.csv> <merges.csv> [--apply] [--force] [--pages carry|none]
                                                 move to a new tree (units.csv) by the merges
                                                 new_code,old_code,kind: prints the plan (a dry run unless
                                                 --apply): units kept/renamed/created/retired, Pages
                                                 carried/retired, the first 20 unassigned Pages, keys
                                                 suspended, posts still being delivered (they block
                                                 --apply unless --force); exit 1 on rejected input
  pages import <file.csv>                        link unit_code,page_id,access_token[,label]
  pages link <unit> --page-id ID [--token-stdin | --token-file F] [--label L]
                                                 link one Page to a unit. The token comes from stdin or a
                                                 file, never from the command line; without one the Page is
                                                 mapped with no token and a connect link is printed for the
                                                 Page's admin
  keys create --name N --role R --unit CODE      create an API key (shown once)
  posts submit --message M --unit CODE [--scope subtree|self] [--levels 1,2] [--exclude a,b]
               [--link URL] [--photo URL]... [--publish-at ISO] [--spread MINUTES]
                                                 --spread: the Pages get it evenly over that many minutes
                                                 (1–1440; root, then provinces, then communes)
  posts list [--status S[,S]] [--limit N] [--json]
                                                 newest first: id, status, created, author, target, progress
  posts show <postId> [--json]                   the post, who created / approved / cancelled / recalled it and
                                                 when, its counts and its failure groups
  posts preview --unit CODE [--scope subtree|self] [--levels …] [--exclude a,b]
                                                 the Pages a post to this target reaches, by level, and the
                                                 units without a healthy Page
  posts approve <postId>
  posts reject <postId> --reason TEXT            refuse a pending post (approver, admin; never its author);
                                                 the author sees the reason and may resubmit it
  posts cancel <postId>
  posts retry <postId> [--reasons r1,r2]         requeue failed deliveries (all, or these reasons); says which
                                                 need their Pages relinked first
  posts recall <postId> --reason TEXT            delete the post from every Page it reached
  keys revoke <keyId>                            revoke a key at once
  keys bootstrap [--name N] [--force]            create the first admin key over root, in the store directly
                                                 (the service's environment: DATABASE_URL…), for a service
                                                 without ADMIN_API_KEY; refused while an admin key of root
                                                 is active unless --force; audited (key.bootstrap)
  watch <postId>                                 live progress bar and provinces / districts / communes done,
                                                 until the post is final, then why Pages failed and what to
                                                 do; a post awaiting approval is said so and waited for
                                                 (exit 0 only when published, or recalled everywhere)
  tokens rotate-key [--dry-run]                  re-encrypt every Page token with TOKEN_ENCRYPTION_KEY
                                                 (runs against the store directly, with the service's
                                                 environment; old keys in TOKEN_ENCRYPTION_KEYS_OLD)`;

type Values = ReturnType<typeof parse>['values'];
interface Ctx {
  api: ApiClient;
  v: Values;
  /** Positionals after the command words. */
  args: string[];
  out: (line: string) => void;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
      unit: { type: 'string' },
      message: { type: 'string' },
      scope: { type: 'string' },
      levels: { type: 'string' },
      exclude: { type: 'string' },
      link: { type: 'string' },
      photo: { type: 'string', multiple: true },
      'publish-at': { type: 'string' },
      spread: { type: 'string' },
      reason: { type: 'string' },
      reasons: { type: 'string' },
      status: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
      'page-id': { type: 'string' },
      label: { type: 'string' },
      'token-stdin': { type: 'boolean', default: false },
      'token-file': { type: 'string' },
      // Accepted only to refuse them with a clear message (a token on the command line lands in the shell history).
      token: { type: 'string' },
      'access-token': { type: 'string' },
      'dry-run': { type: 'boolean' },
      apply: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      pages: { type: 'string' },
      'in-place': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

const need = (v: string | undefined, what: string) => {
  if (!v) throw new CliInputError(`missing ${what}\n\n${USAGE}`);
  return v;
};

/** `<command> <subcommand>` → handler; a handler returns the exit code. */
const COMMANDS: Record<string, (c: Ctx) => Promise<number>> = {
  'units import': async ({ api, v, args, out }) => {
    // Sent as bytes: the API refuses a file that is not UTF-8, naming the line (reading it as utf8 here would hide that).
    const file = need(args[0], '<file.csv>');
    out(JSON.stringify(await uploading(file, () => api.importUnits(fs.readFileSync(file), { inPlace: v['in-place'] })), null, 2));
    return 0;
  },
  'units reorganise': ({ api, v, args }) =>
    reorganiseCommand(api, {
      unitsFile: need(args[0], '<units.csv>'),
      mergesFile: need(args[1], '<merges.csv>'),
      apply: v.apply,
      force: v.force,
      pages: v.pages,
    }),
  'pages import': async ({ api, args, out }) => {
    const file = need(args[0], '<file.csv>');
    out(JSON.stringify(await uploading(file, () => api.importPages(fs.readFileSync(file))), null, 2));
    return 0;
  },
  'pages link': ({ api, v, args, out }) =>
    pagesLink(
      api,
      args[0],
      {
        pageId: v['page-id'],
        label: v.label,
        tokenStdin: v['token-stdin'],
        tokenFile: v['token-file'],
        tokenOnArgv: v.token !== undefined || v['access-token'] !== undefined,
      },
      out,
    ),
  'keys create': async ({ api, v, out }) => {
    const made = await api.createKey({ name: need(v.name, '--name'), role: need(v.role, '--role'), unit: need(v.unit, '--unit') });
    out(JSON.stringify(made, null, 2));
    return 0;
  },
  'keys revoke': async ({ api, args, out }) => {
    out(JSON.stringify(await api.revokeKey(need(args[0], '<keyId>')), null, 2));
    return 0;
  },
  'posts submit': async ({ api, v, out }) => {
    const target = await targetFromFlags(api, { unit: need(v.unit, '--unit'), scope: v.scope, levels: v.levels, exclude: v.exclude });
    const post = await api.createPost({
      message: need(v.message, '--message'),
      target,
      ...(v.link ? { link: v.link } : {}),
      ...(v.photo?.length ? { photos: v.photo } : {}),
      ...(v['publish-at'] ? { publishAt: v['publish-at'] } : {}),
      // Whole minutes go as numbers; anything else as given, so the API's 400 names `body.spread.minutes`.
      ...(v.spread !== undefined ? { spread: { minutes: /^\d+$/.test(v.spread) ? Number(v.spread) : v.spread } } : {}),
    });
    out(JSON.stringify(post, null, 2));
    return 0;
  },
  'posts list': ({ api, v, out }) => postsList(api, { status: v.status, limit: v.limit, json: v.json }, out),
  'posts show': ({ api, v, args, out }) => postsShow(api, need(args[0], '<postId>'), { json: v.json }, out),
  'posts preview': ({ api, v, out }) =>
    postsPreview(api, { unit: v.unit, scope: v.scope, levels: v.levels, exclude: v.exclude, json: v.json }, out),
  'posts retry': ({ api, v, args, out }) => postsRetry(api, need(args[0], '<postId>'), { reasons: v.reasons }, out),
  'posts approve': async ({ api, args, out }) => {
    out(JSON.stringify(await api.approve(need(args[0], '<postId>')), null, 2));
    return 0;
  },
  'posts reject': ({ api, v, args }) => rejectCommand(api, args[0], v.reason),
  'posts cancel': async ({ api, args, out }) => {
    out(JSON.stringify(await api.cancel(need(args[0], '<postId>')), null, 2));
    return 0;
  },
  'posts recall': async ({ api, v, args, out }) => {
    out(JSON.stringify(await api.recall(need(args[0], '<postId>'), need(v.reason, '--reason')), null, 2));
    return 0;
  },
  watch: ({ api, args, out }) => watchCommand(api, need(args[0], '<postId>'), out),
};

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  const [cmd, sub] = positionals;
  if (values.help || !cmd) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (cmd === 'tokens' && sub === 'rotate-key') return rotateKeyCommand({ dryRun: values['dry-run'] === true });
  if (cmd === 'keys' && sub === 'bootstrap') {
    return keysBootstrapCommand({ ...(values.name ? { name: values.name } : {}), force: values.force });
  }
  const single = Object.hasOwn(COMMANDS, cmd);
  const name = single ? cmd : `${cmd} ${sub ?? ''}`.trim();
  const handler = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!handler) {
    console.error(`unknown command: ${positionals.join(' ')}\n\n${USAGE}`);
    return 2;
  }
  const env = loadCliEnv();
  const key = values.key ?? env.LANTOA_API_KEY;
  if (!key) {
    console.error('No API key: pass --key or set LANTOA_API_KEY');
    return 2;
  }
  const api = new ApiClient(values.url ?? env.LANTOA_API_URL, key);
  return handler({ api, v: values, args: positionals.slice(single ? 1 : 2), out: (line) => console.log(line) });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    if (err instanceof ApiUnreachableError || err instanceof CliInputError) {
      // One line, no stack: the API is down or the input is wrong, nothing to debug.
      for (const line of errorLines(err, (err as { source?: string }).source)) console.error(line);
      process.exit(err instanceof CliInputError ? 2 : 1);
    }
    if ((err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS_')) {
      // An unknown or malformed flag: what was wrong, and where the list of flags is.
      const unknown = /^Unknown option '([^']+)'/.exec(err.message);
      console.error(`${unknown ? `unknown option ${unknown[1]}` : err.message} (lantoa --help lists the commands and their flags)`);
      process.exit(2);
    }
    if (err instanceof ApiError && err.status === 404) {
      // `post … not found`: the API's own words, without the request line.
      console.error(`${err.message.replace(/^.*? → 404 [A-Z_]*: /, '')} (404)`);
      process.exit(1);
    }
    for (const line of errorLines(err, (err as { source?: string }).source)) console.error(line);
    process.exit(1);
  },
);
