import { z } from 'zod';
import { readEnv } from './index';

const CliEnv = z.object({
  /** Base URL of a running Lan Tỏa API. */
  LANTOA_API_URL: z.url().default('http://127.0.0.1:3000'),
  /** API key the CLI acts as. */
  LANTOA_API_KEY: z.string().min(1).optional(),
});

/** Settings of the `lantoa` CLI (flags override them). */
export function loadCliEnv(): z.infer<typeof CliEnv> {
  const env = readEnv();
  const parsed = CliEnv.safeParse({ LANTOA_API_URL: env.LANTOA_API_URL || undefined, LANTOA_API_KEY: env.LANTOA_API_KEY || undefined });
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join('; '));
  return parsed.data;
}
