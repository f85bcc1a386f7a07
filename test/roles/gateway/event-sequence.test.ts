/**
 * Regression: a gateway keeps answering NEW events after its first one (found by `erab demo`:
 * after the TSO's reduction the gateways never answered the retailer's 上げDR event; the
 * aggregator's VTN kept their distribute markers pending while their telemetry kept arriving).
 *
 * Real parts over real boundaries: our VTN on mutual TLS signing with the aggregator's
 * certificate, the gateway (`Gateway.start`) polling it, and a simulated site (battery + EV
 * charger/discharger) over real ECHONET Lite UDP on a random 127.x.y.0/24 block. Every part
 * shares one AcceleratedClock (20× real time; single-site-world.ts). The events have the aggregator's form
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
import type { EventSignal } from '../../../src/protocols/openadr/event.js';
import { millis } from '../../../src/core/units.js';
import { waitFor } from '../../kit/index.js';
import { setpoint, startSingleSiteWorld, type SingleSiteWorld } from './single-site-world.js';

let w: SingleSiteWorld;
let bat = '';
let ev = '';
const publish: SingleSiteWorld['publish'] = (...a) => w.publish(...a);
const battery = (): ReturnType<SingleSiteWorld['battery']> => w.battery();

function release(resourceID: string, durationMs: number): EventSignal {
  return { signalName: 'SIMPLE', signalType: 'level', signalID: `${resourceID}/release`, target: { resourceID: [resourceID] }, intervals: [{ duration: millis(durationMs), uid: '0', value: 0 }] };
}

async function answered(eventID: string, modificationNumber = 0): Promise<void> {
  const r = await w.answer(eventID, modificationNumber);
  assert.deepEqual([r.responseCode, r.optType], [200, 'optIn'], `${r.responseDescription} (pending at the VTN: ${await w.vtn.vtn.pendingCount('GW1')})`);
}

before(async () => {
  w = await startSingleSiteWorld({ prefix: 'erab-gw-seq-', serialPrefix: 'SEQ', socPercent: 60 });
  bat = w.deviceOf('battery');
  ev = w.deviceOf('ev');
});

after(async () => {
  await w?.close();
});

test('event 2 (increase) issued after event 1 (reduce) ended is answered and acted on', async () => {
  const e1 = await publish('AGG1.tso_E1.GW1', 60_000, 120_000, [setpoint(bat, -2000, 120_000), setpoint(ev, -1000, 120_000)]);
  await answered('AGG1.tso_E1.GW1');
  await waitFor('battery discharging for event 1', () => battery().mode === 'discharging', 60_000);
  // The aggregator moves the EV's share elsewhere: modification 1 releases it.
  await w.vtn.vtn.modifyEvent('AGG1.tso_E1.GW1', { signals: [setpoint(bat, -2000, 120_000), release(ev, 120_000)], modificationReason: 'closed-loop re-dispatch' });
  await answered('AGG1.tso_E1.GW1', 1);
  await waitFor('event 1 ended on the gateway', () => w.audit.records.some((r) => r.action === 'gateway.event.end' && r.target === 'AGG1.tso_E1.GW1'), 60_000);
  assert.ok(w.clock.now() >= e1.end - 100);
  await waitFor('battery back to standby', () => battery().mode === 'standby', 30_000);

  // Some polls later, a new event from another party.
  await w.polls(3);
  await publish('AGG1.retailer_R1.GW1', 60_000, 120_000, [setpoint(bat, 2000, 120_000), setpoint(ev, 1000, 120_000)]);
  await answered('AGG1.retailer_R1.GW1');
  await waitFor('battery charging for event 2', () => battery().mode === 'charging', 60_000);
  assert.ok(w.audit.records.some((r) => r.action === 'gateway.command' && (r.details as { eventID?: string } | undefined)?.eventID === 'AGG1.retailer_R1.GW1'));
  await waitFor('event 2 ended on the gateway', () => w.audit.records.some((r) => r.action === 'gateway.event.end' && r.target === 'AGG1.retailer_R1.GW1'), 60_000);
});

test('event 4 issued while event 3 is still active: both listed, each answered and acted on', async () => {
  const e3 = await publish('AGG1.tso_E3.GW1', 30_000, 120_000, [setpoint(bat, -2000, 120_000), setpoint(ev, -1000, 120_000)]);
  await answered('AGG1.tso_E3.GW1');
  await waitFor('battery discharging for event 3', () => w.clock.now() >= e3.start && battery().mode === 'discharging', 60_000);
  // Event 4 starts after event 3's end; the distribute lists both (3 active, 4 far).
  const start4 = e3.end + 30_000 - w.clock.now();
  await publish('AGG1.retailer_R4.GW1', start4, 90_000, [setpoint(bat, 2000, 90_000)]);
  await answered('AGG1.retailer_R4.GW1');
  await w.vtn.vtn.modifyEvent('AGG1.tso_E3.GW1', { signals: [setpoint(bat, -1500, 120_000), release(ev, 120_000)], modificationReason: 'closed-loop re-dispatch' });
  await answered('AGG1.tso_E3.GW1', 1);
  await waitFor('battery discharging 1500 W (event 3 modified)', () => battery().mode === 'discharging' && battery().discharge === 1500, 60_000);
  await waitFor('battery charging for event 4', () => battery().mode === 'charging', 90_000);
  assert.equal(await w.vtn.vtn.pendingCount('GW1'), 0);
});
