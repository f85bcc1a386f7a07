/**
 * The OpenADR-side notice, over real sockets: an aggregator (startAggregator, its R4 VTN with the
 * notice board's routes), a gateway (Gateway.start with a simulated battery over ECHONET Lite)
 * registered to it over mutual TLS, and a notice for the gateway's site. The gateway fetches it,
 * keeps it for the EMS with the notice's own timestamp, records it in its audit log and
 * acknowledges it; the aggregator's delivery is then delivered and audited.
 */
import { test } from 'node:test';
import { describeEachEngine } from '../../store/harness.js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { systemClock } from '../../../src/core/clock.js';
import { openStore } from '../../../src/store/store.js';
import { AuditLog } from '../../../src/security/audit/log.js';
import { readRecords } from '../../../src/security/audit/export.js';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { startAggregator, type RunningAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import { Gateway, gatewayConfigSchema } from '../../../src/roles/gateway/gateway.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import {
  ContactRegistry, GatewayChannel, GatewayNoticeBoard, NOTICE_ACK_PATH, NOTICE_FETCH_PATH, Notifier, gatewayNoticeRoutes, notifyMigrations, type GatewayNoticeWire,
} from '../../../src/secops/notify/index.js';
import { MemoryAuditSink } from '../../../src/core/audit-port.js';
import { pkiWorld, waiter } from '../../kit/index.js';
import { advisory } from './fixtures.js';

const until = waiter({ timeoutMs: 60_000, intervalMs: 50 });

test('a notice for a site reaches its gateway over R4 mutual TLS: stored for the EMS, audited on both sides, delivered once acknowledged', { timeout: 120_000 }, async () => {
  const pki = await pkiWorld({ AGG1: 'aggregator:AGG1', GW1: 'gateway:GW1' }, { prefix: 'erab-notify-gw-', flatFiles: true });
  const dir = pki.dir;
  const net = `127.${64 + Math.floor(Math.random() * 190)}.${1 + Math.floor(Math.random() * 250)}`;
  const tlsOf = (id: string) => ({ certFile: join(dir, `${id}.pem`), keyFile: join(dir, `${id}.key`), caFile: join(dir, 'ca.pem') });
  const aggAudit = AuditLog.open({ dir: join(dir, 'agg-audit'), origin: 'erab/aggregator-AGG1/audit', checkpointIntervalMs: 0 });
  const store = await openStore({ url: join(dir, 'notify.db'), migrations: notifyMigrations });
  const board = new GatewayNoticeBoard(store, { audit: aggAudit });
  const notifier = new Notifier(store, { channels: [new GatewayChannel(board)], audit: aggAudit });
  let agg: RunningAggregator | undefined;
  let gw: Gateway | undefined;
  let site: DeviceSite | undefined;
  let issuedIso = '';
  try {
    agg = await startAggregator(parseAggregatorConfig({
      id: 'AGG1', tls: tlsOf('AGG1'), store: { url: join(dir, 'agg.db') }, audit: { dir: join(dir, 'agg-audit'), witnessIntervalMs: 0 },
      downstream: { host: '127.0.0.1', port: 0, allowList: { participants: ['gateway:GW1'] }, pollIntervalMs: 200, reportIntervalMs: 1000 },
    }), { clock: systemClock, audit: aggAudit, routes: gatewayNoticeRoutes(board, aggAudit) });
    site = await DeviceSite.start({ address: `${net}.2`, speed: 1, tickMs: 100, serialPrefix: 'N0', battery: { capacityWh: 10_000, maxChargeW: 3000, maxDischargeW: 3000, initialSocPercent: 80 } });
    gw = await Gateway.start(gatewayConfigSchema.parse({
      gatewayId: 'GW1', database: join(dir, 'gw.db'), audit: { dir: join(dir, 'gw-audit'), witnessIntervalMs: 0 }, tls: tlsOf('GW1'),
      aggregator: { id: 'AGG1', vtnUrl: `https://127.0.0.1:${agg.downstreamPort}`, certificateFile: join(dir, 'AGG1.pem') },
      echonet: { address: `${net}.1`, devices: [`${net}.2`], pollMs: 500, timeoutMs: 2000, retries: 1 },
      notices: { fetchIntervalMs: 200 },
      admission: { allowList: [{ serialNumber: 'N00' }] },
    }), { clock: systemClock });
    const gateway = gw;
    await until('the gateway registered', () => agg!.status().gateways.find((g) => g.venId === 'GW1'));

    const owner = await new ContactRegistry(store).add({ participantId: 'AGG1', siteId: 'S1', name: 'Site S1 EMS', role: 'owner', language: 'ja', channels: { gatewayVenId: 'GW1' } }, { kind: 'operator', id: 'ops1' });
    const { notice, deliveries } = await notifier.notifyAll(advisory, [owner], { kind: 'operator', id: 'ops1' });
    assert.equal(deliveries[0]!.channel, 'gateway');
    issuedIso = new Date(notice.issuedAt).toISOString();

    const shown = await until('the notice at the gateway', async () => (await gateway.notices()).find((n) => n.noticeId === notice.id) ?? false);
    assert.equal(shown.issuedAt, notice.issuedAt, 'the gateway shows the notice with its one timestamp');
    assert.equal(shown.language, 'ja');
    assert.match(shown.subject, /^【脆弱性情報】JVNDB-2026-000123 /);
    assert.match(shown.text, /対応期限: 2027-01-01T00:00:00\+09:00/);
    assert.equal((shown.content as { advisoryId: string }).advisoryId, 'JVNDB-2026-000123');

    await until('the delivery acknowledged', async () => (await notifier.deliveries({ noticeId: notice.id }))[0]?.status === 'delivered');
    assert.deepEqual(await notifier.deliveries({ pending: true }), []);
    // Fetched again later: nothing new, nothing stored twice.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await gateway.notices()).length, 1);

    const aggDelivered = [...readRecords(aggAudit.dir)].map((l) => l.record!).filter((r) => r.action === 'notify.deliver');
    assert.deepEqual(aggDelivered.map((r) => [(r.details as { state?: string }).state, r.outcome]), [['queued', 'success'], ['acknowledged', 'success']]);
  } finally {
    await gw?.close().catch(() => {});
    await site?.close().catch(() => {});
    await agg?.stop().catch(() => {});
    await notifier.close();
    await store.close();
    aggAudit.close();
  }
  try {
    const gwReceived = [...readRecords(join(dir, 'gw-audit'))].map((l) => l.record!).filter((r) => r.action === 'gateway.notice.received');
    assert.equal(gwReceived.length, 1);
    assert.equal((gwReceived[0]!.details as { issuedAt: string }).issuedAt, issuedIso);
  } finally {
    pki.close();
  }
});

