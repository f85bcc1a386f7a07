/**
 * End to end: the aggregator's VTN (our OpenADR VTN on mutual TLS, signing its payloads with the
 * aggregator certificate), the gateway, and simulated devices (two ECHONET Lite nodes and the
 * gateway's controller on a random 127.x.y.0/24 block) over real TLS and real UDP.
 *
 * Time: every component shares an AcceleratedClock running 5× real time, so the "minute"
 * of network outage lasts 12 real seconds while signatures, schedules, polls and reports see one
 * consistent (simulated) time. Poll interval 2 s, telemetry every 5 s (simulated).
 *
 * The tests run in order on one fixture (one VTN, one gateway, two device nodes):
 * registration and inventory → telemetry → a dispatch event → refusals (463 unsigned, 463
 * tampered, 450 replayed, 462 foreign resource, 454 beyond policy, 451 not admitted, 460
 * unknown signal, hostile payloads) → admission through the aggregator → a one-minute network
 * cut → a lost reply → a gateway restart → the fail-safe with the aggregator gone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { TlsMaterial } from '../../../src/security/tls.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { startVtnEndpoint, type RunningVtn } from '../../../src/endpoints/openadr/vtn-endpoint.js';
import type { OadrTransport } from '../../../src/protocols/openadr/http.js';
import { decodePayload } from '../../../src/protocols/openadr/payload.js';
import type { OadrReport, ResourceStatus } from '../../../src/protocols/openadr/report.js';
import type { EventSignal, OadrCreatedEvent } from '../../../src/protocols/openadr/event.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { StorageBattery } from '../../../src/protocols/echonet/objects/storage-battery.js';
import { Gateway, gatewayConfigSchema } from '../../../src/roles/gateway/gateway.js';
import { parseAssetUrn } from '../../../src/roles/gateway/inventory.js';
import { ADMISSION_SIGNAL_NAME } from '../../../src/roles/gateway/admission.js';
import { epochMillis, millis } from '../../../src/core/units.js';
import { acceleratedClock, pkiWorld, waitFor } from '../../kit/index.js';

const SPEED = 5;
const POLL_MS = 2000;
/** Processing-time tolerance in simulated ms (3 real seconds at 5×): the 2-core machine is shared. */
const LOAD_SLACK_MS = 15_000;
/**
 * Loopback block of this run, random so that two copies of this file (other build folders run
 * the whole suite too) never bind the same ECHONET Lite addresses.
 */
const NET = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
const CONTROLLER = `${NET}.1`;
const NODE_A = `${NET}.2`;
const NODE_B = `${NET}.3`;
const clock = acceleratedClock(SPEED);
const W = { kind: 'powerReal' as const, itemDescription: 'RealPower', itemUnits: 'W', siScaleCode: 'none' as const, powerAttributes: { hertz: 50, voltage: 100, ac: true } };

/** What the wire wrapper does to VTN replies carrying an oadrDistributeEvent. */
type WireMode = 'pass' | 'strip-signature' | 'tamper' | 'replay' | 'hostile';

interface Fixture {
  vtn: RunningVtn;
  vtnStore: Store;
  vtnAudit: MemoryAuditSink;
  vtnArgs: Parameters<typeof startVtnEndpoint>[0];
  gw: Gateway;
  gwConfig: ReturnType<typeof gatewayConfigSchema.parse>;
  audit: MemoryAuditSink;
  siteA: DeviceSite;
  siteB: DeviceSite;
  reports: OadrReport[];
  registered: OadrReport[][];
  created: OadrCreatedEvent[];
  /** eiReportIDs of every oadrUpdateReport the VTN received, resends included. */
  received: string[];
  wire: { mode: WireMode; captured: string[]; replayed: number; hostile: number; dropReportReplies: number };
  batA: string;
  batB: string;
  dir: string;
}

let f: Fixture;

function batteryState(site: DeviceSite): { mode: string; discharge: number; charge: number } {
  const o = site.battery!.object;
  return {
    mode: o.get(StorageBattery.props.operationMode),
    discharge: o.get(StorageBattery.props.dischargingPowerSetting),
    charge: o.get(StorageBattery.props.chargingPowerSetting),
  };
}

function dispatchSignal(resourceID: string, watts: number, durationMs: number): EventSignal {
  return {
    signalName: 'LOAD_DISPATCH', signalType: 'setpoint', signalID: `sp-${resourceID}`, target: { resourceID: [resourceID] },
    itemBase: W, intervals: [{ duration: millis(durationMs), uid: '0', value: watts }],
  };
}

