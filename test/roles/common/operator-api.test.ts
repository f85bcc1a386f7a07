/**
 * The operator API layer's rules without sockets: every route of every listener's OpenAPI
 * document (aggregator console, TSO/retailer API, gateway operator listener) has a test listed
 * below that calls it, and the documents validate; the role ladder; the role table (fingerprint
 * before id before default); keyset pages give every item once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import fc from 'fast-check';
import { consoleRoutes } from '../../../src/roles/aggregator/runtime/console.js';
import type { RunningAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import { contributedRoute, operatorApiDocument } from '../../../src/roles/common/operator-api.js';
import { grants, OPERATOR_ROLES, OperatorRoleTable } from '../../../src/roles/common/operator-roles.js';
import { pageOf } from '../../../src/roles/common/pages.js';
import { gatewayOperatorRoutes } from '../../../src/roles/gateway/operator-actions.js';
import { tsoApiRoutes } from '../../../src/roles/tso/api.js';
import type { RunningTso } from '../../../src/roles/tso/tso.js';

const E2E = 'test/roles/aggregator/operator-api-e2e.test.ts';
const CONSOLE = 'test/roles/aggregator/runtime-console.test.ts';
const TSO = 'test/roles/tso/tso.test.ts';
const ADMISSION = 'test/roles/aggregator/device-admission-e2e.test.ts';
const QUARANTINE = 'test/roles/aggregator/device-quarantine-e2e.test.ts';

/** Each documented route → the test files that call it over real mutual TLS. */
const COVERED: Record<string, readonly string[]> = {
  'GET /': ['test/web/console.test.ts'],
  'GET /openapi.json': [E2E, TSO],
  'GET /api/me': ['test/web/console-device-actions.test.ts'],
  'GET /status': [CONSOLE],
  'GET /events/{key}/series': [E2E],
  'GET /commands': ['test/roles/common/operator-routes.test.ts'],
  'POST /commands': [CONSOLE, E2E],
  'POST /commands/{id}/approve': [CONSOLE, E2E],
  'POST /commands/{id}/reject': [E2E],
  'GET /api/commands': [E2E],
  'GET /api/commands/{id}': [E2E],
  'GET /api/events': [E2E],
  'POST /api/events/{key}/cancel': [E2E],
  'PATCH /api/events/{key}': [E2E],
  'GET /api/fleet/pools': [E2E],
  'GET /api/fleet/sites': [E2E],
  'GET /api/fleet/gateways': [E2E],
  'GET /api/fleet/devices': [E2E, ADMISSION],
  'POST /api/fleet/devices/{id}/admit': [ADMISSION],
  'POST /api/fleet/devices/{id}/reject': [ADMISSION],
  'POST /api/fleet/devices/{id}/quarantine': [QUARANTINE],
  'POST /api/fleet/devices/{id}/release': [QUARANTINE],
  'POST /api/portfolio': [E2E],
  'GET /api/events/stream': [E2E],
  'GET /api/audit': ['test/roles/aggregator/console-audit.test.ts'],
  'GET /api/refusals': ['test/roles/aggregator/console-audit.test.ts'],
  'GET /api/summary': ['test/web/console-scale.test.ts'],
  'GET /api/status': [TSO],
  'GET /api/dispatches': [TSO],
  'POST /api/dispatches': [TSO],
  'GET /api/dispatches/{eventId}': [TSO],
  'DELETE /api/dispatches/{eventId}': [TSO],
  'GET /safe-mode': [E2E],
  'POST /safe-mode': [E2E],
  'POST /safe-mode/leave': [E2E],
  'GET /api/devices': [E2E],
  'GET /api/devices/{deviceId}': [E2E],
  'POST /api/devices/{deviceId}/admit': [E2E],
  'POST /api/devices/{deviceId}/reject': [E2E],
  'POST /api/devices/{deviceId}/quarantine': [E2E],
  'POST /api/devices/{deviceId}/release': [E2E],
  'POST /devices/{deviceId}/quarantine': [E2E],
  'POST /devices/{deviceId}/repin': ['test/roles/gateway/repin-operator.test.ts'],
};

