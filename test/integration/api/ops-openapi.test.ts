import SwaggerParser from '@apidevtools/swagger-parser';
import { testDatabases } from '../../helpers/databases';
import { startTestStack, type TestStack } from '../../helpers/stack';

describe('OpenAPI document: ops routes (metrics, webhooks, levels, admin session)', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack(testDatabases()[0]!, 'ops-openapi', { workers: false });
  });
  afterAll(() => s.dispose());

  it('validates and documents every ops route, and keeps Bull Board internals out', async () => {
    const doc = (await s.app.inject({ method: 'GET', url: '/docs/json' })).json();
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeTruthy();
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    for (const route of [
      'POST /v1/webhooks',
      'GET /v1/webhooks',
      'DELETE /v1/webhooks/{id}',
      'GET /v1/webhooks/{id}/deliveries',
      'GET /v1/posts/{id}/levels',
      'GET /metrics',
      'POST /admin/session',
      'DELETE /admin/session',
    ]) {
      expect(documented).toContain(route);
    }
    expect(documented.filter((r) => r.includes('/admin/queues'))).toEqual([]);
    expect(Object.keys(doc.paths['/metrics'].get.responses['200'].content)).toEqual(['text/plain']);
  });
});
