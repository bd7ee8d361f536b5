import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadCliEnv } from '../../config/cli';
import { ApiClient } from './api-client';
import { levelSummary, watchPostLevels } from './watch';
import { reorganiseCommand } from './reorganise';
import { rotateKeyCommand } from './rotate-key';
import { rejectCommand } from './reject';
import { errorLines, uploading } from './problems';
import { keysBootstrapCommand } from './keys-bootstrap';

const USAGE = `lantoa — command line for a running Lan Tỏa API

Usage: lantoa [--url URL] [--key KEY] <command> [options]
  (defaults: LANTOA_API_URL, LANTOA_API_KEY from the environment or .env)

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
  keys create --name N --role R --unit CODE      create an API key (shown once)
  posts submit --message M --unit CODE [--scope subtree|self] [--levels 1,2] [--exclude a,b]
               [--link URL] [--photo URL]... [--publish-at ISO]
  posts approve <postId>
  posts reject <postId> --reason TEXT            refuse a pending post (approver, admin; never its author);
                                                 the author sees the reason and may resubmit it
  posts cancel <postId>
  posts show <postId>
  posts recall <postId> --reason TEXT            delete the post from every Page it reached
  keys revoke <keyId>                            revoke a key at once
  keys bootstrap [--name N] [--force]            create the first admin key over root, in the store directly
                                                 (the service's environment: DATABASE_URL…), for a service
                                                 without ADMIN_API_KEY; refused while an admin key of root
                                                 is active unless --force; audited (key.bootstrap)
  watch <postId>                                 live progress bar and provinces / districts / communes done,
                                                 until the post is final (exit 0 only when published)
  tokens rotate-key [--dry-run]                  re-encrypt every Page token with TOKEN_ENCRYPTION_KEY
                                                 (runs against the store directly, with the service's
                                                 environment; old keys in TOKEN_ENCRYPTION_KEYS_OLD)`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
      unit: { type: 'string' },
      message: { type: 'string' },
      scope: { type: 'string', default: 'subtree' },
      levels: { type: 'string' },
      exclude: { type: 'string' },
      link: { type: 'string' },
      photo: { type: 'string', multiple: true },
      'publish-at': { type: 'string' },
      reason: { type: 'string' },
      'dry-run': { type: 'boolean' },
      apply: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      pages: { type: 'string' },
      'in-place': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [cmd, sub, arg, arg2] = positionals;
  if (values.help || !cmd) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (cmd === 'tokens' && sub === 'rotate-key') return rotateKeyCommand({ dryRun: values['dry-run'] === true });
  if (cmd === 'keys' && sub === 'bootstrap') {
    return keysBootstrapCommand({ ...(values.name ? { name: values.name } : {}), force: values.force });
  }
  const env = loadCliEnv();
  const key = values.key ?? env.LANTOA_API_KEY;
  if (!key) {
    console.error('No API key: pass --key or set LANTOA_API_KEY');
    return 2;
  }
  const api = new ApiClient(values.url ?? env.LANTOA_API_URL, key);
  const print = (v: unknown) => console.log(JSON.stringify(v, null, 2));
  const need = (v: string | undefined, what: string) => {
    if (!v) throw new Error(`missing ${what}\n\n${USAGE}`);
    return v;
  };

  switch (`${cmd} ${sub ?? ''}`.trim()) {
    case 'units import': {
      // Sent as bytes: the API refuses a file that is not UTF-8, naming the line (reading it as utf8 here would hide that).
      const file = need(arg, '<file.csv>');
      print(await uploading(file, () => api.importUnits(fs.readFileSync(file), { inPlace: values['in-place'] })));
      return 0;
    }
    case 'units reorganise':
      return reorganiseCommand(api, {
        unitsFile: need(arg, '<units.csv>'),
        mergesFile: need(arg2, '<merges.csv>'),
        apply: values.apply,
        force: values.force,
        pages: values.pages,
      });
    case 'pages import': {
      const file = need(arg, '<file.csv>');
      print(await uploading(file, () => api.importPages(fs.readFileSync(file))));
      return 0;
    }
    case 'keys create':
      print(
        await api.createKey({ name: need(values.name, '--name'), role: need(values.role, '--role'), unit: need(values.unit, '--unit') }),
      );
      return 0;
    case 'posts submit': {
      const target = {
        unit: need(values.unit, '--unit'),
        scope: values.scope,
        ...(values.levels ? { levels: values.levels.split(',').map(Number) } : {}),
        ...(values.exclude ? { exclude: values.exclude.split(',') } : {}),
      };
      print(
        await api.createPost({
          message: need(values.message, '--message'),
          target,
          ...(values.link ? { link: values.link } : {}),
          ...(values.photo?.length ? { photos: values.photo } : {}),
          ...(values['publish-at'] ? { publishAt: values['publish-at'] } : {}),
        }),
      );
      return 0;
    }
    case 'posts approve':
      print(await api.approve(need(arg, '<postId>')));
      return 0;
    case 'posts reject':
      return rejectCommand(api, arg, values.reason);
    case 'posts cancel':
      print(await api.cancel(need(arg, '<postId>')));
      return 0;
    case 'posts recall':
      print(await api.recall(need(arg, '<postId>'), need(values.reason, '--reason')));
      return 0;
    case 'keys revoke':
      print(await api.revokeKey(need(arg, '<keyId>')));
      return 0;
    case 'posts show':
      print(await api.getPost(need(arg, '<postId>')));
      return 0;
    default:
      if (cmd === 'watch') {
        const { view: final, levels } = await watchPostLevels(api, need(sub, '<postId>'));
        console.log(
          `\n${final.status}: published ${final.counts.published}, failed ${final.counts.failed}, skipped ${final.counts.skipped} of ${final.total}`,
        );
        for (const line of levelSummary(levels)) console.log(`  ${line}`);
        return final.status === 'published' ? 0 : 1;
      }
      console.error(`unknown command: ${positionals.join(' ')}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    for (const line of errorLines(err, (err as { source?: string }).source)) console.error(line);
    process.exit(1);
  },
);
