/**
 * Routes contributed through the composition hook, on the aggregator's real console (mutual TLS):
 * a non-operator certificate the allow-list lets through is still refused (403) by the routes; an
 * unexpected failure is a 500 without its detail, audited with it; the same route twice is refused
 * at start-up; the console's own routes are untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import { join } from 'node:path';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { startAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import { OperatorRoutes, type OperatorRoute } from '../../../src/roles/common/operator-routes.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { TlsMaterial, clientTlsOptions } from '../../../src/security/tls.js';
import type { IssuedCertificate } from '../../../src/security/pki/index.js';
import { pkiWorld } from '../../kit/index.js';
import { errorText } from '../../../src/core/error-messages.js';

test('the same method and path contributed twice is refused', () => {
  const r: OperatorRoute = { method: 'GET', path: '/api/x/:id', action: 'x', handle: () => ({}) };
  const routes = new OperatorRoutes([r]);
  assert.throws(() => routes.add({ ...r, path: '/api/x/:other' }), /GET \/api\/x\/:other: contributed twice/);
  routes.add({ ...r, method: 'POST' });
  assert.equal(routes.size, 2);
});

test('contributed routes on the console: operators only, params and body handed over, failures mapped without detail, every request audited', { timeout: 60_000 }, async () => {
  const world = await pkiWorld({ agg: 'aggregator:AGG1', alice: 'operator:alice', gw: 'gateway:GW1' }, { prefix: 'erab-operator-routes-' });
  const audit = new MemoryAuditSink();
  const cfg = parseAggregatorConfig({
    id: 'AGG1', tls: world.tlsFiles('agg'), store: { url: join(world.dir, 'agg.db') }, downstream: { port: 0 },
    // The allow-list lets the gateway's certificate through: the routes must still refuse it.
    console: { port: 0, allowList: { roles: ['operator', 'gateway'] } },
  });
  const routes: OperatorRoute[] = [
    { method: 'POST', path: '/api/echo/:id', action: 'test.echo', handle: (r) => ({ id: r.params.id, body: r.body, by: r.operator.id }) },
    { method: 'GET', path: '/api/boom', action: 'test.boom', handle: () => { throw new Error('secret detail at /srv/x.js:1'); } },
  ];
  const agg = await startAggregator(cfg, { audit, attach: [() => ({ routes })] });
  const call = async (who: IssuedCertificate, method: string, path: string, body?: string) => {
    const material = await TlsMaterial.fromPem({ credentials: [{ certPem: who.certPem, keyPem: who.keyPem }], caPem: world.caPem });
    const tls = clientTlsOptions(material, 'console', { expect: { role: 'aggregator', id: 'AGG1' } });
    return new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = https.request({ ...tls, host: '127.0.0.1', port: agg.consolePort!, method, path, agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => { text += c.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  };
  try {
    const echo = await call(world.certs.alice, 'POST', '/api/echo/a%2Fb', '{"n":1}');
    assert.equal(echo.status, 200, echo.text);
    assert.deepEqual(JSON.parse(echo.text), { id: 'a/b', body: { n: 1 }, by: 'alice' });
    // Refusals before any route's own code are keyed too: the console says them in the operator's language.
    const keyed = async (r: Promise<{ status: number; text: string }>, status: number, key: string, ja: RegExp) => {
      const a = await r;
      const body = JSON.parse(a.text) as { error: string; key: string; params: Record<string, string | number> };
      assert.deepEqual([a.status, body.key], [status, key], a.text);
      assert.equal(errorText('en', body.key, body.params), body.error);
      assert.match(errorText('ja', body.key, body.params) ?? '', ja);
    };
    await keyed(call(world.certs.alice, 'POST', '/api/echo/1', '{nope'), 400, 'request.bodyNotJson', /^リクエスト本文が正しい JSON ではありません: /);
    await keyed(call(world.certs.alice, 'POST', '/api/echo/1', `{"n":"${'x'.repeat(70 * 1024)}"}`), 413, 'request.bodyTooLarge', /^リクエスト本文が 65536 バイトを超えています$/);
    await keyed(call(world.certs.alice, 'GET', '/api/echo/1'), 405, 'request.methodNotAllowed', /^\/api\/echo\/1 には GET を使えません$/);
    await keyed(call(world.certs.alice, 'GET', '/api/nowhere'), 404, 'request.notFound', /^GET \/api\/nowhere はありません$/);
    const gw = await call(world.certs.gw, 'POST', '/api/echo/1', '{}');
    assert.equal(gw.status, 403);
    assert.match(JSON.parse(gw.text).error, /only operator certificates/);
    const boom = await call(world.certs.alice, 'GET', '/api/boom');
    assert.equal(boom.status, 500);
    assert.deepEqual(JSON.parse(boom.text), { error: 'internal error' });
    assert.equal((await call(world.certs.alice, 'GET', '/api/echo/1')).status, 405);
    assert.equal((await call(world.certs.alice, 'GET', '/commands')).status, 200, 'the console\'s own routes');

    const trail = audit.records.filter((r) => r.action.startsWith('test.')).map((r) => `${r.action} ${r.outcome} ${r.actor.id}`);
    assert.deepEqual(trail, ['test.echo success alice', 'test.echo failure alice', 'test.echo failure alice', 'test.echo refused GW1', 'test.boom failure alice']);
    assert.match(audit.records.find((r) => r.action === 'test.boom')!.reason!, /secret detail/, 'the cause is audited, not answered');
  } finally {
    await agg.stop();
    await world.close();
  }
});
