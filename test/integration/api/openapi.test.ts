import SwaggerParser from '@apidevtools/swagger-parser';
import { startTestStack, type TestStack } from '../../helpers/stack';
import { testDatabases } from '../../helpers/databases';

describe('OpenAPI document', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack(testDatabases()[0]!, 'openapi', { workers: false });
  });
  afterAll(() => s.dispose());

  it('validates and lists every route', async () => {
    const res = await s.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeTruthy();
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    const routes = s.app.printRoutes({ commonPrefix: false }).split('\n').filter(Boolean);
    expect(routes.length).toBeGreaterThan(0);
    for (const expected of [
      'POST /v1/keys',
      'POST /v1/units/import',
      'POST /v1/pages/import',
      'PUT /v1/units/{code}/page',
      'GET /v1/units/{code}',
      'POST /v1/posts',
      'POST /v1/posts/{id}/approve',
      'POST /v1/posts/{id}/cancel',
      'GET /v1/posts/{id}',
      'GET /v1/posts',
      'GET /v1/posts/{id}/deliveries',
      'POST /v1/targets/preview',
      'GET /v1/queues',
      'GET /v1/keys',
      'DELETE /v1/keys/{id}',
      'POST /v1/posts/{id}/recall',
      'PATCH /v1/posts/{id}',
      'POST /v1/posts/{id}/edits/{revision}/approve',
      'GET /v1/posts/{id}/edits',
      'GET /v1/audit',
      'GET /healthz',
      'GET /readyz',
    ]) {
      expect(documented).toContain(expected);
    }
    const ui = await s.app.inject({ method: 'GET', url: '/docs/' });
    expect([200, 302]).toContain(ui.statusCode);
  });
});
