/**
 * Regression: a gateway keeps answering NEW events after its first one (found by `erab demo`:
 * after the TSO's reduction the gateways never answered the retailer's 上げDR event; the
 * aggregator's VTN kept their distribute markers pending while their telemetry kept arriving).
 *
 * Real parts over real boundaries: our VTN on mutual TLS signing with the aggregator's
 * certificate, the gateway (`Gateway.start`) polling it, and a simulated site (battery + EV
 * charger/discharger) over real ECHONET Lite UDP on a random 127.x.y.0/24 block. Every part
 * shares one AcceleratedClock (SPEED× real time). The events have the aggregator's form
 * (src/roles/aggregator/runtime/engine.ts gatewayEvent): one LOAD_DISPATCH/setpoint per
 * instructed resource, a SIMPLE level 0 "release" for a device whose share moved, target venID.
 *
 * Two sequences on one fixture:
 * 1. event 1 (reduce) runs and ends; event 2 (increase) is issued after it ended;
 * 2. event 3 (reduce) is running when event 4 (increase, later window) is issued, so the
 *    distribute carries both; then event 3 is modified (release signal) while 4 is pending.
 * Each new event must be answered (optIn, 200) and acted on at its start.
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
import { decodePayload } from '../../../src/protocols/openadr/payload.js';
import type { EventSignal, OadrCreatedEvent } from '../../../src/protocols/openadr/event.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { StorageBattery } from '../../../src/protocols/echonet/objects/storage-battery.js';
import { Gateway, gatewayConfigSchema } from '../../../src/roles/gateway/gateway.js';
import { epochMillis, millis } from '../../../src/core/units.js';
import { acceleratedClock, pkiWorld, waitFor } from '../../kit/index.js';

const SPEED = 20;
const POLL_MS = 10_000;
const NET = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
const CONTROLLER = `${NET}.1`;
const NODE = `${NET}.2`;
const clock = acceleratedClock(SPEED);
const W = { kind: 'powerReal' as const, itemDescription: 'RealPower', itemUnits: 'W', siScaleCode: 'none' as const, powerAttributes: { hertz: 50, voltage: 100, ac: true } };

let vtn: RunningVtn;
let vtnStore: Store;
let gw: Gateway;
let site: DeviceSite;
let dir = '';
let bat = '';
let ev = '';
const audit = new MemoryAuditSink();
const created: OadrCreatedEvent[] = [];

function setpoint(resourceID: string, watts: number, durationMs: number): EventSignal {
  return {
    signalName: 'LOAD_DISPATCH', signalType: 'setpoint', signalID: resourceID, target: { resourceID: [resourceID] },
    itemBase: W, intervals: [{ duration: millis(durationMs), uid: '0', value: watts }],
  };
}

function release(resourceID: string, durationMs: number): EventSignal {
  return { signalName: 'SIMPLE', signalType: 'level', signalID: `${resourceID}/release`, target: { resourceID: [resourceID] }, intervals: [{ duration: millis(durationMs), uid: '0', value: 0 }] };
}

async function publish(eventID: string, startInMs: number, durationMs: number, signals: EventSignal[]): Promise<{ start: number; end: number }> {
  const start = clock.now() + startInMs;
  await vtn.vtn.createEvent({
    eventID, marketContext: 'urn:erab:aggregator:AGG1',
    activePeriod: { dtstart: epochMillis(start), duration: millis(durationMs) },
    signals, target: { venID: ['GW1'] }, venIDs: ['GW1'], responseRequired: 'always',
  });
  return { start, end: start + durationMs };
}

function responseFor(eventID: string, modificationNumber = 0) {
  for (const c of created) {
    const r = c.eventResponses?.find((x) => x.qualifiedEventID.eventID === eventID && x.qualifiedEventID.modificationNumber === modificationNumber);
    if (r) return r;
  }
  return undefined;
}

async function answered(eventID: string, modificationNumber = 0): Promise<void> {
  const r = await waitFor(`oadrCreatedEvent for ${eventID} #${modificationNumber} (pending at the VTN: ${await vtn.vtn.pendingCount('GW1')})`, () => responseFor(eventID, modificationNumber), 60_000);
  assert.deepEqual([r.responseCode, r.optType], [200, 'optIn'], r.responseDescription);
}

function battery(): { mode: string; discharge: number; charge: number } {
  const o = site.battery!.object;
  return { mode: o.get(StorageBattery.props.operationMode), discharge: o.get(StorageBattery.props.dischargingPowerSetting), charge: o.get(StorageBattery.props.chargingPowerSetting) };
}

before(async () => {
  const pki = await pkiWorld({}, { prefix: 'erab-gw-seq-' });
  dir = pki.dir;
  const agg = await pki.issue('agg', 'aggregator:AGG1');
  const gwCert = await pki.issue('gwCert', 'gateway:GW1');
  vtnStore = await openStore({ url: join(dir, 'vtn.db'), migrations: openadrStoreMigrations });
  vtn = await startVtnEndpoint({
    vtnID: 'vtn-AGG1',
    material: await TlsMaterial.fromPem({ credentials: [{ certPem: agg.certPem, keyPem: agg.keyPem }], caPem: pki.caPem }),
    profile: 'R4',
    allowList: { participants: ['gateway:GW1'] },
    audit: new MemoryAuditSink(),
    store: vtnStore,
    clock,
    vtn: {
      pollFreqMs: POLL_MS,
      reportBackMs: 30_000,
      onXml: (d, service, xml) => {
        if (d !== 'in' || service !== 'EiEvent') return;
        const m = decodePayload(xml).message;
        if (m.type === 'oadrCreatedEvent') created.push(m);
      },
    },
  });
  site = await DeviceSite.start({ address: NODE, speed: 1, tickMs: 1000, serialPrefix: 'SEQ', battery: { initialSocPercent: 60 }, ev: { initialSocPercent: 60, pluggedIn: true } }, { clock });
  const config = gatewayConfigSchema.parse({
    gatewayId: 'GW1',
    database: join(dir, 'gateway.db'),
    tls: { certFile: gwCert.files.certFile, keyFile: gwCert.files.keyFile, caFile: pki.caFile },
    aggregator: { id: 'AGG1', vtnUrl: vtn.url, certificateFile: agg.files.certFile, vtnId: 'vtn-AGG1' },
    echonet: { address: CONTROLLER, devices: [NODE], pollMs: 30_000, timeoutMs: 20_000, retries: 1 },
    telemetry: { minPeriodMs: 30_000 },
    admission: { allowList: [{ serialNumber: 'SEQ' }] },
    engine: { tickMs: 5000 },
    security: { maxClockSkewMs: 3_600_000 },
  });
  gw = await Gateway.start(config, { clock, audit });
  bat = gw.admission.list().find((r) => r.class === 'battery')!.deviceId;
  ev = gw.admission.list().find((r) => r.class === 'ev')!.deviceId;
  await waitFor('registration and report requests', () => vtn.vtn.registration('GW1') && gw.ven.activeReports().length > 0, 30_000);
});

after(async () => {
  await gw?.close();
  await vtn?.close();
  await site?.close();
  await vtnStore?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('event 2 (increase) issued after event 1 (reduce) ended is answered and acted on', async () => {
  const e1 = await publish('AGG1.tso_E1.GW1', 60_000, 120_000, [setpoint(bat, -2000, 120_000), setpoint(ev, -1000, 120_000)]);
  await answered('AGG1.tso_E1.GW1');
  await waitFor('battery discharging for event 1', () => battery().mode === 'discharging', 60_000);
  // The aggregator moves the EV's share elsewhere: modification 1 releases it.
  await vtn.vtn.modifyEvent('AGG1.tso_E1.GW1', { signals: [setpoint(bat, -2000, 120_000), release(ev, 120_000)], modificationReason: 'closed-loop re-dispatch' });
  await answered('AGG1.tso_E1.GW1', 1);
  await waitFor('event 1 ended on the gateway', () => audit.records.some((r) => r.action === 'gateway.event.end' && r.target === 'AGG1.tso_E1.GW1'), 60_000);
  assert.ok(clock.now() >= e1.end - 100);
  await waitFor('battery back to standby', () => battery().mode === 'standby', 30_000);

  // Some polls later, a new event from another party.
  await new Promise((r) => setTimeout(r, (3 * POLL_MS) / SPEED));
  await publish('AGG1.retailer_R1.GW1', 60_000, 120_000, [setpoint(bat, 2000, 120_000), setpoint(ev, 1000, 120_000)]);
  await answered('AGG1.retailer_R1.GW1');
  await waitFor('battery charging for event 2', () => battery().mode === 'charging', 60_000);
  assert.ok(audit.records.some((r) => r.action === 'gateway.command' && (r.details as { eventID?: string } | undefined)?.eventID === 'AGG1.retailer_R1.GW1'));
  await waitFor('event 2 ended on the gateway', () => audit.records.some((r) => r.action === 'gateway.event.end' && r.target === 'AGG1.retailer_R1.GW1'), 60_000);
});

test('event 4 issued while event 3 is still active: both listed, each answered and acted on', async () => {
  const e3 = await publish('AGG1.tso_E3.GW1', 30_000, 120_000, [setpoint(bat, -2000, 120_000), setpoint(ev, -1000, 120_000)]);
  await answered('AGG1.tso_E3.GW1');
  await waitFor('battery discharging for event 3', () => clock.now() >= e3.start && battery().mode === 'discharging', 60_000);
  // Event 4 starts after event 3's end; the distribute lists both (3 active, 4 far).
  const start4 = e3.end + 30_000 - clock.now();
  await publish('AGG1.retailer_R4.GW1', start4, 90_000, [setpoint(bat, 2000, 90_000)]);
  await answered('AGG1.retailer_R4.GW1');
  await vtn.vtn.modifyEvent('AGG1.tso_E3.GW1', { signals: [setpoint(bat, -1500, 120_000), release(ev, 120_000)], modificationReason: 'closed-loop re-dispatch' });
  await answered('AGG1.tso_E3.GW1', 1);
  await waitFor('battery discharging 1500 W (event 3 modified)', () => battery().mode === 'discharging' && battery().discharge === 1500, 60_000);
  await waitFor('battery charging for event 4', () => battery().mode === 'charging', 90_000);
  assert.equal(await vtn.vtn.pendingCount('GW1'), 0);
});
