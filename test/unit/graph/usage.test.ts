import { parseUsageHeaders } from '../../../src/graph/usage';

describe('parseUsageHeaders', () => {
  it.each([
    {
      name: 'reads the Pages BUC header with regain minutes',
      headers: {
        'x-business-use-case-usage':
          '{"723701000827665":[{"type":"pages","call_count":97,"total_cputime":23,"total_time":24,"estimated_time_to_regain_access":0}]}',
      },
      expected: { page: { callCount: 97, totalCputime: 23, totalTime: 24, regainMinutes: 0 }, maxPercent: 97 },
    },
    {
      name: 'matches header names case-insensitively',
      headers: {
        'X-Business-Use-Case-Usage':
          '{"1":[{"type":"pages","call_count":100,"total_cputime":25,"total_time":25,"estimated_time_to_regain_access":17}]}',
      },
      expected: { page: { callCount: 100, totalCputime: 25, totalTime: 25, regainMinutes: 17 }, maxPercent: 100 },
    },
    {
      name: 'reads x-app-usage and takes the highest metric',
      headers: { 'x-app-usage': '{"call_count":28,"total_time":41,"total_cputime":25}' },
      expected: { app: { callCount: 28, totalCputime: 25, totalTime: 41 }, maxPercent: 41 },
    },
    {
      name: 'reads the legacy x-page-usage header',
      headers: { 'X-Page-Usage': '{"call_count":85,"total_cputime":56,"total_time":60}' },
      expected: { pageLegacy: { callCount: 85, totalCputime: 56, totalTime: 60 }, maxPercent: 85 },
    },
    {
      name: 'combines all three headers',
      headers: {
        'x-app-usage': '{"call_count":5,"total_time":5,"total_cputime":5}',
        'x-page-usage': '{"call_count":12,"total_cputime":1,"total_time":1}',
        'x-business-use-case-usage':
          '{"9":[{"type":"pages","call_count":3,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":0}]}',
      },
      expected: {
        app: { callCount: 5, totalCputime: 5, totalTime: 5 },
        pageLegacy: { callCount: 12, totalCputime: 1, totalTime: 1 },
        page: { callCount: 3, totalCputime: 1, totalTime: 1, regainMinutes: 0 },
        maxPercent: 12,
      },
    },
    {
      name: 'picks the most saturated business object among several',
      headers: {
        'x-business-use-case-usage': JSON.stringify({
          '1': [{ type: 'pages', call_count: 10, total_cputime: 2, total_time: 2, estimated_time_to_regain_access: 0 }],
          '2': [{ type: 'pages', call_count: 104, total_cputime: 30, total_time: 30, estimated_time_to_regain_access: 42 }],
          '3': [{ type: 'ads_management', call_count: 300, total_cputime: 1, total_time: 1, estimated_time_to_regain_access: 9 }],
        }),
      },
      expected: { page: { callCount: 104, totalCputime: 30, totalTime: 30, regainMinutes: 42 }, maxPercent: 104 },
    },
    {
      name: 'ignores a non-JSON header but keeps the valid ones',
      headers: { 'x-app-usage': '42%', 'x-page-usage': '{"call_count":7,"total_cputime":0,"total_time":0}' },
      expected: { pageLegacy: { callCount: 7, totalCputime: 0, totalTime: 0 }, maxPercent: 7 },
    },
  ])('$name', ({ headers, expected }) => {
    expect(parseUsageHeaders(headers)).toEqual(expected);
  });

  it.each([
    ['no headers at all', {}],
    ['unrelated headers only', { 'content-type': 'application/json', 'x-fb-trace-id': 'abc' }],
    ['garbage in every usage header', { 'x-app-usage': 'nope', 'x-page-usage': '[]', 'x-business-use-case-usage': '{' }],
    ['a BUC header with no usage objects', { 'x-business-use-case-usage': '{"1":[]}' }],
  ])('returns null for %s', (_name, headers) => {
    expect(parseUsageHeaders(headers)).toBeNull();
  });

  it('returns null for null or undefined input', () => {
    expect(parseUsageHeaders(null)).toBeNull();
    expect(parseUsageHeaders(undefined)).toBeNull();
  });

  it('accepts a Fetch Headers object', () => {
    const h = new Headers({ 'X-App-Usage': '{"call_count":61,"total_time":2,"total_cputime":3}' });
    expect(parseUsageHeaders(h)).toEqual({ app: { callCount: 61, totalCputime: 3, totalTime: 2 }, maxPercent: 61 });
  });

  it('reads the first value when a header arrives as an array', () => {
    const usage = parseUsageHeaders({ 'x-app-usage': ['{"call_count":9,"total_time":1,"total_cputime":1}'] });
    expect(usage?.app?.callCount).toBe(9);
  });

  it('treats numeric strings inside the JSON as numbers', () => {
    const usage = parseUsageHeaders({ 'x-app-usage': '{"call_count":"33","total_time":"1","total_cputime":"x"}' });
    expect(usage).toEqual({ app: { callCount: 33, totalCputime: 0, totalTime: 1 }, maxPercent: 33 });
  });
});