describeEachEngine('gateway notice board', (fx) => {
  test('the routes answer only a gateway certificate, hand it its own notices, and its acknowledgement delivers them', async () => {
    const store = await (await fx.location()).open(notifyMigrations);
    const audit = new MemoryAuditSink();
    const board = new GatewayNoticeBoard(store, { audit });
    const notifier = new Notifier(store, { channels: [new GatewayChannel(board)], audit });
    const routes = gatewayNoticeRoutes(board, audit);
    const fetch = routes.get(NOTICE_FETCH_PATH)!;
    const ack = routes.get(NOTICE_ACK_PATH)!;
    const reg = new ContactRegistry(store);
    const ops = { kind: 'operator', id: 'ops1' } as const;
    const s1 = await reg.add({ participantId: 'AGG1', siteId: 'S1', name: 'S1 EMS', role: 'owner', language: 'en', channels: { gatewayVenId: 'GW1' } }, ops);
    const s2 = await reg.add({ participantId: 'AGG1', siteId: 'S2', name: 'S2 EMS', role: 'owner', language: 'ja', channels: { gatewayVenId: 'GW2' } }, ops);
    const { notice } = await notifier.notifyAll(advisory, [s1, s2]);
    const sub = { fingerprint: '00:11:22:33:44:55:66:77:88:99', role: 'aggregator', id: 'AGG2' };
    const gw1 = { fingerprint: '00:11:22:33:44:55:66:77:88:98', role: 'gateway', id: 'GW1' };
    const gw2 = { fingerprint: '00:11:22:33:44:55:66:77:88:97', role: 'gateway', id: 'GW2' };
    assert.equal((await fetch(Buffer.alloc(0), sub)).status, 403);
    const got = (JSON.parse((await fetch(Buffer.alloc(0), gw1)).body) as { notices: GatewayNoticeWire[] }).notices;
    assert.deepEqual(got.map((n) => [n.noticeId, n.language, n.issuedAt]), [[notice.id, 'en', new Date(notice.issuedAt).toISOString()]]);
    const bad = await ack(Buffer.from('{"ids":["1; drop table"]}'), gw1);
    assert.equal(bad.status, 400);
    assert.match(bad.body, /ids\.0: /);
    // GW2 cannot acknowledge GW1's notice.
    assert.deepEqual(JSON.parse((await ack(Buffer.from(JSON.stringify({ ids: [got[0]!.id] })), gw2)).body), { acknowledged: 0 });
    assert.deepEqual(JSON.parse((await ack(Buffer.from(JSON.stringify({ ids: [got[0]!.id] })), gw1)).body), { acknowledged: 1 });
    assert.deepEqual(JSON.parse((await fetch(Buffer.alloc(0), gw1)).body), { notices: [] });
    const byChannel = (await notifier.deliveries({ noticeId: notice.id })).map((d) => [d.address, d.status]).sort();
    assert.deepEqual(byChannel, [['GW1', 'delivered'], ['GW2', 'pending']]);
    assert.deepEqual(audit.records.filter((r) => r.action === 'notify.gateway.refused').length, 2);
    await notifier.close();
  });
});