/** The eventResponse the gateway sent for an event (from the VTN's view of the wire). */
function responseFor(eventID: string, modificationNumber?: number) {
  for (const c of [...f.created].reverse()) {
    const r = c.eventResponses?.find((x) => x.qualifiedEventID.eventID === eventID && (modificationNumber === undefined || x.qualifiedEventID.modificationNumber === modificationNumber));
    if (r) return r;
  }
  return undefined;
}

/** A transport wrapper standing for the network between the VTN and the gateway. */
function wireWrapper(inner: OadrTransport): OadrTransport {
  return {
    async post(service, xml) {
      const reply = await inner.post(service, xml);
      if (service === 'EiReport' && xml.includes('oadrUpdateReport') && f.wire.dropReportReplies > 0) {
        // The VTN has the report, but the connection breaks before its reply arrives.
        f.wire.dropReportReplies--;
        throw new Error('connection reset before the reply arrived');
      }
      if (!reply.includes('oadrDistributeEvent')) return reply;
      const mode = f.wire.mode;
      if (mode === 'pass') {
        f.wire.captured.push(reply);
        return reply;
      }
      if (mode === 'strip-signature') return reply.replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '');
      if (mode === 'tamper') return reply.replace(/<ei:value>-1000<\/ei:value>/g, '<ei:value>-3000</ei:value>');
      if (mode === 'hostile') {
        // An external-entity attack dressed as a distribute (XXE), then a truncated document.
        f.wire.hostile++;
        return f.wire.hostile % 2 === 1
          ? `<?xml version="1.0"?><!DOCTYPE p [<!ENTITY e SYSTEM "file:///etc/passwd">]><oadr:oadrPayload xmlns:oadr="http://openadr.org/oadr-2.0b/2012/07"><oadr:oadrSignedObject><oadr:oadrDistributeEvent>&e;</oadr:oadrDistributeEvent></oadr:oadrSignedObject></oadr:oadrPayload>`
          : reply.slice(0, Math.floor(reply.length / 2));
      }
      // replay: answer with an earlier signed distribute instead of the fresh one.
      f.wire.replayed++;
      return f.wire.captured[0]!;
    },
    close() {
      inner.close();
    },
  };
}

before(async () => {
  const pki = await pkiWorld({}, { prefix: 'erab-gw-e2e-' });
  const agg = await pki.issue('agg', 'aggregator:AGG1');
  const gwCert = await pki.issue('gwCert', 'gateway:GW1');
  const vtnStore = await openStore({ url: join(pki.dir, 'vtn.db'), migrations: openadrStoreMigrations });
  const vtnAudit = new MemoryAuditSink();
  const reports: OadrReport[] = [];
  const registered: OadrReport[][] = [];
  const created: OadrCreatedEvent[] = [];
  const received: string[] = [];
  const vtnArgs: Parameters<typeof startVtnEndpoint>[0] = {
    vtnID: 'vtn-AGG1',
    material: await TlsMaterial.fromPem({ credentials: [{ certPem: agg.certPem, keyPem: agg.keyPem }], caPem: pki.caPem }),
    profile: 'R4',
    allowList: { participants: ['gateway:GW1'] },
    audit: vtnAudit,
    store: vtnStore,
    clock,
    vtn: {
      pollFreqMs: POLL_MS,
      reportBackMs: 5000,
      hooks: { onReport: (_v, r) => reports.push(r), onReportRegistered: (_v, r) => registered.push(r) },
      onXml: (dir, service, xml) => {
        if (dir !== 'in' || (service !== 'EiEvent' && service !== 'EiReport')) return;
        const m = decodePayload(xml).message;
        if (m.type === 'oadrCreatedEvent') created.push(m);
        if (m.type === 'oadrUpdateReport') for (const r of m.reports) received.push(r.eiReportID ?? '');
      },
    },
  };
  const vtn = await startVtnEndpoint(vtnArgs);
  // Site A: battery, water heater and meter on one node (admitted through the allow-list);
  // site B: another battery nobody admitted.
  const siteA = await DeviceSite.start({ address: NODE_A, speed: 1, tickMs: 1000, serialPrefix: 'SITEA', battery: { initialSocPercent: 80 }, waterHeater: {} }, { clock });
  const siteB = await DeviceSite.start({ address: NODE_B, speed: 1, tickMs: 1000, serialPrefix: 'SITEB', battery: { initialSocPercent: 80 } }, { clock });
  const audit = new MemoryAuditSink();
  f = { vtn, vtnStore, vtnAudit, vtnArgs, gw: undefined as never, gwConfig: undefined as never, audit, siteA, siteB, reports, registered, created, received, wire: { mode: 'pass', captured: [], replayed: 0, hostile: 0, dropReportReplies: 0 }, batA: '', batB: '', dir: pki.dir };
  const config = gatewayConfigSchema.parse({
    gatewayId: 'GW1',
    database: join(pki.dir, 'gateway.db'),
    tls: { certFile: gwCert.files.certFile, keyFile: gwCert.files.keyFile, caFile: pki.caFile },
    aggregator: { id: 'AGG1', vtnUrl: vtn.url, certificateFile: agg.files.certFile, fingerprint: agg.identity.fingerprint, vtnId: 'vtn-AGG1' },
    echonet: { address: CONTROLLER, devices: [NODE_A, NODE_B], pollMs: 2500, timeoutMs: 20_000, retries: 1 },
    telemetry: { minPeriodMs: 5000 },
    admission: { allowList: [{ serialNumber: 'SITEA' }] },
    engine: { tickMs: 1000 },
    // A short fail-safe so its test fits: 45 s without the aggregator = unreachable.
    policy: { failSafe: { aggregatorTimeoutMs: 45_000, maxForcedWhileUnreachableMs: 600_000 } },
  });
  f.gwConfig = config;
  f.gw = await Gateway.start(config, { clock, audit, wrapTransport: wireWrapper });
  f.batA = f.gw.admission.list().find((r) => r.address === NODE_A && r.class === 'battery')!.deviceId;
  f.batB = f.gw.admission.list().find((r) => r.address === NODE_B && r.class === 'battery')!.deviceId;
});

