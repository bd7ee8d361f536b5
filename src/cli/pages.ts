import fs from 'node:fs';
import { ApiError, type ApiClient } from './api-client';
import { formatTime } from './format';
import { CliInputError } from './levels';

type Out = (line: string) => void;

export interface PagesLinkOptions {
  pageId?: string | undefined;
  label?: string | undefined;
  tokenStdin?: boolean | undefined;
  tokenFile?: string | undefined;
  /** Set when a token was passed as a plain flag: refused (it would land in the shell history), never echoed. */
  tokenOnArgv?: boolean | undefined;
}

/** A CSV field, quoted when it must be. */
const csvField = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stdin) text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
  return text;
}

/**
 * `pages link <unit> --page-id <id> [--token-stdin | --token-file f] [--label L]`.
 * - With a token: `PUT /v1/units/{code}/page` (the token is stored encrypted and checked in the background).
 * - Without one: PUT requires a token, so the Page is mapped through the Pages import with an empty token
 *   (`no_token`; a token the Page already has is kept), and when the Page still has no working token a
 *   connect link is created for the unit, for its Page admin to connect the Page with Facebook.
 * The token is read from stdin or a file only, and is never printed.
 */
export async function pagesLink(
  api: ApiClient,
  unit: string | undefined,
  o: PagesLinkOptions,
  out: Out,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<number> {
  if (o.tokenOnArgv) {
    throw new CliInputError(
      'a token is never taken as a command-line argument (it would stay in the shell history): use --token-stdin or --token-file <file>',
    );
  }
  if (!unit) throw new CliInputError('missing <unit>: lantoa pages link <unit> --page-id <id>');
  if (!o.pageId) throw new CliInputError('missing --page-id <id> (the numeric id of the Facebook Page)');
  if (!/^\d{1,32}$/.test(o.pageId)) throw new CliInputError(`--page-id: expected a numeric Page id, got "${o.pageId}"`);
  if (o.tokenStdin && o.tokenFile) throw new CliInputError('use --token-stdin or --token-file, not both');

  let token: string | undefined;
  if (o.tokenStdin) token = (await readStdin(stdin)).trim();
  else if (o.tokenFile) {
    try {
      token = fs.readFileSync(o.tokenFile, 'utf8').trim();
    } catch (err) {
      throw new CliInputError(`--token-file: cannot read ${o.tokenFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if ((o.tokenStdin || o.tokenFile) && !token) {
    throw new CliInputError(`${o.tokenStdin ? '--token-stdin' : '--token-file'}: the token is empty`);
  }

  if (token) {
    await api.putPage(unit, o.pageId, token, o.label);
    out(`linked Page ${o.pageId} to unit ${unit} with its token (stored encrypted; the token check runs now)`);
    return 0;
  }

  const csv = ['unit_code,page_id,access_token,label', [unit, o.pageId, '', o.label ?? ''].map(csvField).join(',')].join('\n');
  await api.importPages(csv);
  const view = await api.getUnit(unit);
  const page = view.pages.find((p) => p.pageId === o.pageId);
  const status = page?.tokenStatus ?? 'no_token';
  if (status === 'no_token' || status === 'needs_reauth') {
    out(`mapped Page ${o.pageId} to unit ${unit} without a token (status ${status}).`);
    const link = await api.createConnectLink(unit).catch((e: unknown) => {
      if (e instanceof ApiError && e.status < 500) return e;
      throw e;
    });
    if (link instanceof ApiError) {
      // e.g. the Facebook app is not configured: the mapping stands, the token has to come another way.
      out(`no connect link (${link.message.replace(/^.*? → \d+ [A-Za-z_]*: /, '')});`);
      out('give the token with --token-stdin or --token-file, or run the Business Manager sync');
      return 0;
    }
    out(`Send this one-time connect link to the Page's admin; they log in with Facebook and the Page gets its token:`);
    out(`  ${link.url}`);
    out(`  (valid until ${formatTime(link.expiresAt)}; or pass a token: --token-stdin / --token-file)`);
  } else {
    out(`mapped Page ${o.pageId} to unit ${unit}; it keeps its token (status ${status})`);
  }
  return 0;
}