// The route lists only: none of their handlers runs here.
const unused = {} as never;
const documents = (): Record<string, Record<string, unknown>> => ({
  console: operatorApiDocument('console', consoleRoutes(unused as RunningAggregator, { page: { html: '<p>', csp: "default-src 'none'" } }).routes),
  tso: operatorApiDocument('tso', tsoApiRoutes(unused as RunningTso)),
  gateway: operatorApiDocument('gateway', gatewayOperatorRoutes({ engine: unused, admission: unused, persistSafeMode: unused })),
});

test('every route of every operator listener has a test that calls it, and each document is valid OpenAPI 3.1', async () => {
  for (const [name, doc] of Object.entries(documents())) {
    await SwaggerParser.validate(structuredClone(doc) as never);
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(ops)) {
        const route = `${method.toUpperCase()} ${path}`;
        const files = COVERED[route];
        assert.ok(files && files.length > 0, `${name}: ${route} has no test listed`);
        // The literal part of the path before its first parameter, as the test writes it.
        const literal = path.split('{')[0]!.replace(/\/$/, '') || '/';
        for (const f of files) {
          assert.ok(existsSync(f), `${route}: ${f} does not exist`);
          assert.ok(readFileSync(f, 'utf8').includes(literal), `${route}: ${f} never mentions ${literal}`);
        }
      }
    }
  }
});

test('every operator listener serves GET /api/me to viewers, audited as api.me', () => {
  for (const [name, doc] of Object.entries(documents())) {
    const op = (doc.paths as Record<string, Record<string, Record<string, unknown>>>)['/api/me']?.get;
    assert.ok(op, `${name}: no GET /api/me`);
    assert.equal(op['x-erab-role'], 'viewer');
    assert.equal(op['x-erab-audit-action'], 'api.me');
  }
});

test('the role ladder: viewer < operator < approver < administrator; the security officer beside it', () => {
  const table = Object.fromEntries(OPERATOR_ROLES.map((held) => [held, OPERATOR_ROLES.filter((needed) => grants(held, needed))]));
  assert.deepEqual(table, {
    viewer: ['viewer'],
    operator: ['viewer', 'operator'],
    approver: ['viewer', 'operator', 'approver'],
    'security officer': ['viewer', 'security officer'],
    administrator: [...OPERATOR_ROLES],
  });
});

test('a role comes from the fingerprint, then the operator id, then the default; no table: administrator', () => {
  const fp = 'AB:CD:EF:01:23:45:67:89:AB:CD';
  const t = new OperatorRoleTable({ default: 'viewer', operators: { alice: 'approver' }, fingerprints: { [fp.replaceAll(':', '').toLowerCase()]: 'security officer' } });
  assert.equal(t.roleOf({ id: 'alice', fingerprint: fp }), 'security officer');
  assert.equal(t.roleOf({ id: 'alice', fingerprint: '00:00:00:00:00:00:00:00:00:00' }), 'approver');
  assert.equal(t.roleOf({ id: 'zed' }), 'viewer');
  assert.equal(new OperatorRoleTable().roleOf({ id: 'zed' }), 'administrator');
  assert.throws(() => new OperatorRoleTable({ operators: { alice: 'root' as never } }), /viewer.*administrator|Invalid option/);
});

test('contributed routes: reads for viewers, writes for operators, unless they say', () => {
  const handle = () => ({});
  assert.equal(contributedRoute({ method: 'GET', path: '/api/x', action: 'x', handle }).role, 'viewer');
  assert.equal(contributedRoute({ method: 'POST', path: '/api/x', action: 'x', handle }).role, 'operator');
  assert.equal(contributedRoute({ method: 'POST', path: '/api/x', action: 'x', role: 'security officer', handle }).role, 'security officer');
});

test('keyset pages: every item that passes the filter once, in order, whatever the page size', () => {
  fc.assert(fc.property(
    fc.uniqueArray(fc.string({ maxLength: 6 }), { maxLength: 200 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 4 }),
    (keys, limit, mod) => {
      const sorted = [...keys].sort();
      const filter = (k: string) => k.length % mod === 0;
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let n = 0; n < 1000; n++) {
        const page = pageOf(sorted, (k) => k, { limit, cursor, filter });
        assert.ok(page.items.length <= limit);
        seen.push(...page.items);
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      assert.deepEqual(seen, sorted.filter(filter));
    },
  ));
  assert.throws(() => pageOf(['a'], (k) => k, { limit: 1, cursor: '!!' }), /cursor/);
});