after(async () => {
  await f?.gw?.close();
  await f?.vtn?.close();
  await f?.siteA?.close();
  await f?.siteB?.close();
  await f?.vtnStore?.close();
  if (f?.dir) rmSync(f.dir, { recursive: true, force: true });
});

test('the gateway registers over mutual TLS and uploads its inventory; the unknown battery is reported as pending', async () => {
  await waitFor('registration', () => f.vtn.vtn.registration('GW1'));
  assert.equal(f.vtn.vtn.registration('GW1')?.xmlSignature, true);
  const meta = await waitFor('METADATA reports', () => f.registered.at(-1));
  const assets = new Map<string, Record<string, string>>();
  for (const r of meta) for (const d of r.descriptions ?? []) {
    const urn = d.reportDataSource?.endDeviceAsset?.[0];
    const parsed = urn ? parseAssetUrn(urn) : undefined;
    if (parsed) assets.set(d.reportDataSource!.resourceID![0]!, parsed);
  }
  assert.equal(assets.get(f.batA)?.state, 'admitted');
  assert.equal(assets.get(f.batA)?.class, 'battery');
  assert.equal(assets.get(f.batA)?.serial, 'SITEA');
  assert.equal(assets.get(f.batA)?.std, 'R');
  assert.equal(assets.get(f.batB)?.state, 'pending');
  assert.ok([...assets.values()].some((a) => a.class === 'water_heater'));
  assert.ok([...assets.values()].some((a) => a.class === 'meter'));
});

