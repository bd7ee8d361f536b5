import {
  GraphApiError,
  GraphHttpError,
  GraphTransportError,
  isGraphFailure,
  parseGraphErrorEnvelope,
} from '../../../src/graph/graph-errors';

describe('parseGraphErrorEnvelope', () => {
  it('copies every field of the §4.1 envelope', () => {
    const usage = { maxPercent: 12, app: { callCount: 12, totalCputime: 1, totalTime: 1 } };
    const err = parseGraphErrorEnvelope(
      {
        error: {
          message: 'Error validating access token: The session is invalid because the user logged out.',
          type: 'OAuthException',
          code: 190,
          error_subcode: 467,
          error_user_title: 'A title',
          error_user_msg: 'A message',
          is_transient: false,
          fbtrace_id: 'AmFGcW_3hwDB7qFbl_QdebZ',
        },
      },
      400,
      'feed',
      usage,
    );
    expect(err).toBeInstanceOf(GraphApiError);
    expect(err).toMatchObject({
      name: 'GraphApiError',
      message: 'Error validating access token: The session is invalid because the user logged out.',
      status: 400,
      code: 190,
      subcode: 467,
      type: 'OAuthException',
      isTransient: false,
      fbtraceId: 'AmFGcW_3hwDB7qFbl_QdebZ',
      userTitle: 'A title',
      userMessage: 'A message',
      usage,
      endpoint: 'feed',
    });
  });

  it('leaves optional fields undefined when absent and uses the header trace id as fallback', () => {
    const err = parseGraphErrorEnvelope(
      { error: { message: '(#506) Duplicate status message', code: 506 } },
      400,
      'feed',
      null,
      undefined,
      'HDR',
    );
    expect(err?.subcode).toBeUndefined();
    expect(err?.type).toBeUndefined();
    expect(err?.isTransient).toBeUndefined();
    expect(err?.fbtraceId).toBe('HDR');
    expect(err?.usage).toBeNull();
  });

  it('accepts numeric strings for code and subcode', () => {
    const err = parseGraphErrorEnvelope({ error: { message: 'x', code: '100', error_subcode: '33' } }, 400, 'post.get', null);
    expect(err).toMatchObject({ code: 100, subcode: 33 });
  });

  it('applies the redactor to copied strings', () => {
    const err = parseGraphErrorEnvelope(
      { error: { message: 'bad SECRET', code: 190, error_user_msg: 'SECRET!', error_user_title: 'T SECRET' } },
      400,
      'feed',
      null,
      (s) => s.replace(/SECRET/g, '***'),
    );
    expect(err).toMatchObject({ message: 'bad ***', userMessage: '***!', userTitle: 'T ***' });
  });

  it.each([
    ['null', null],
    ['a string', 'error'],
    ['a success body', { id: '1_2' }],
    ['an error that is a string', { error: 'nope' }],
    ['an error without code or message', { error: { type: 'OAuthException' } }],
  ])('returns null for %s', (_name, body) => {
    expect(parseGraphErrorEnvelope(body, 400, 'feed', null)).toBeNull();
  });
});

describe('Graph failure classes', () => {
  it('builds a transport error with a token-free message', () => {
    const e = new GraphTransportError({
      kind: 'reset',
      requestSent: true,
      endpoint: 'photos',
      errno: 'ECONNRESET',
      detail: 'socket hang up',
    });
    expect(e.message).toBe('Graph photos transport failure (reset, ECONNRESET): socket hang up');
    expect(e).toMatchObject({ name: 'GraphTransportError', kind: 'reset', requestSent: true, endpoint: 'photos' });
  });

  it('builds an HTTP error for non-JSON answers', () => {
    const e = new GraphHttpError({ status: 504, endpoint: 'feed', bodySnippet: '<html>' });
    expect(e.message).toBe('Graph feed answered HTTP 504 without a JSON body');
    expect(e.usage).toBeNull();
  });

  it('recognises the three failure classes and nothing else', () => {
    expect(isGraphFailure(new GraphHttpError({ status: 502, endpoint: 'feed', bodySnippet: '' }))).toBe(true);
    expect(isGraphFailure(new GraphTransportError({ kind: 'timeout', requestSent: true, endpoint: 'feed' }))).toBe(true);
    expect(isGraphFailure(parseGraphErrorEnvelope({ error: { message: 'm', code: 2 } }, 500, 'feed', null))).toBe(true);
    expect(isGraphFailure(new Error('x'))).toBe(false);
  });
});
