/**
 * Graph error catalogue and envelope for the simulator (spec §4.1–4.3).
 */

/** Thrown inside handlers; turned into the §4.1 envelope by the server. */
export class SimGraphError extends Error {
  override readonly name = 'SimGraphError';
  readonly status: number;
  readonly code: number;
  readonly subcode: number | undefined;
  readonly type: string;
  readonly wwwAuthenticate: boolean;
  /** Second token of the `www-authenticate` header (`invalid_token` for 190, `invalid_code` for code exchange errors). */
  readonly authError: string | undefined;
  /** Overrides the code's default `is_transient`. */
  readonly transient: boolean | undefined;

  constructor(
    code: number,
    message: string,
    opts: { subcode?: number; type?: string; status?: number; authError?: string; transient?: boolean } = {},
  ) {
    super(message);
    this.code = code;
    this.subcode = opts.subcode;
    this.type = opts.type ?? 'OAuthException';
    this.status = opts.status ?? httpStatusFor(code);
    this.authError = opts.authError ?? (code === 190 ? 'invalid_token' : undefined);
    this.wwwAuthenticate = this.authError !== undefined;
    this.transient = opts.transient;
  }
}

/** §4.2: 400 default, 403 for permission errors (10, 200–299), 500 for 1/2. */
export function httpStatusFor(code: number): number {
  if (code === 1 || code === 2) return 500;
  if (code === 10 || (code >= 200 && code <= 299)) return 403;
  return 400;
}

/** is_transient is reported on unknown/service errors and app/user throttles. */
export function isTransientCode(code: number): boolean {
  return code === 1 || code === 2 || code === 4 || code === 17;
}

const DEFAULT_MESSAGES: Record<number, string> = {
  1: 'An unknown error has occurred.',
  2: 'An unexpected error has occurred. Please retry your request later.',
  4: '(#4) Application request limit reached',
  10: '(#10) Application does not have permission for this action',
  17: '(#17) User request limit reached',
  32: '(#32) Page request limit reached',
  100: '(#100) Invalid parameter',
  190: 'Invalid OAuth access token - Cannot parse access token',
  200: '(#200) Permissions error',
  324: '(#324) Missing or invalid image file',
  341: '(#341) Feed action request limit reached',
  368: 'The action attempted has been deemed abusive or is otherwise disallowed',
  506: '(#506) Duplicate status message',
  613: '(#613) Calls to this api have exceeded the rate limit.',
  1500: '(#1500) The url you supplied is invalid',
  1609005: 'Error Posting Link',
  80001:
    '(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.',
};

const SUBCODE_MESSAGES: Record<number, string> = {
  1390008:
    'We limit how often you can post, comment or do other things in a given amount of time in order to help protect the community from spam. You can try again later.',
};

export function defaultMessage(code: number, subcode?: number): string {
  if (subcode !== undefined && SUBCODE_MESSAGES[subcode]) return SUBCODE_MESSAGES[subcode];
  if (code === 190 && subcode !== undefined) return tokenErrorMessage(subcode, '100000000000001', Date.now());
  return DEFAULT_MESSAGES[code] ?? `(#${code}) Simulated error`;
}

export function errorFor(code: number, subcode?: number, message?: string, status?: number, type?: string): SimGraphError {
  return new SimGraphError(code, message ?? defaultMessage(code, subcode), { subcode, status, type });
}

function fbDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** Messages of the 190 family by subcode (§4.3). */
export function tokenErrorMessage(subcode: number, appId: string, at: number): string {
  switch (subcode) {
    case 458:
      return `Error validating access token: The user has not authorized application ${appId}.`;
    case 460:
      return 'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.';
    case 463:
      return `Error validating access token: Session has expired on ${fbDate(at)}. The current time is ${fbDate(Date.now())}.`;
    case 467:
      return 'Error validating access token: The session is invalid because the user logged out.';
    case 492:
      return 'User associated with the Page access token does not have an appropriate role on the Page.';
    default:
      return 'Error validating access token: The session is invalid.';
  }
}

export function unparsableTokenError(): SimGraphError {
  return new SimGraphError(190, DEFAULT_MESSAGES[190]!);
}

export function missingTokenError(): SimGraphError {
  return new SimGraphError(2500, 'An active access token must be used to query information about the current user.');
}

/** 100/33 GraphMethodException for unknown, deleted or unreadable objects. */
export function unsupportedRequest(method: 'get' | 'post' | 'delete', id: string): SimGraphError {
  const prefix = method === 'delete' ? '(#100) ' : '';
  return new SimGraphError(
    100,
    `${prefix}Unsupported ${method} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
    { subcode: 33, type: 'GraphMethodException' },
  );
}

export function permissionError(writing: boolean): SimGraphError {
  return new SimGraphError(
    200,
    writing
      ? '(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts as an admin with sufficient administrative permission'
      : '(#200) Permissions error',
  );
}

export function invalidParam(message: string): SimGraphError {
  return new SimGraphError(100, `(#100) ${message}`);
}

export interface ErrorEnvelope {
  error: {
    message: string;
    type: string;
    code: number;
    error_subcode?: number;
    is_transient?: boolean;
    fbtrace_id: string;
  };
}

export function envelope(err: SimGraphError, traceId: string): ErrorEnvelope {
  const body: ErrorEnvelope['error'] = { message: err.message, type: err.type, code: err.code, fbtrace_id: traceId };
  if (err.subcode !== undefined) body.error_subcode = err.subcode;
  if (err.transient !== undefined) body.is_transient = err.transient;
  else if (isTransientCode(err.code)) body.is_transient = true;
  else if (err.code === 190) body.is_transient = false;
  // keep fbtrace_id last, as Meta does
  const { fbtrace_id, ...rest } = body;
  return { error: { ...rest, fbtrace_id } };
}

export function wwwAuthenticateValue(err: SimGraphError): string {
  return `OAuth "Facebook Platform" "${err.authError ?? 'invalid_token'}" "${err.message.replace(/"/g, "'")}"`;
}