test('telemetry arrives at the VTN with correct values and units (W, %, resource status)', async () => {
  const point = await waitFor('a TELEMETRY_USAGE report with the battery power', () => {
    for (const r of f.reports) for (const iv of r.intervals ?? []) for (const p of iv.payloads) if (p.rID === `${f.batA}/power`) return { r, p };
    return undefined;
  }, 40_000);
  assert.equal(point.r.reportName, 'TELEMETRY_USAGE');
  const req = f.vtn.vtn.reportRequests('GW1').find((q) => q.request.reportRequestID === point.r.reportRequestID)!;
  const unit = req.request.reportSpecifier.specifierPayloads.find((s) => s.rID === `${f.batA}/power`)!.itemBase!;
  assert.deepEqual([unit.kind, unit.itemUnits, unit.siScaleCode], ['powerReal', 'W', 'none']);
  // The battery's own measurement (0xD3) and the report agree: W, consumption-positive.
  assert.equal(typeof point.p.value, 'number');
  const status = await waitFor('a TELEMETRY_STATUS report', () => {
    for (const r of f.reports) for (const iv of r.intervals ?? []) for (const p of iv.payloads) if (p.rID === `${f.batA}/status`) return p.value as ResourceStatus;
    return undefined;
  }, 40_000);
  assert.equal(status.online, true);
  assert.equal(status.manualOverride, false);
  const soc = await waitFor('SoC', () => {
    for (const r of f.reports) for (const iv of r.intervals ?? []) for (const p of iv.payloads) if (p.rID === `${f.batA}/soc`) return p.value as number;
    return undefined;
  });
  assert.ok(Math.abs(soc - f.siteA.battery!.socPercent()) < 3, `reported SoC ${soc}% vs simulator ${f.siteA.battery!.socPercent()}%`);
  // Nothing from the pending battery.
  assert.ok(!f.reports.some((r) => (r.intervals ?? []).some((iv) => iv.payloads.some((p) => p.rID.startsWith(f.batB)))));
});

test('an event changes the battery\'s operation mode and power at its start, and its end returns it to normal', async () => {
  const before = batteryState(f.siteA);
  assert.equal(before.mode, 'standby');
  const published = clock.now();
  const start = published + 10_000;
  await f.vtn.vtn.createEvent({
    eventID: 'ev-dispatch', marketContext: 'urn:erab:aggregator:AGG1',
    activePeriod: { dtstart: epochMillis(start), duration: millis(40_000) },
    signals: [dispatchSignal(f.batA, -1000, 40_000)],
    target: { venID: ['GW1'] },
  });
  try {
    await followDispatch(published, start);
  } catch (err) {
    // Leave no running event behind for the tests that follow.
    await f.vtn.vtn.cancelEvent('ev-dispatch').catch(() => {});
    throw err;
  }
});

async function followDispatch(published: number, start: number): Promise<void> {
  const optIn = await waitFor('oadrCreatedEvent for ev-dispatch', () => responseFor('ev-dispatch', 0), 20_000);
  const receivedAt = clock.now();
  assert.deepEqual([optIn.responseCode, optIn.optType], [200, 'optIn']);
  // Picked up on the next poll: within one poll interval, plus LOAD slack (processing time on a
  // shared 2-core machine, multiplied by the clock's speed-up).
  assert.ok(receivedAt - published <= POLL_MS + LOAD_SLACK_MS, `answered ${receivedAt - published} ms after publication`);
  // Received within the poll interval, executed at the start: mode and power set on the device.
  await waitFor('battery discharging 1000 W', () => batteryState(f.siteA).mode === 'discharging' && batteryState(f.siteA).discharge === 1000, 20_000);
  const changedAt = clock.now();
  assert.ok(changedAt >= start - 100, 'not before the event start');
  assert.ok(changedAt - start <= LOAD_SLACK_MS, `changed ${changedAt - start} ms after the start`);
  console.log(`# event: answered ${receivedAt - published} ms after publication (poll ${POLL_MS} ms), device changed ${changedAt - start} ms after the start (simulated time)`);
  // Telemetry shows the discharge (consumption-positive → −1000 W) and the set point.
  await waitFor('telemetry with −1000 W', () => f.reports.some((r) => (r.intervals ?? []).some((iv) => (iv.dtstart ?? 0) > changedAt && iv.payloads.some((p) => p.rID === `${f.batA}/power` && p.value === -1000))), 30_000);
  await waitFor('status with the set point', () => f.reports.some((r) => (r.intervals ?? []).some((iv) => iv.payloads.some((p) => p.rID === `${f.batA}/status` && (p.value as ResourceStatus).loadControlState?.setPoint?.current === -1000))), 30_000);
  // End of the event: back to the owner's mode (standby).
  await waitFor('battery back to standby', () => batteryState(f.siteA).mode === 'standby', 30_000);
  assert.ok(clock.now() >= start + 40_000 - 100);
  assert.ok(f.audit.records.some((r) => r.action === 'gateway.event.end' && r.target === 'ev-dispatch'));
}

/** Runs a refusal case: the device state must not change and an audit record must name it. */
async function expectRefusal(eventID: string, code: number, auditMatch: RegExp, act: () => Promise<void>, site = f.siteA): Promise<void> {
  const stateBefore = batteryState(site);
  const auditBefore = f.audit.records.length;
  try {
    await checkRefusal(eventID, code, auditMatch, act, site, stateBefore, auditBefore);
  } finally {
    await f.vtn.vtn.cancelEvent(eventID).catch(() => {});
  }
}

