/**
 * `npm run sim` — runs the Graph API simulator as a standalone server.
 *   --port 4010 --host 127.0.0.1 --latency fixed:0|lognormal:400:0.5 --error-rate 0.01 --seed 1
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { parseLatencyFlag } from './latency';
import { createGraphSimulator } from './simulator';

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
    },
    strict: true,
  });
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
  const url = await sim.start(numberFlag('port', values.port, 4010), values.host);
  process.stdout.write(`${url}\n`);

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping graph simulator');
    sim.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'graph simulator stop failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`graph simulator failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
