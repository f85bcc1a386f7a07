/**
 * The playbook's fleet safe mode across real processes: two gateways (each with a simulated
 * ECHONET Lite battery on loopback UDP) run an event from the aggregator's VTN over mutual TLS;
 * `erab incident act … safe-mode` (a separate process, an operator certificate) puts the fleet
 * into the owner's safe mode through each gateway's operator listener: every battery returns to
 * the owner's mode, the gateways audit the operator's decision and refuse the next event, and
 * the incident's timeline records the step. Then the quarantine step and lifting safe mode.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { TlsMaterial } from '../../../src/security/tls.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { startVtnEndpoint, type RunningVtn } from '../../../src/endpoints/openadr/vtn-endpoint.js';
import type { EventSignal } from '../../../src/protocols/openadr/event.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { StorageBattery } from '../../../src/protocols/echonet/objects/storage-battery.js';
import { Gateway, gatewayConfigSchema } from '../../../src/roles/gateway/gateway.js';
import { epochMillis, millis } from '../../../src/core/units.js';
import { readRecords } from '../../../src/security/audit/export.js';
import { pkiWorld, waiter, type PkiWorld } from '../../kit/index.js';
import { runErab } from './run-erab.js';

const NET = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
const waitFor = waiter({ timeoutMs: 60_000 });
const W = { kind: 'powerReal' as const, itemDescription: 'RealPower', itemUnits: 'W', siScaleCode: 'none' as const, powerAttributes: { hertz: 50, voltage: 100, ac: true } };

let pki: PkiWorld<'agg' | 'gw1' | 'gw2' | 'ops'>;
let store: Store;
let vtn: RunningVtn;
const sites: DeviceSite[] = [];
const gateways: { gw: Gateway; audit: MemoryAuditSink; battery: string; config: ReturnType<typeof gatewayConfigSchema.parse> }[] = [];

function mode(site: DeviceSite): string {
  return site.battery!.object.get(StorageBattery.props.operationMode) as string;
}

function dispatch(resourceID: string, watts: number): EventSignal {
  return {
    signalName: 'LOAD_DISPATCH', signalType: 'setpoint', signalID: `sp-${resourceID}`, target: { resourceID: [resourceID] },
    itemBase: W, intervals: [{ duration: millis(600_000), uid: '0', value: watts }],
  };
}

before(async () => {
  pki = await pkiWorld({ agg: 'aggregator:AGG1', gw1: 'gateway:GW1', gw2: 'gateway:GW2', ops: 'operator:op-sato' }, { prefix: 'erab-fleet-safe-' });
  const agg = pki.get('agg');
  store = await openStore({ url: join(pki.dir, 'vtn.db'), migrations: openadrStoreMigrations });
  vtn = await startVtnEndpoint({
    vtnID: 'vtn-AGG1', profile: 'R4', allowList: { participants: ['gateway:GW1', 'gateway:GW2'] }, audit: new MemoryAuditSink(), store,
    material: await TlsMaterial.fromPem({ credentials: [{ certPem: agg.certPem, keyPem: agg.keyPem }], caPem: pki.caPem }),
    vtn: { pollFreqMs: 500 },
  });
  for (const [i, name] of (['gw1', 'gw2'] as const).entries()) {
    const controller = `${NET}.${2 * i + 1}`;
    const node = `${NET}.${2 * i + 2}`;
    const site = await DeviceSite.start({ address: node, serialPrefix: `FLEET${i}`, battery: { initialSocPercent: 80 } });
    sites.push(site);
    const audit = new MemoryAuditSink();
    const config = gatewayConfigSchema.parse({
      gatewayId: `GW${i + 1}`,
      database: join(pki.dir, `${name}.db`),
      tls: pki.tlsFiles(name),
      aggregator: { id: 'AGG1', vtnUrl: vtn.url, certificateFile: agg.files.certFile },
      echonet: { address: controller, devices: [node], pollMs: 1000 },
      admission: { allowList: [{ serialNumber: `FLEET${i}` }] },
      operator: { port: 0, operators: ['op-sato'] },
    });
    const gw = await Gateway.start(config, { audit });
    gateways.push({ gw, audit, config, battery: gw.admission.list().find((r) => r.class === 'battery')!.deviceId });
  }
});

after(async () => {
  for (const g of gateways) await g.gw.close();
  for (const s of sites) await s.close();
  await vtn?.close();
  await store?.close();
  await pki?.close();
});

test('fleet safe mode: every battery back to the owner\'s mode, audited at each gateway and in the incident; then quarantine and lift', async () => {
  for (const g of gateways) await waitFor(`${g.gw.config.gatewayId} registered`, () => vtn.vtn.registration(g.gw.config.gatewayId));
  const owner = sites.map(mode);
  assert.ok(owner.every((m) => m !== 'discharging'), `owner's modes: ${owner.join(', ')}`);
  // One event per gateway: a gateway refuses an event naming a resource that is not its own (462).
  for (const g of gateways) {
    await vtn.vtn.createEvent({
      eventID: `ev-${g.gw.config.gatewayId}`, marketContext: 'urn:erab:aggregator:AGG1',
      activePeriod: { dtstart: epochMillis(Date.now() + 2000), duration: millis(600_000) },
      signals: [dispatch(g.battery, -1000)], target: { venID: [g.gw.config.gatewayId] },
    });
  }
  await waitFor('both batteries discharging for the event', () => sites.every((s) => mode(s) === 'discharging'));

  const desk = ['--db', join(pki.dir, 'incidents.db'), '--audit-dir', join(pki.dir, 'incidents-audit')];
  const ops = pki.get('ops');
  const tlsArgs = ['--cert', ops.files.certFile, '--key', ops.files.keyFile, '--ca', pki.caFile];
  const urls = (): string[] => gateways.flatMap((g) => ['--gateway', g.gw.operatorUrl!]);
  const opened = await runErab(['incident', 'open', '--title', 'forged commands suspected', '--severity', 'critical', '--operator', 'op-sato', '--json', ...desk]);
  const id = String((JSON.parse(opened.stdout) as { id: number }).id);
  const act = await runErab(['incident', 'act', id, 'safe-mode', ...urls(), ...tlsArgs, '--reason', 'forged commands suspected', '--operator', 'op-sato', ...desk]);
  assert.equal(act.code, 0, `${act.stdout}\n${act.stderr}`);
  assert.match(act.stdout, /owner's safe mode on 2\/2 gateway/);

  await waitFor('every battery back to the owner\'s mode', () => sites.every((s, i) => mode(s) === owner[i]));
  for (const g of gateways) {
    const enter = g.audit.records.find((r) => r.action === 'gateway.safe-mode.enter');
    assert.deepEqual([enter?.actor.kind, enter?.actor.id, enter?.reason], ['operator', 'op-sato', 'forged commands suspected']);
    assert.ok(g.audit.records.some((r) => r.action === 'gateway.command' && r.target === g.battery && /owner's safe mode/.test(r.reason ?? '')), 'the restore is audited');
    assert.deepEqual(g.gw.engine.safeMode()?.by, 'op-sato');
  }

  // While in safe mode the next event is refused and nothing moves.
  for (const g of gateways) {
    await vtn.vtn.createEvent({
      eventID: `ev-after-${g.gw.config.gatewayId}`, marketContext: 'urn:erab:aggregator:AGG1',
      activePeriod: { dtstart: epochMillis(Date.now() + 1000), duration: millis(600_000) },
      signals: [dispatch(g.battery, -500)], target: { venID: [g.gw.config.gatewayId] },
    });
  }
  await waitFor('the next event refused in safe mode', () => gateways.every((g) => g.audit.records.some((r) => r.action === 'gateway.command' && r.target === `ev-after-${g.gw.config.gatewayId}` && r.outcome === 'refused' && /safe mode/.test(r.reason ?? ''))));
  assert.ok(sites.every((s, i) => mode(s) === owner[i]));

  // Safe mode outlives a restart of the gateway.
  const g2 = gateways[1]!;
  await g2.gw.close();
  g2.audit = new MemoryAuditSink();
  g2.gw = await Gateway.start(g2.config, { audit: g2.audit });
  assert.equal(g2.gw.engine.safeMode()?.by, 'op-sato');
  assert.ok(g2.audit.records.some((r) => r.action === 'gateway.safe-mode.resumed'));

  const leave = await runErab(['incident', 'act', id, 'leave-safe-mode', ...urls(), ...tlsArgs, '--reason', 'contained', '--operator', 'op-sato', ...desk]);
  assert.equal(leave.code, 0, leave.stderr);
  assert.ok(gateways.every((g) => g.gw.engine.safeMode() === undefined && g.audit.records.some((r) => r.action === 'gateway.safe-mode.leave')));

  // A device quarantined while an event controls it goes back to the owner's mode first.
  await vtn.vtn.createEvent({
    eventID: 'ev-again', marketContext: 'urn:erab:aggregator:AGG1',
    activePeriod: { dtstart: epochMillis(Date.now() + 1000), duration: millis(600_000) },
    signals: [dispatch(gateways[0]!.battery, -1000)], target: { venID: ['GW1'] },
  });
  await waitFor('GW1\'s battery discharging again', () => mode(sites[0]!) === 'discharging');
  const q = await runErab(['incident', 'act', id, 'quarantine', '--gateway', gateways[0]!.gw.operatorUrl!, '--device', gateways[0]!.battery, ...tlsArgs, '--reason', 'firmware suspected', '--operator', 'op-sato', ...desk]);
  assert.equal(q.code, 0, `${q.stdout}\n${q.stderr}`);
  assert.equal(gateways[0]!.gw.admission.get(gateways[0]!.battery)?.state, 'quarantined');
  await waitFor('the quarantined battery back to the owner\'s mode', () => mode(sites[0]!) === owner[0]);
  assert.ok(gateways[0]!.audit.records.some((r) => r.action === 'gateway.command' && r.target === gateways[0]!.battery && /^quarantined by op-sato/.test(r.reason ?? '')), 'the restore names the quarantine');
  assert.ok(gateways[0]!.audit.records.some((r) => r.action === 'gateway.device.quarantined' && r.actor.id === 'op-sato'));
  const unknown = await runErab(['incident', 'act', id, 'quarantine', '--gateway', gateways[0]!.gw.operatorUrl!, '--device', 'no-such-device', ...tlsArgs, '--reason', 'x', '--operator', 'op-sato', ...desk]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stdout, /FAILED: quarantine: device no-such-device .* HTTP 404/);

  const shown = JSON.parse((await runErab(['incident', 'show', id, '--json', ...desk])).stdout) as { timeline: { kind: string; details: { step?: string; outcome?: string } }[] };
  assert.deepEqual(shown.timeline.filter((e) => e.kind === 'action').map((e) => `${e.details.step}:${e.details.outcome}`),
    ['safe-mode:success', 'leave-safe-mode:success', 'quarantine:success', 'quarantine:failure']);
  const audited = [...readRecords(join(pki.dir, 'incidents-audit'))].filter((l) => l.record?.action === 'incident.action').map((l) => l.record!.outcome);
  assert.deepEqual(audited, ['success', 'success', 'success', 'failure']);
});

test('a gateway refuses safe mode from a certificate that is not an allowed operator', async () => {
  const gw = pki.get('gw2');
  const r = await runErab(['incident', 'act', '1', 'safe-mode', '--gateway', gateways[0]!.gw.operatorUrl!, '--cert', gw.files.certFile, '--key', gw.files.keyFile, '--ca', pki.caFile,
    '--reason', 'x', '--operator', 'op-sato', '--db', join(pki.dir, 'incidents.db'), '--audit-dir', join(pki.dir, 'incidents-audit')]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /FAILED: safe-mode: owner's safe mode on 0\/1 gateway/);
  assert.equal(gateways[0]!.gw.engine.safeMode(), undefined);
});