async function checkRefusal(eventID: string, code: number, auditMatch: RegExp, act: () => Promise<void>, site: DeviceSite, stateBefore: ReturnType<typeof batteryState>, auditBefore: number): Promise<void> {
  await act();
  const r = await waitFor(`oadrCreatedEvent ${code} for ${eventID}`, () => {
    const x = responseFor(eventID);
    return x && x.responseCode !== 200 ? x : undefined;
  }, 20_000);
  assert.deepEqual([r.responseCode, r.optType], [code, 'optOut'], r.responseDescription);
  const rec = f.audit.records.slice(auditBefore).find((a) => a.outcome === 'refused' && auditMatch.test(a.reason ?? ''));
  assert.ok(rec, `audit record matching ${auditMatch} (got: ${f.audit.records.slice(auditBefore).map((a) => a.reason).join(' | ')})`);
  // Give an accepted command every chance to show up before checking nothing moved.
  await new Promise((res) => setTimeout(res, (2 * POLL_MS) / SPEED + 300));
  assert.deepEqual(batteryState(site), stateBefore);
}

function futureEvent(eventID: string, signals: EventSignal[]) {
  return f.vtn.vtn.createEvent({
    eventID, marketContext: 'urn:erab:aggregator:AGG1',
    activePeriod: { dtstart: epochMillis(clock.now() + 3000), duration: millis(60_000) },
    signals, target: { venID: ['GW1'] },
  });
}

test('refused: an unsigned command (463), the device untouched, audited', async () => {
  f.wire.mode = 'strip-signature';
  try {
    await expectRefusal('ev-unsigned', 463, /unsigned command/, async () => { await futureEvent('ev-unsigned', [dispatchSignal(f.batA, -1000, 60_000)]); });
  } finally {
    f.wire.mode = 'pass';
  }
});

test('refused: a tampered command (463), the device untouched, audited', async () => {
  f.wire.mode = 'tamper';
  try {
    await expectRefusal('ev-tampered', 463, /signature does not verify/, async () => { await futureEvent('ev-tampered', [dispatchSignal(f.batA, -1000, 60_000)]); });
  } finally {
    f.wire.mode = 'pass';
  }
});

test('refused: a replayed command (450), the device untouched, audited', async () => {
  assert.ok(f.wire.captured.length > 0, 'a signed distribute was captured earlier');
  const replayedEvent = decodePayload(f.wire.captured[0]!).message;
  assert.equal(replayedEvent.type, 'oadrDistributeEvent');
  f.wire.mode = 'replay';
  try {
    const ids = replayedEvent.type === 'oadrDistributeEvent' ? replayedEvent.events.map((e) => e.descriptor.eventID) : [];
    const auditBefore = f.audit.records.length;
    const stateBefore = batteryState(f.siteA);
    // Any change at the VTN makes it send a distribute on the next poll; the wire replays the old one instead.
    await futureEvent('ev-trigger', [dispatchSignal(f.batA, -500, 60_000)]);
    await waitFor('replay refused', () => f.audit.records.slice(auditBefore).find((a) => a.outcome === 'refused' && /already used: replayed payload/.test(a.reason ?? '')), 20_000);
    assert.ok(f.wire.replayed > 0);
    assert.deepEqual(batteryState(f.siteA), stateBefore);
    const r = await waitFor('450 for the replayed event', () => f.created.flatMap((c) => c.eventResponses ?? []).find((x) => ids.includes(x.qualifiedEventID.eventID) && x.responseCode === 450));
    assert.equal(r.optType, 'optOut');
  } finally {
    f.wire.mode = 'pass';
  }
  await f.vtn.vtn.cancelEvent('ev-trigger');
  await waitFor('ev-trigger cancelled at the gateway', () => !f.gw.engine.eventIds().includes('ev-trigger'), 20_000);
  await waitFor('battery back to standby', () => batteryState(f.siteA).mode === 'standby', 20_000);
});

test('refused: a command for another gateway\'s resource (462), the device untouched, audited', async () => {
  await expectRefusal('ev-foreign', 462, /not a resource of this gateway/, async () => { await futureEvent('ev-foreign', [dispatchSignal('027D01-of-GW2', -1000, 60_000)]); });
});

