/**
 * Protected R5 over real UDP on loopback (127.17.4.x): the gateway pins each admitted device to
 * its address and EOJ. A clone announcing the same identity from another source, and a device
 * INF from a spoofed source, are ignored and recorded as security events; commands keep going to
 * the pinned device.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, systemClock } from '../../../src/core/clock.js';
import { watts } from '../../../src/core/units.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { EchonetController } from '../../../src/protocols/echonet/controller.js';
import { EchonetNode } from '../../../src/protocols/echonet/node.js';
import { eoj } from '../../../src/protocols/echonet/eoj.js';
import { Esv } from '../../../src/protocols/echonet/esv.js';
import { encodeFrame } from '../../../src/protocols/echonet/frame.js';
import { StorageBattery } from '../../../src/protocols/echonet/objects/index.js';
import { BatterySimulator } from '../../../src/roles/device/battery.js';
import { AdmissionRegistry, MemoryAdmissionStore } from '../../../src/roles/gateway/admission.js';
import { EchonetSite } from '../../../src/roles/gateway/echonet-site.js';
import { waitFor } from '../../kit/index.js';
import { RawPeer } from '../../protocols/echonet/fixtures.js';

const GW = '127.17.4.1';
const REAL = '127.17.4.2';
const CLONE = '127.17.4.3';
const identity = { makerCode: 0xfffffe, productCode: 'ERAB-BAT', productionNumber: 'R5PIN0001' };

test('a clone of an admitted battery and a spoofed INF are ignored and audited; commands reach the pinned device', async () => {
  const real = new BatterySimulator({ capacityWh: 9800, maxChargeW: 3000, maxDischargeW: 3000, initialSocPercent: 60 }, identity);
  const realNode = await EchonetNode.start({ address: REAL, objects: [real.object], identity, multicast: false });
  const controller = await EchonetController.start({ address: GW, multicast: false, timeoutMs: 2000, retries: 1 });
  const audit = new MemoryAuditSink();
  const admission = new AdmissionRegistry(new MemoryAdmissionStore(), new ManualClock(), audit);
  const site = new EchonetSite({ controller, admission, clock: systemClock, addresses: [REAL], audit });
  const clone = new BatterySimulator({ capacityWh: 9800, maxChargeW: 3000, maxDischargeW: 3000, initialSocPercent: 10 }, identity);
  let cloneNode: EchonetNode | undefined;
  const raw = await RawPeer.open(CLONE);
  try {
    await site.discover();
    const [rec] = admission.list();
    assert.ok(rec);
    admission.admit(rec.deviceId, rec.revision, 'op:test');

    // The clone announces itself (instance list INF) to the gateway, which identifies it passively.
    cloneNode = await EchonetNode.start({ address: CLONE, objects: [clone.object], identity, multicast: false, peers: [{ address: GW }] });
    const changed = await waitFor(() => audit.records.find((r) => r.action === 'gateway.security.source_changed'), { timeoutMs: 5000, what: 'source_changed security event' });
    assert.equal(changed.outcome, 'refused');
    assert.deepEqual(changed.details, { pinned: REAL, observed: CLONE, eoj: '027D01' });
    assert.equal(admission.get(rec.deviceId)!.address, REAL, 'the pin stays');
    assert.equal(admission.get(rec.deviceId)!.state, 'admitted');

    // A device INF for the admitted EOJ from the spoofed source: ignored, recorded once.
    const inf = encodeFrame({ tid: 7, seoj: eoj(0x027d, 1), deoj: eoj(0x05ff, 1), esv: Esv.INF, properties: [{ epc: 0xda, edt: Uint8Array.of(0x43) }] });
    await raw.send(inf, GW);
    await raw.send(inf, GW);
    const spoofed = await waitFor(() => audit.records.find((r) => r.action === 'gateway.security.spoofed_inf'), { timeoutMs: 3000, what: 'spoofed_inf security event' });
    assert.equal(spoofed.target, rec.deviceId);
    assert.deepEqual(spoofed.details, { address: CLONE, eoj: '027D01', pinned: REAL });
    assert.equal(audit.records.filter((r) => r.action === 'gateway.security.spoofed_inf').length, 1, 'a repeat within the window is not logged again');
    // An INF for an EOJ no device is pinned to: unexpected.
    await raw.send(encodeFrame({ tid: 8, seoj: eoj(0x0130, 1), deoj: eoj(0x05ff, 1), esv: Esv.INF, properties: [{ epc: 0x80, edt: Uint8Array.of(0x30) }] }), GW);
    await waitFor(() => audit.records.find((r) => r.action === 'gateway.security.unexpected_inf'), { timeoutMs: 3000, what: 'unexpected_inf security event' });

    // Commands still go to the pinned battery, never to the clone.
    await site.poll();
    assert.equal(site.reading(rec.deviceId)?.socPercent, 60, 'readings come from the pinned device');
    await site.execute({ deviceId: rec.deviceId, class: 'battery', action: 'discharge', powerW: watts(1000) }, undefined);
    assert.equal(real.object.get(StorageBattery.props.operationMode), 'discharging');
    assert.equal(clone.object.get(StorageBattery.props.operationMode), 'standby');
  } finally {
    await raw.close();
    await cloneNode?.close();
    await controller.close();
    await realNode.close();
  }
});
