import pino, { type Logger, type LoggerOptions } from 'pino';

/** Paths that could carry a secret anywhere in a log line; pino replaces them with "[redacted]". */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'accessToken',
  'access_token',
  'token',
  'key',
  '*.accessToken',
  '*.access_token',
  '*.token',
  '*.key',
  '*.tokenCiphertext',
  '*.token_ciphertext',
  'tokenCiphertext',
  'token_ciphertext',
  'appSecret',
  '*.appSecret',
  'secret',
  '*.secret',
  'req.headers.cookie',
  '*.headers.authorization',
  '*.headers.Authorization',
  'config.headers.Authorization',
];

export function createLogger(level: string, name = 'lantoa', destination?: pino.DestinationStream): Logger {
  const opts: LoggerOptions = { name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(opts, destination) : pino(opts);
}