test('refused: a setpoint beyond the local policy (454), the device untouched, audited', async () => {
  await expectRefusal('ev-too-big', 454, /max-discharge-power: discharge power 30000 W exceeds the limit 3000 W/, async () => { await futureEvent('ev-too-big', [dispatchSignal(f.batA, -30_000, 60_000)]); });
});

test('refused: a command for a device not admitted (451), the device untouched, audited', async () => {
  await expectRefusal('ev-pending', 451, /device not admitted/, async () => { await futureEvent('ev-pending', [dispatchSignal(f.batB, -1000, 60_000)]); }, f.siteB);
});

test('refused: a signal the gateway does not support (460), the device untouched, audited', async () => {
  await expectRefusal('ev-price', 460, /signal ELECTRICITY_PRICE is not supported/, async () => {
    await futureEvent('ev-price', [{ signalName: 'ELECTRICITY_PRICE', signalType: 'price', signalID: 'p', intervals: [{ duration: millis(60_000), uid: '0', value: 42 }] }]);
  });
});

test('hostile or malformed payloads from the VTN side are refused and audited; the gateway keeps serving', async () => {
  const stateBefore = batteryState(f.siteA);
  const auditBefore = f.audit.records.length;
  f.wire.mode = 'hostile';
  try {
    await futureEvent('ev-hostile', [dispatchSignal(f.batA, -1000, 60_000)]);
    await waitFor('the hostile replies refused', () => f.wire.hostile >= 1 && f.audit.records.slice(auditBefore).find((a) => a.outcome !== 'success' && /DOCTYPE|DTD|entit/i.test(a.reason ?? '')), 20_000);
  } finally {
    f.wire.mode = 'pass';
  }
  assert.deepEqual(batteryState(f.siteA), stateBefore);
  // Still serving: the aggregator cancels, the gateway answers and keeps the device as it was.
  await f.vtn.vtn.cancelEvent('ev-hostile');
  await waitFor('cancellation answered', () => f.created.flatMap((c) => c.eventResponses ?? []).find((x) => x.qualifiedEventID.eventID === 'ev-hostile' && x.responseCode === 200), 30_000);
  assert.deepEqual(batteryState(f.siteA), stateBefore);
});

test('the operator admits the pending battery through the aggregator (signed admission event); the inventory is uploaded again', async () => {
  const rev = f.gw.admission.get(f.batB)!.revision;
  const uploads = f.registered.length;
  await f.vtn.vtn.createEvent({
    eventID: 'admit-batB', marketContext: 'urn:erab:aggregator:AGG1',
    activePeriod: { dtstart: epochMillis(clock.now()), duration: millis(60_000) },
    signals: [{ signalName: ADMISSION_SIGNAL_NAME, signalType: 'level', signalID: 'admit', target: { resourceID: [f.batB] }, intervals: [{ duration: millis(60_000), uid: '0', value: rev }] }],
    target: { venID: ['GW1'] },
  });
  const r = await waitFor('admission answered', () => responseFor('admit-batB'), 20_000);
  assert.deepEqual([r.responseCode, r.optType], [200, 'optIn']);
  assert.equal(f.gw.admission.get(f.batB)?.state, 'admitted');
  assert.ok(f.audit.records.some((a) => a.action === 'gateway.device.admitted' && a.target === f.batB && a.actor.id === 'aggregator:AGG1'));
  const meta = await waitFor('inventory re-registered', () => (f.registered.length > uploads ? f.registered.at(-1) : undefined), 20_000);
  const urn = meta.flatMap((m) => m.descriptions ?? []).find((d) => d.reportDataSource?.resourceID?.[0] === f.batB)?.reportDataSource?.endDeviceAsset?.[0];
  assert.equal(parseAssetUrn(urn!)?.state, 'admitted');
});

