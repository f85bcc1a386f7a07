/**
 * The operator API end to end over real mutual TLS: an aggregator (console with a roles table)
 * and two gateways, each with a simulated ECHONET Lite battery on loopback UDP.
 *
 * - A portfolio imported while everything runs makes the aggregator accept GW2's inventory,
 *   which it had refused, without restarting anything.
 * - GW2's battery waits pending until an operator admits it on GW2's operator listener; it then
 *   reaches the aggregator's fleet and reports. Quarantine and release need a security officer.
 * - A command the fleet cannot cover (30 kW from a 3 kW battery) is `short`, never `executed`,
 *   and `erab aggregator approve` exits 3; one naming an unknown resource is refused.
 * - A held command is listed with its details and approved by a second operator who holds the
 *   approver role; the submitter, or a mere operator, is refused (403, audited with the role).
 * - Cancelling the event returns the battery to its owner's mode.
 * - The live stream sends deltas (the command as it changes), never the whole status.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { systemClock } from '../../../src/core/clock.js';
import { errorText } from '../../../src/core/error-messages.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { openStore } from '../../../src/store/store.js';
import { Portfolio } from '../../../src/roles/aggregator/portfolio/portfolio.js';
import { aggregatorMigrations } from '../../../src/roles/aggregator/runtime/r4-workers.js';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { startAggregator, type RunningAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { StorageBattery } from '../../../src/protocols/echonet/objects/storage-battery.js';
import { Gateway, gatewayConfigSchema } from '../../../src/roles/gateway/gateway.js';
import { pkiWorld, waiter, type PkiWorld } from '../../kit/index.js';
import { runErab } from '../../secops/incidents/run-erab.js';
import { openStream, operatorCall } from '../common/operator-client.js';

const until = waiter({ timeoutMs: 45_000, intervalMs: 100 });
const NET = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;

type Name = 'agg' | 'gw1' | 'gw2' | 'alice' | 'bob' | 'carol' | 'sec' | 'dave';
let pki: PkiWorld<Name>;
let agg: RunningAggregator;
const audit = new MemoryAuditSink();
const gwAudit = new MemoryAuditSink();
const gateways: Gateway[] = [];
const sites: DeviceSite[] = [];

const portfolioJson = (withGw2: boolean) => JSON.stringify({
  format: 'erab-portfolio/1',
  pools: [{ id: 'tokyo-t2', tsoArea: 'tokyo', product: 'tertiary2', program: 'TSO1' }],
  sites: [{ id: 'site-1', name: 'Home 1', tsoArea: 'tokyo', poolId: 'tokyo-t2' }, ...(withGw2 ? [{ id: 'site-2', name: 'Home 2', tsoArea: 'tokyo', poolId: 'tokyo-t2' }] : [])],
  gateways: [{ id: 'GW1', siteId: 'site-1', venId: 'GW1' }, ...(withGw2 ? [{ id: 'GW2', siteId: 'site-2', venId: 'GW2' }] : [])],
});

const console_ = () => ({ port: agg.consolePort!, caPem: pki.caPem, server: { role: 'aggregator', id: 'AGG1' } });
const gw2Listener = () => ({ port: Number(new URL(gateways[1]!.operatorUrl!).port), caPem: pki.caPem, server: { role: 'gateway', id: 'GW2' } });
const mode = (s: DeviceSite) => s.battery!.object.get(StorageBattery.props.operationMode) as string;

before(async () => {
  pki = await pkiWorld({
    agg: 'aggregator:AGG1', gw1: 'gateway:GW1', gw2: 'gateway:GW2',
    alice: 'operator:alice', bob: 'operator:bob', carol: 'operator:carol', sec: 'operator:sec', dave: 'operator:dave',
  }, { prefix: 'erab-operator-api-' });
  const dbFile = join(pki.dir, 'aggregator.db');
  const pstore = await openStore({ url: dbFile, migrations: aggregatorMigrations });
  await new Portfolio(pstore).importText(portfolioJson(false), 'json', 'first.json', { kind: 'operator', id: 'setup' });
  await pstore.close();
  const roles = { default: 'viewer', operators: { alice: 'operator', bob: 'approver', carol: 'administrator', sec: 'security officer' } } as const;
  agg = await startAggregator(parseAggregatorConfig({
    id: 'AGG1', tls: pki.tlsFiles('agg'), store: { url: dbFile },
    downstream: { host: '127.0.0.1', port: 0, allowList: { participants: ['gateway:GW1', 'gateway:GW2'] }, pollIntervalMs: 200, reportIntervalMs: 1000 },
    console: { port: 0, roles },
    closedLoop: { intervalMs: 500, telemetryMaxAgeMs: 5000 },
    statusIntervalMs: 200,
  }), { audit, clock: systemClock });
  for (const [i, name] of (['gw1', 'gw2'] as const).entries()) {
    const node = `${NET}.${2 * i + 2}`;
    sites.push(await DeviceSite.start({ address: node, speed: 1, tickMs: 100, serialPrefix: `OPAPI${i}`, battery: { capacityWh: 10_000, maxChargeW: 3000, maxDischargeW: 3000, initialSocPercent: 80 } }));
    gateways.push(await Gateway.start(gatewayConfigSchema.parse({
      gatewayId: `GW${i + 1}`, database: join(pki.dir, `${name}.db`), tls: pki.tlsFiles(name),
      aggregator: { id: 'AGG1', vtnUrl: `https://127.0.0.1:${agg.downstreamPort}`, certificateFile: pki.get('agg').files.certFile },
      echonet: { address: `${NET}.${2 * i + 1}`, devices: [node], pollMs: 500, timeoutMs: 2000, retries: 1 },
      telemetry: { minPeriodMs: 1000 }, engine: { tickMs: 200 },
      // GW1's battery is admitted by its allow-list; GW2's waits for an operator.
      admission: { allowList: i === 0 ? [{ serialNumber: 'OPAPI0' }] : [] },
      operator: { port: 0, roles },
    }), { clock: systemClock, audit: gwAudit }));
  }
});

after(async () => {
  for (const g of gateways) await g.close().catch(() => {});
  for (const s of sites) await s.close().catch(() => {});
  await agg?.stop();
  pki?.close();
});

test('portfolio imported while running; a pending device admitted on its gateway reaches the fleet; quarantine and release need a security officer', { timeout: 120_000 }, async () => {
  const { alice, carol, sec, dave } = pki.certs;
  await until('GW2\'s inventory refused: the portfolio does not list GW2', () => audit.records.some((r) => r.action === 'portfolio.inventory' && r.target === 'GW2' && r.outcome === 'refused') || undefined);
  const b1 = await until('GW1\'s battery in the fleet', () => agg.fleet.all().find((s) => s.venId === 'GW1'));

  // An approver is not an administrator: the import is refused and audited with the role.
  const refused = await operatorCall(console_(), pki.certs.bob, 'POST', '/api/portfolio', { format: 'json', text: portfolioJson(true) });
  assert.equal(refused.status, 403, refused.text);
  assert.match(refused.json.error, /needs the role administrator; operator bob is approver/);
  const audited = audit.records.findLast((r) => r.action === 'console.api.portfolio.import');
  assert.deepEqual([audited?.actor.id, audited?.actor.role, audited?.outcome], ['bob', 'approver', 'refused']);

  // A body its route's schema refuses: 400 naming the field and the rule, keyed (request.badBody).
  const badBody = await operatorCall(console_(), carol, 'POST', '/api/portfolio', { format: 'xml', text: portfolioJson(true) });
  assert.deepEqual([badBody.status, badBody.json.code, badBody.json.key], [400, 'bad_body', 'request.badBody'], badBody.text);
  assert.equal(badBody.json.error, 'body.format: Invalid option: expected one of "csv"|"json"');
  assert.equal(errorText('en', badBody.json.key, badBody.json.params), badBody.json.error);
  assert.equal(errorText('ja', badBody.json.key, badBody.json.params), 'リクエスト本文 body.format: 無効な選択: "csv"、"json"のいずれかである必要があります');
  const missing = await operatorCall(console_(), carol, 'POST', '/api/portfolio', { format: 'json' });
  assert.equal(errorText('ja', missing.json.key, missing.json.params), 'リクエスト本文 body.text: 必須の項目がありません（文字列）', missing.text);

  const imported = await operatorCall(console_(), carol, 'POST', '/api/portfolio', { format: 'json', text: portfolioJson(true), source: 'second.json' });
  assert.equal(imported.status, 200, imported.text);
  assert.deepEqual(imported.json.gateways.find((g: { venId: string }) => g.venId === 'GW2'), { venId: 'GW2', accepted: true });
  assert.ok(audit.records.some((r) => r.action === 'portfolio.inventory' && r.target === 'GW2' && r.outcome === 'success'), 'GW2\'s inventory accepted without a restart');

  // GW2's battery: pending on its gateway, so it reports nothing the aggregator could use.
  const pending = await operatorCall(gw2Listener(), dave, 'GET', '/api/devices?state=pending');
  assert.equal(pending.status, 200, pending.text);
  const battery = pending.json.items.find((d: { class: string }) => d.class === 'battery');
  assert.ok(battery, pending.text);
  assert.equal(agg.engine.freshPower(battery.deviceId), undefined);
  // A viewer may not admit; an operator may, at the revision it saw.
  assert.equal((await operatorCall(gw2Listener(), dave, 'POST', `/api/devices/${battery.deviceId}/admit`, { revision: battery.revision })).status, 403);
  const stale = await operatorCall(gw2Listener(), alice, 'POST', `/api/devices/${battery.deviceId}/admit`, { revision: battery.revision + 5 });
  assert.equal(stale.status, 409);
  assert.match(stale.json.error, /revision/);
  const admitted = await operatorCall(gw2Listener(), alice, 'POST', `/api/devices/${battery.deviceId}/admit`, { revision: battery.revision });
  assert.equal(admitted.status, 200, admitted.text);
  assert.equal(admitted.json.state, 'admitted');
  await until('the admitted battery in the aggregator\'s fleet, online', () => agg.fleet.spec(battery.deviceId) && agg.engine.freshPower(battery.deviceId) !== undefined);
  const online = await operatorCall(console_(), dave, 'GET', `/api/fleet/devices?gateway=GW2&online=true`);
  assert.deepEqual(online.json.items.map((d: { id: string }) => d.id), [battery.deviceId]);
  // Online is not yet ready: the device view says why until its state of charge has come too.
  await until('the admitted battery ready for a dispatch (no notReady in its view)', async () => {
    const v = (await operatorCall(console_(), dave, 'GET', `/api/fleet/devices?gateway=GW2`)).json.items.find((d: { id: string }) => d.id === battery.deviceId);
    if (v?.notReady !== undefined) assert.match(v.notReady, /^(offline|no fresh telemetry|power limits not known yet|state of charge unknown)$/);
    return v && v.notReady === undefined;
  });

  // Quarantine: an operator may not, a security officer may; release names the new revision.
  // (the path `erab incident act … quarantine` uses, the same route)
  const denied = await operatorCall(gw2Listener(), alice, 'POST', `/devices/${battery.deviceId}/quarantine`, { reason: 'odd telemetry' });
  assert.equal(denied.status, 403);
  assert.ok(gwAudit.records.some((r) => r.action === 'gateway.api.device.quarantine' && r.actor.id === 'alice' && r.outcome === 'refused' && r.details?.operatorRole === 'operator'));
  const q = await operatorCall(gw2Listener(), sec, 'POST', `/api/devices/${battery.deviceId}/quarantine`, { reason: 'odd telemetry' });
  assert.equal(q.status, 200, q.text);
  assert.equal(q.json.state, 'quarantined');
  assert.equal((await operatorCall(gw2Listener(), alice, 'POST', `/api/devices/${battery.deviceId}/admit`, { revision: q.json.revision })).status, 409, 'admit does not lift a quarantine');
  const released = await operatorCall(gw2Listener(), sec, 'POST', `/api/devices/${battery.deviceId}/release`, { revision: q.json.revision, reason: 'checked on site' });
  assert.equal(released.status, 200, released.text);
  assert.equal(released.json.state, 'admitted');
  const one = await operatorCall(gw2Listener(), dave, 'GET', `/api/devices/${battery.deviceId}`);
  assert.deepEqual([one.json.state, one.json.revision], ['admitted', released.json.revision]);
  assert.equal((await operatorCall(gw2Listener(), dave, 'GET', '/api/devices/nope')).status, 404);
  // Reject, then admit again: rejected devices may be admitted at the revision the operator saw.
  const rejected = await operatorCall(gw2Listener(), alice, 'POST', `/api/devices/${battery.deviceId}/reject`, { reason: 'wrong household' });
  assert.equal(rejected.json.state, 'rejected', rejected.text);
  const back = await operatorCall(gw2Listener(), alice, 'POST', `/api/devices/${battery.deviceId}/admit`, { revision: rejected.json.revision });
  assert.equal(back.json.state, 'admitted', back.text);

  // Safe mode on GW2: viewers read it, a security officer enters and leaves it.
  assert.deepEqual((await operatorCall(gw2Listener(), dave, 'GET', '/safe-mode')).json, { safeMode: null });
  assert.equal((await operatorCall(gw2Listener(), alice, 'POST', '/safe-mode', { reason: 'drill' })).status, 403);
  const safe = await operatorCall(gw2Listener(), sec, 'POST', '/safe-mode', { reason: 'drill' });
  assert.equal(safe.json.safeMode.by, 'sec', safe.text);
  assert.equal((await operatorCall(gw2Listener(), sec, 'POST', '/safe-mode/leave', { reason: 'drill over' })).json.safeMode, null);
  assert.ok(b1);
});

test('held command listed and approved by a second operator with the approver role; short, never executed; cancel returns the battery; live deltas', { timeout: 120_000 }, async () => {
  const { alice, bob, dave } = pki.certs;
  const b1 = await until('GW1\'s battery online', () => agg.fleet.all().find((s) => s.venId === 'GW1' && agg.engine.freshPower(s.id) !== undefined));
  const stream = await openStream(console_(), dave, '/api/events/stream');
  assert.equal(stream.status, 200);
  assert.match(stream.contentType, /^text\/event-stream/);
  try {
    await until('hello', () => stream.messages[0]?.event === 'hello' || undefined);

    // A viewer cannot command; an unknown resource is refused; both audited.
    const viewer = await operatorCall(console_(), dave, 'POST', '/commands', { action: 'reduce', powerW: 1000, resources: [b1.id], durationMs: 60_000, reason: 'x' });
    assert.equal(viewer.status, 403);
    const unknown = await operatorCall(console_(), alice, 'POST', '/commands', { action: 'reduce', powerW: 1000, resources: ['no-such-battery'], durationMs: 60_000, reason: 'drill' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.json.error, /resource "no-such-battery" not in the fleet/);

    // 30 kW from one 3 kW battery: held (half the fleet), then short.
    const held = await operatorCall(console_(), alice, 'POST', '/commands', { action: 'reduce', powerW: 30_000, resources: [b1.id], durationMs: 600_000, reason: 'evening peak' });
    assert.equal(held.status, 202, held.text);
    const id = held.json.record.id as string;
    const listed = await operatorCall(console_(), dave, 'GET', '/api/commands?state=held');
    assert.deepEqual(listed.json.items.map((c: { id: string }) => c.id), [id]);
    assert.match(listed.json.items[0].needsSecondBecause, /of the fleet/);
    assert.equal(listed.json.items[0].submittedBy.id, 'alice');
    assert.equal((await operatorCall(console_(), dave, 'GET', `/api/commands/${id}`)).json.command.powerW, 30_000);
    assert.equal((await operatorCall(console_(), alice, 'POST', `/commands/${id}/approve`)).status, 403, 'an operator is not an approver');
    await until('the held command streamed', () => stream.messages.find((m) => m.event === 'command' && m.data.id === id && m.data.value.state === 'held'));

    const approved = await operatorCall(console_(), bob, 'POST', `/commands/${id}/approve`);
    assert.equal(approved.status, 200, approved.text);
    assert.equal(approved.json.record.state, 'short');
    assert.ok(approved.json.result.shortfallW >= 27_000, approved.text);
    assert.equal(approved.json.record.approvedBy.id, 'bob');
    await until('the short command streamed', () => stream.messages.find((m) => m.event === 'command' && m.data.id === id && m.data.value.state === 'short'));
    assert.ok(audit.records.some((r) => r.action === 'operator.command.execute' && r.target === id && r.outcome === 'failure' && /short by/.test(r.reason ?? '')));

    // Deltas only: no message carries the whole status.
    assert.ok(stream.messages.every((m) => ['hello', 'command', 'event', 'gateway'].includes(m.event)), JSON.stringify(stream.messages.map((m) => m.event)));
    assert.ok(stream.messages.filter((m) => m.event !== 'hello').every((m) => m.data.op === 'upsert' || m.data.op === 'remove'));

    // The event runs: the battery discharges; cancelling it returns the battery to its owner.
    const key = `operator/${id}`;
    const site = sites[0]!;
    const owner = mode(site);
    await until('the battery discharging for the command', () => mode(site) === 'discharging' || undefined);
    // The closed loop samples the running event; on a loaded machine the first sample can come
    // after the battery started, so wait for it before cancelling (the series is read below).
    await until('a sample of the running event', async () => {
      const r = await operatorCall(console_(), dave, 'GET', `/events/${encodeURIComponent(key)}/series`);
      return Array.isArray(r.json) && r.json.length > 0 ? true : undefined;
    });
    const page = await operatorCall(console_(), dave, 'GET', '/api/events?state=active');
    assert.ok(page.json.items.some((e: { key: string; uncoveredW: number }) => e.key === key), page.text);
    assert.equal((await operatorCall(console_(), dave, 'POST', `/api/events/${encodeURIComponent(key)}/cancel`, { reason: 'x' })).status, 403);
    const cancelled = await operatorCall(console_(), alice, 'POST', `/api/events/${encodeURIComponent(key)}/cancel`, { reason: 'drill over' });
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal(cancelled.json.state, 'cancelled');
    await until('the battery back in its owner\'s mode', () => mode(site) !== 'discharging' || undefined);
    assert.ok(owner !== undefined);
    assert.equal((await operatorCall(console_(), alice, 'POST', `/api/events/${encodeURIComponent(key)}/cancel`, { reason: 'again' })).status, 409);
    await until('the cancellation streamed', () => stream.messages.find((m) => m.event === 'event' && m.data.id === key && m.data.value.state === 'cancelled'));

    // Target vs delivered samples of the event, by its URL-encoded key.
    const series = await operatorCall(console_(), dave, 'GET', `/events/${encodeURIComponent(key)}/series`);
    assert.equal(series.status, 200);
    assert.ok(Array.isArray(series.json) && series.json.length > 0, series.text);

    // Modify an operator event: replaced by a command with the new figures (2 kW: within the single-operator power limit, but half the fleet, so held).
    const small = await operatorCall(console_(), alice, 'POST', '/commands', { action: 'reduce', powerW: 1000, resources: [b1.id], durationMs: 600_000, reason: 'modify me' });
    const approvedSmall = await operatorCall(console_(), bob, 'POST', `/commands/${small.json.record.id}/approve`);
    assert.equal(approvedSmall.json.record.state, 'executed', approvedSmall.text);
    const smallKey = `operator/${small.json.record.id}`;
    assert.equal((await operatorCall(console_(), dave, 'PATCH', `/api/events/${encodeURIComponent(smallKey)}`, { powerW: 2000, reason: 'more' })).status, 403);
    const modified = await operatorCall(console_(), alice, 'PATCH', `/api/events/${encodeURIComponent(smallKey)}`, { powerW: 2000, reason: 'more' });
    assert.equal(modified.status, 202, modified.text);
    assert.equal(modified.json.record.command.powerW, 2000);
    assert.equal(agg.engine.get(smallKey)?.state !== 'cancelled', true, 'the old event runs until the replacement is approved');
    // The replacement is rejected by a second operator: the original event keeps running.
    const rejected = await operatorCall(console_(), bob, 'POST', `/commands/${modified.json.record.id}/reject`, { reason: 'not now' });
    assert.equal(rejected.json.state, 'rejected', rejected.text);
    assert.equal((await operatorCall(console_(), alice, 'POST', `/commands/${modified.json.record.id}/reject`, {})).status, 409, 'already decided');
    assert.equal((await operatorCall(console_(), alice, 'PATCH', `/api/events/${encodeURIComponent('tso/E1')}`, { powerW: 1, reason: 'x' })).status, 404);
    // Approved by a second operator: the new figures run and the old event stops.
    const modified2 = await operatorCall(console_(), alice, 'PATCH', `/api/events/${encodeURIComponent(smallKey)}`, { powerW: 2000, durationMs: 120_000, reason: 'more, shorter' });
    const applied = await operatorCall(console_(), bob, 'POST', `/commands/${modified2.json.record.id}/approve`);
    assert.equal(applied.json.record.state, 'executed', applied.text);
    assert.equal(agg.engine.get(smallKey)?.state, 'cancelled');
    const newKey = `operator/${modified2.json.record.id}`;
    assert.equal(agg.engine.get(newKey)?.plan.intervals[0]?.targetW, 2000);
    await agg.engine.cancel(newKey, 'test over');

    // The CLI says so too: a short command is not a success.
    const again = await operatorCall(console_(), alice, 'POST', '/commands', { action: 'reduce', powerW: 30_000, resources: [b1.id], durationMs: 60_000, reason: 'cli drill' });
    const conn = (n: 'bob') => ['--url', `https://127.0.0.1:${agg.consolePort}`, '--cert', pki.get(n).files.certFile, '--key', pki.get(n).files.keyFile, '--ca', pki.caFile, '--aggregator', 'AGG1'];
    const cli = await runErab(['aggregator', 'approve', again.json.record.id, ...conn('bob')]);
    assert.equal(cli.code, 3, `${cli.stdout}\n${cli.stderr}`);
    assert.match(cli.stderr, /short by 2\d\.\d kW/);
  } finally {
    stream.close();
  }
});

test('fleet pages and search; strict queries; the OpenAPI documents of the console and the gateway listener validate', { timeout: 60_000 }, async () => {
  const { dave } = pki.certs;
  const first = await operatorCall(console_(), dave, 'GET', '/api/fleet/devices?limit=1');
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.items.length, 1);
  assert.ok(first.json.nextCursor);
  const second = await operatorCall(console_(), dave, 'GET', `/api/fleet/devices?limit=1&cursor=${first.json.nextCursor}`);
  assert.notEqual(second.json.items[0].id, first.json.items[0].id);
  const gws = await operatorCall(console_(), dave, 'GET', '/api/fleet/gateways?q=gw2');
  assert.deepEqual(gws.json.items.map((g: { venId: string }) => g.venId), ['GW2']);
  const siteList = await operatorCall(console_(), dave, 'GET', '/api/fleet/sites?limit=1');
  assert.deepEqual([siteList.json.items, siteList.json.total], [[{ id: 'site-1', tsoArea: 'tokyo', poolId: 'tokyo-t2' }], 2]);
  const next = await operatorCall(console_(), dave, 'GET', `/api/fleet/sites?limit=1&cursor=${encodeURIComponent(siteList.json.nextCursor)}`);
  assert.deepEqual([next.json.items.map((x: { id: string }) => x.id), next.json.nextCursor], [['site-2'], null]);
  assert.equal((await operatorCall(console_(), dave, 'GET', '/api/fleet/sites?q=site-2')).json.items[0].id, 'site-2');
  const bad = await operatorCall(console_(), dave, 'GET', '/api/fleet/devices?colour=red');
  assert.equal(bad.status, 400);
  assert.deepEqual([bad.json.code, bad.json.parameter], ['bad_query', 'colour']);
  // Keyed (request.badQuery): the CLI and the console render the same refusal in the operator's language.
  assert.equal(bad.json.key, 'request.badQuery');
  assert.equal(errorText('en', bad.json.key, bad.json.params), bad.json.error);
  assert.equal(bad.json.error, 'query parameter "colour": not a parameter of this route (it takes q, gateway, online, admission, limit, cursor)');
  assert.equal(errorText('ja', bad.json.key, bad.json.params), 'クエリパラメーター「colour」: このルートのパラメーターではありません（使えるのは q, gateway, online, admission, limit, cursor）');
  // A schema's rule (zod's): its English text as it was, Japanese from zod's ja locale with Japanese type names.
  for (const [limit, rule, ja] of [
    ['0', 'Too small: expected number to be >=1', '小さすぎる値: 数値は1以上である必要があります'],
    ['ten', 'Invalid input: expected number, received NaN', '数値を指定してください（数値でない値が指定されています）'],
  ]) {
    const r = await operatorCall(console_(), dave, 'GET', `/api/fleet/devices?limit=${limit}`);
    assert.deepEqual([r.status, r.json.parameter, r.json.rule, r.json.key], [400, 'limit', rule, 'request.badQuery'], r.text);
    assert.equal(errorText('ja', r.json.key, r.json.params), `クエリパラメーター「limit」: ${ja}`);
  }
  assert.equal((await operatorCall(console_(), dave, 'GET', '/api/fleet/devices?cursor=%21%21')).json.parameter, 'cursor');
  assert.equal((await operatorCall(console_(), dave, 'DELETE', '/api/fleet/devices')).status, 405);

  for (const listener of [console_(), gw2Listener()]) {
    const doc = await operatorCall(listener, dave, 'GET', '/openapi.json');
    assert.equal(doc.status, 200);
    assert.equal(doc.json.openapi, '3.1.0');
    await SwaggerParser.validate(structuredClone(doc.json));
    for (const [path, ops] of Object.entries(doc.json.paths as Record<string, Record<string, { 'x-erab-role': string }>>)) {
      for (const [method, op] of Object.entries(ops)) assert.ok(['viewer', 'operator', 'approver', 'security officer', 'administrator'].includes(op['x-erab-role']), `${method} ${path}`);
    }
  }
});

test('a command on a pool with a later start: the pools listed; unknown pool and bad starts refused (keyed); accepted with its start, active from then; approval after the start refused', { timeout: 120_000 }, async () => {
  const { alice, bob, dave } = pki.certs;
  // The batteries are in their site's pool (learned from their gateways' inventories); the meters are in none.
  await until('both batteries of the pool ready', () => {
    const pool = agg.fleet.all().filter((s) => s.pool === 'tokyo-t2');
    return (pool.length === 2 && pool.every((s) => agg.engine.notReady(s.id) === undefined)) || undefined;
  });
  const pools = await operatorCall(console_(), dave, 'GET', '/api/fleet/pools');
  assert.equal(pools.status, 200, pools.text);
  assert.deepEqual(pools.json, { items: [{ id: 'tokyo-t2', resources: 2 }] });

  const base = { action: 'reduce', powerW: 1000, durationMs: 60_000, reason: 'pool drill' };
  const unknown = await operatorCall(console_(), alice, 'POST', '/commands', { ...base, resources: { pool: 'osaka-x' } });
  assert.deepEqual([unknown.status, unknown.json.key], [400, 'command.unknownPool'], unknown.text);
  assert.equal(unknown.json.error, 'manual command: pool "osaka-x" has no resource in the fleet');
  assert.equal(errorText('ja', unknown.json.key, unknown.json.params), '手動コマンド: プール "osaka-x" のリソースはフリートにありません');
  for (const [startAt, key] of [
    [new Date(Date.now() - 60_000).toISOString(), 'command.startInPast'],
    [Date.now() + 25 * 3_600_000, 'command.startTooFar'],
    ['2026-12-07T17:00:00', 'command.badStart'],
  ] as const) {
    const r = await operatorCall(console_(), alice, 'POST', '/commands', { ...base, resources: { pool: 'tokyo-t2' }, startAt });
    assert.deepEqual([r.status, r.json.key], [400, key], `${startAt}: ${r.text}`);
  }
  assert.equal((await operatorCall(console_(), alice, 'POST', '/commands', { ...base, resources: { pool: 'tokyo-t2', extra: 1 } })).status, 400);

  // Half the fleet (two batteries of four resources): held for a second operator. The start as ISO 8601 in JST.
  const startAt = Math.ceil((Date.now() + 8000) / 1000) * 1000;
  const startIso = new Date(startAt + 9 * 3_600_000).toISOString().slice(0, 19) + '+09:00';
  const held = await operatorCall(console_(), alice, 'POST', '/commands', { ...base, resources: { pool: 'tokyo-t2' }, startAt: startIso });
  assert.equal(held.status, 202, held.text);
  assert.match(held.json.record.needsSecondBecause, /pool tokyo-t2: 2 resources are 50\.0 % of the fleet/);
  assert.deepEqual([held.json.record.command.resources, held.json.record.command.startAt], [{ pool: 'tokyo-t2' }, startAt]);
  const approved = await operatorCall(console_(), bob, 'POST', `/commands/${held.json.record.id}/approve`);
  assert.equal(approved.status, 200, approved.text);
  assert.equal(approved.json.record.state, 'executed', approved.text);
  const key = `operator/${held.json.record.id}`;
  const accepted = await operatorCall(console_(), dave, 'GET', '/api/events?state=accepted');
  const ev = accepted.json.items.find((e: { key: string }) => e.key === key);
  assert.ok(ev, accepted.text);
  assert.deepEqual([ev.start, ev.end], [startAt, startAt + 60_000]);
  assert.ok(Date.now() < startAt, 'accepted before its start');
  assert.equal(agg.engine.get(key)!.participants.size > 0, true);
  await until('the pool event active from its start', () => agg.engine.get(key)?.state === 'active' || undefined);
  assert.ok(Date.now() >= startAt - 50, 'not active before its start');
  await agg.engine.cancel(key, 'test over');

  // Held with a start 2 s ahead, approved after it: refused with the keyed reason, no longer held.
  const late = await operatorCall(console_(), alice, 'POST', '/commands', { ...base, resources: { pool: 'tokyo-t2' }, startAt: Date.now() + 2000 });
  assert.equal(late.status, 202, late.text);
  await new Promise((r) => setTimeout(r, 2500));
  const refused = await operatorCall(console_(), bob, 'POST', `/commands/${late.json.record.id}/approve`);
  assert.deepEqual([refused.status, refused.json.key], [409, 'command.startPassed'], refused.text);
  assert.match(errorText('ja', refused.json.key, refused.json.params)!, /開始時刻 .* を過ぎた/);
  assert.equal((await operatorCall(console_(), dave, 'GET', `/api/commands/${late.json.record.id}`)).json.state, 'expired');

  // The CLI: --pool and --start (ISO 8601 with an offset); held, and it says when it starts, in English and Japanese.
  const conn = ['--url', `https://127.0.0.1:${agg.consolePort}`, '--cert', pki.get('alice').files.certFile, '--key', pki.get('alice').files.keyFile, '--ca', pki.caFile, '--aggregator', 'AGG1'];
  const cliStart = Math.ceil((Date.now() + 3_600_000) / 60_000) * 60_000;
  const cliIso = new Date(cliStart + 9 * 3_600_000).toISOString().slice(0, 16) + '+09:00';
  const cliKoma = Math.floor(((cliStart + 9 * 3_600_000) % 86_400_000) / 1_800_000) + 1;
  const args = ['aggregator', 'command', '--action', 'reduce', '--power-kw', '1', '--pool', 'tokyo-t2', '--duration-min', '30', '--start', cliIso, '--reason', 'cli pool', ...conn];
  const en = await runErab(args, { ...process.env, LC_ALL: 'C', LANG: 'C' });
  assert.equal(en.code, 0, `${en.stdout}\n${en.stderr}`);
  assert.match(en.stdout, /^command \S+ held: it waits for a second, different operator \(pool tokyo-t2: 2 resources are 50\.0 % of the fleet/);
  assert.match(en.stdout, new RegExp(`\nit starts at ${cliIso.slice(0, 16)}:00\\+09:00 \\(コマ ${cliKoma}\\)\n$`));
  const cliId = /^command (\S+) held/.exec(en.stdout)![1]!;
  assert.deepEqual((await operatorCall(console_(), dave, 'GET', `/api/commands/${cliId}`)).json.command.startAt, cliStart);
  const ja = await runErab(['aggregator', 'command', '--action', 'reduce', '--power-kw', '1', '--pool', 'osaka-x', '--duration-min', '30', '--start', cliIso, '--reason', 'cli pool', ...conn], { ...process.env, LC_ALL: 'ja_JP.UTF-8' });
  assert.notEqual(ja.code, 0);
  assert.match(ja.stderr, /プール "osaka-x" のリソースはフリートにありません/);
  const both = await runErab([...args.slice(0, 8), '--resources', 'x', ...args.slice(8)]);
  assert.notEqual(both.code, 0);
  assert.match(both.stderr, /--pool and --resources: give one of them/);
});