test('network cut: a minute without the aggregator; every buffered reading arrives afterwards, once', async () => {
  const rID = `${f.batA}/power`;
  const key = (r: OadrReport, dtstart: number | undefined) => `${r.reportRequestID}|${rID}|${dtstart}`;
  // Steady: the VEN reports for requests of its current registration (the previous test registered
  // its inventory again, which replaced the earlier requests).
  await waitFor('steady reporting', () => {
    const active = new Set(f.gw.ven.activeReports());
    return active.size > 0 && f.reports.some((r) => active.has(r.reportRequestID));
  }, 30_000);
  const liveAtCut = new Set(f.gw.ven.activeReports());
  const cutAt = clock.now();
  const port = f.vtn.port;
  await f.vtn.close();
  await new Promise((res) => setTimeout(res, 60_000 / SPEED));
  const restoredAt = clock.now();
  const countBefore = f.reports.length;
  f.vtn = await startVtnEndpoint({ ...f.vtnArgs, port });
  const buffered = await f.gw.pendingReports();
  // Everything sampled during the outage reaches the VTN once the VEN's back-off retries: the
  // outbox drains and fresh readings follow.
  await waitFor('buffered readings delivered', async () => (await f.gw.pendingReports()) === 0
    && f.reports.slice(countBefore).some((r) => (r.intervals ?? []).some((iv) => (iv.dtstart ?? 0) > restoredAt + 5000)), 60_000);
  console.log(`# network cut: ${buffered} reports on disk when the VTN came back, ${f.reports.length - countBefore} delivered after; report requests ${f.vtn.vtn.reportRequests('GW1').map((r) => r.state).join(',')}; ven active ${f.gw.ven.activeReports().length}; registrations ${f.registered.length}`);
  assert.ok(buffered >= 10, `${buffered} reports were buffered on disk during the outage`);
  // Exactly once: no reading (report request, data point, sampling instant) arrived twice, and
  // no report id twice; the stored reports at the VTN agree.
  const seen = new Map<string, number>();
  for (const r of f.reports) for (const iv of r.intervals ?? []) if (iv.payloads.some((p) => p.rID === rID)) seen.set(key(r, iv.dtstart), (seen.get(key(r, iv.dtstart)) ?? 0) + 1);
  const dups = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual(dups, [], 'no reading delivered twice');
  const ids = f.reports.map((r) => r.eiReportID);
  assert.equal(new Set(ids).size, ids.length, 'every eiReportID once');
  // No gap: per report request, consecutive samples of the battery power are one granularity apart.
  const byReq = new Map<string, number[]>();
  for (const r of f.reports) for (const iv of r.intervals ?? []) if (iv.payloads.some((p) => p.rID === rID)) byReq.set(r.reportRequestID, [...(byReq.get(r.reportRequestID) ?? []), iv.dtstart!]);
  const diag = [...byReq].map(([k, v]) => `${k.slice(0, 8)}: ${v.map((t) => Math.round((t - cutAt) / 1000)).join(',')}`).join(' / ');
  for (const [req, times] of byReq) {
    if (!liveAtCut.has(req)) continue; // a stream replaced before the cut, or one started after it
    const covering = times.sort((a, b) => a - b).filter((t) => t > cutAt && t < restoredAt);
    assert.ok(covering.length >= 10, `request ${req}: ${covering.length} readings sampled during the ${(restoredAt - cutAt) / 1000} s outage (${diag})`);
    const gaps = covering.slice(1).map((t, i) => t - covering[i]!);
    assert.ok(Math.max(...gaps) < 2 * 5000, `request ${req}: largest gap between buffered readings ${Math.max(...gaps)} ms (${diag})`);
  }
  const stored = await f.vtn.vtn['store'].listReports('GW1');
  assert.equal(new Set(stored.map((r) => r.eiReportID)).size, stored.length, 'the VTN stored each report once');
});

test('a reply lost after the VTN stored a report: the resend carries the same id, so the aggregator counts it once', async () => {
  const before = f.reports.length;
  const receivedBefore = f.received.length;
  f.wire.dropReportReplies = 1;
  // The VEN keeps the report in its outbox (no reply = not delivered) and sends it again.
  const dup = await waitFor('the resent report', () => {
    const ids = new Map<string, number>();
    for (const id of f.received.slice(receivedBefore)) ids.set(id, (ids.get(id) ?? 0) + 1);
    return [...ids].find(([, n]) => n > 1)?.[0];
  }, 60_000);
  // The VTN acknowledged the resend but counted (onReport) and stored it once.
  assert.equal(f.reports.filter((r) => r.eiReportID === dup).length, 1);
  const readings = new Map<string, number>();
  for (const r of f.reports.slice(before)) for (const iv of r.intervals ?? []) for (const p of iv.payloads) {
    const k = `${r.reportRequestID}|${p.rID}|${iv.dtstart}`;
    readings.set(k, (readings.get(k) ?? 0) + 1);
  }
  assert.deepEqual([...readings].filter(([, n]) => n > 1), []);
  const stored = await f.vtn.vtn['store'].listReports('GW1');
  assert.equal(stored.filter((r) => r.eiReportID === dup).length, 1, 'the VTN store holds the resent report once');
  assert.equal(new Set(stored.map((r) => r.eiReportID)).size, stored.length);
  console.log(`# lost reply: report ${dup} received twice, stored and counted once (${stored.length} reports stored)`);
});

test('a gateway restart: devices restored at shutdown, the running event resumed and telemetry served again after start', async () => {
  await f.vtn.vtn.createEvent({
    eventID: 'ev-restart', marketContext: 'urn:erab:aggregator:AGG1',
    activePeriod: { dtstart: epochMillis(clock.now()), duration: millis(600_000) },
    signals: [dispatchSignal(f.batA, -800, 600_000)],
    target: { venID: ['GW1'] },
  });
  try {
    await waitFor('battery discharging 800 W', () => batteryState(f.siteA).mode === 'discharging' && batteryState(f.siteA).discharge === 800, 30_000);
    await f.gw.close();
    assert.equal(batteryState(f.siteA).mode, 'standby', 'restored to the owner\'s mode at shutdown');
    const reportsBefore = f.reports.length;
    const restartedAt = clock.now();
    f.gw = await Gateway.start(f.gwConfig, { clock, audit: f.audit, wrapTransport: wireWrapper });
    await waitFor('the event resumed', () => batteryState(f.siteA).mode === 'discharging' && batteryState(f.siteA).discharge === 800, 30_000);
    assert.ok(f.audit.records.some((r) => r.action === 'gateway.event.resumed' && r.target === 'ev-restart'));
    await waitFor('telemetry after the restart', () => f.reports.slice(reportsBefore).some((r) => (r.intervals ?? []).some((iv) => (iv.dtstart ?? 0) > restartedAt && iv.payloads.some((p) => p.rID === `${f.batA}/power`))), 40_000);
  } finally {
    await f.vtn.vtn.cancelEvent('ev-restart').catch(() => {});
  }
  await waitFor('battery back to standby after the cancellation', () => batteryState(f.siteA).mode === 'standby', 30_000);
});

test('fail-safe: with the aggregator gone beyond its timeout, an open-ended event ends and the device returns to normal', async () => {
  await f.vtn.vtn.createEvent({
    eventID: 'ev-open', marketContext: 'urn:erab:aggregator:AGG1',
    activePeriod: { dtstart: epochMillis(clock.now()), duration: millis(0) },
    signals: [{ ...dispatchSignal(f.batA, -600, 0), intervals: [{ duration: millis(0), uid: '0', value: -600 }] }],
    target: { venID: ['GW1'] },
  });
  await waitFor('battery discharging 600 W', () => batteryState(f.siteA).mode === 'discharging' && batteryState(f.siteA).discharge === 600, 30_000);
  const port = f.vtn.port;
  await f.vtn.close();
  const goneAt = clock.now();
  await waitFor('back to standby without the aggregator', () => batteryState(f.siteA).mode === 'standby', 60_000).catch((e: Error) => {
    const recs = f.audit.records.filter((r) => r.target === 'ev-open' || r.details?.eventID === 'ev-open' || r.target === f.batA).slice(-8);
    throw new Error(`${e.message}; battery ${JSON.stringify(batteryState(f.siteA))}; phases ${JSON.stringify(f.gw.engine.eventPhases())}; unreachable ${f.gw.failSafe.unreachable()} (last contact ${clock.now() - f.gw.failSafe.lastContactAt()} ms ago); normal ${JSON.stringify(f.gw.engine.normalOf(f.batA))}; audit ${recs.map((r) => `${r.action}/${r.outcome}/${r.reason ?? ''}/${JSON.stringify(r.details ?? {})}`).join(' | ')}`);
  });
  const after = clock.now() - goneAt;
  console.log(`# fail-safe: device back to normal ${after} ms (simulated) after the aggregator went away (timeout 45000 ms)`);
  assert.ok(after >= 45_000 - 2 * POLL_MS, `not before the timeout (${after} ms)`);
  assert.ok(f.audit.records.some((r) => r.action === 'gateway.event.end' && r.target === 'ev-open' && /unreachable/.test(r.reason ?? '')));
  f.vtn = await startVtnEndpoint({ ...f.vtnArgs, port });
  await f.vtn.vtn.cancelEvent('ev-open');
});
