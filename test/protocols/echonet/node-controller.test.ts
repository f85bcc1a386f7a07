/**
 * Node and controller over real UDP sockets on loopback: each node owns UDP 3610 of its own
 * 127.3.1.x address (unicast; multicast is exercised in the namespace interop test).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { EchonetNode } from '../../../src/protocols/echonet/node.js';
import { EchonetController, describeProperty } from '../../../src/protocols/echonet/controller.js';
import { eoj, NODE_PROFILE_EOJ } from '../../../src/protocols/echonet/eoj.js';
import { Esv } from '../../../src/protocols/echonet/esv.js';
import { decodeFrame, encodeFrame } from '../../../src/protocols/echonet/frame.js';
import { StorageBattery } from '../../../src/protocols/echonet/objects/index.js';
import { EchonetTimeoutError } from '../../../src/protocols/echonet/errors.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { ManualClock, scaledClock } from '../../../src/core/clock.js';
import { RawPeer, settle, testBattery } from './fixtures.js';

const CTRL = '127.3.1.1';
const NODE = '127.3.1.2';
const B1 = eoj(0x027d, 1);
const B2 = eoj(0x027d, 2);

let node: EchonetNode;
let controller: EchonetController;
const audit = new MemoryAuditSink();
const b1 = testBattery(1, 40);
const b2 = testBattery(2, 80);

before(async () => {
  controller = await EchonetController.start({ address: CTRL, timeoutMs: 2000, retries: 1 });
  node = await EchonetNode.start({
    address: NODE, objects: [b1, b2], audit, peers: [{ address: CTRL }],
    identity: { makerCode: 0xfffffe, productCode: 'ERAB-TEST', productionNumber: 'N0001' },
  });
});
after(async () => {
  await controller.close();
  await node.close();
});

test('discovery by address reads the instance list, identity, maps and release', async () => {
  const [n] = await controller.discover({ addresses: [NODE] });
  assert.ok(n);
  assert.deepEqual(n.instances, [B1, B2]);
  assert.equal(n.identity.makerCode, 0xfffffe);
  assert.equal(n.identity.productCode, 'ERAB-TEST');
  assert.equal(n.identity.productionNumber, 'N0001');
  assert.match(n.identity.identificationNumber!, /^FEFFFFFE/);
  assert.equal(n.version, '1.14');
  assert.equal(n.releases.get(B1), 'R');
  assert.ok(n.maps.get(B1)!.set.includes(0xda));
  assert.ok(n.maps.get(B2)!.get.includes(0xf5), 'maker-specific EPC listed in the Get map');
});

test('Get reads typed values from each of several instances', async () => {
  const r1 = await controller.getProperties(NODE, B1, [0xe4, 0xd3]);
  const r2 = await controller.getProperties(NODE, B2, [0xe4]);
  assert.equal(StorageBattery.props.remainingCapacityPercent.codec.decode(r1[0]!.edt), 40);
  assert.equal(StorageBattery.props.instantaneousChargeDischargePower.codec.decode(r1[1]!.edt), 0);
  assert.equal(r2[0]!.edt[0], 80);
});

test('a maker-specific EPC (0xF5) is carried as raw bytes', async () => {
  const [p] = await controller.getProperties(NODE, B1, [0xf5]);
  assert.deepEqual([...p!.edt], [0xde, 0xad]);
  assert.deepEqual(describeProperty(0x027d, 0xf5, p!.edt), { name: '0xF5', value: 'DEAD' });
});

test('SetC is applied, answered with Set_Res and announced by INF', async () => {
  const inf = once(controller, 'inf');
  const r = await controller.setProperties(NODE, B1, [{ epc: 0xda, edt: Uint8Array.of(0x42) }]);
  assert.deepEqual(r.map((x) => [x.epc, x.ok, x.edt.length]), [[0xda, true, 0]]);
  assert.equal(b1.get(StorageBattery.props.operationMode), 'charging');
  const [ev] = await inf;
  assert.equal(ev.seoj, B1);
  assert.deepEqual(ev.properties.map((p: { epc: number; edt: Uint8Array }) => [p.epc, p.edt[0]]), [[0xda, 0x42]]);
});

test('SetC out of range → SetC_SNA naming the property, value not applied, security event logged', async () => {
  const before = audit.records.length;
  const r = await controller.setProperties(NODE, B1, [
    { epc: 0xeb, edt: Uint8Array.of(0x00, 0x00, 0x07, 0xd0) },
    { epc: 0xda, edt: Uint8Array.of(0x77) },
  ]);
  assert.deepEqual(r.map((x) => [x.epc, x.ok]), [[0xeb, true], [0xda, false]]);
  assert.deepEqual([...r[1]!.edt], [0x77], 'the refused EDT is echoed');
  assert.equal(b1.get(StorageBattery.props.operationMode), 'charging');
  assert.equal(b1.get(StorageBattery.props.chargingPowerSetting), 2000);
  const rec = audit.records.slice(before).find((x) => x.action === 'echonet.value_out_of_range');
  assert.ok(rec, 'security event recorded');
  assert.match(rec.reason!, /EPC 0xDA/);
});

test('Get with an unknown property → Get_SNA with the known values and PDC 0 for the rest', async () => {
  const r = await controller.request(NODE, B2, Esv.Get, [{ epc: 0xe4, edt: new Uint8Array(0) }, { epc: 0xf0, edt: new Uint8Array(0) }]);
  assert.equal(r.esv, Esv.Get_SNA);
  assert.equal(r.refused, true);
  assert.deepEqual(r.properties.map((x) => [x.epc, x.ok, x.edt.length]), [[0xe4, true, 1], [0xf0, false, 0]]);
});

test('SetGet sets then reads in one exchange; a refused part makes it SetGet_SNA', async () => {
  const ok = await controller.setGet(NODE, B2, [{ epc: 0xda, edt: Uint8Array.of(0x43) }], [0xda, 0xe4]);
  assert.deepEqual(ok.set.map((x) => x.ok), [true]);
  assert.deepEqual(ok.get.map((x) => [x.epc, x.edt[0]]), [[0xda, 0x43], [0xe4, 80]]);
  const bad = await controller.request(NODE, B2, Esv.SetGet, [{ epc: 0xe4, edt: Uint8Array.of(1) }], [{ epc: 0xe4, edt: new Uint8Array(0) }]);
  assert.equal(bad.esv, Esv.SetGet_SNA);
  assert.deepEqual(bad.properties.map((x) => x.ok), [false]);
  assert.deepEqual(bad.getProperties!.map((x) => x.ok), [true]);
});

test('INF_REQ is answered with INF carrying the values', async () => {
  const r = await controller.requestNotification(NODE, B1, [0x80, 0xda]);
  assert.deepEqual(r.map((x) => [x.epc, x.edt[0]]), [[0x80, 0x30], [0xda, 0x42]]);
});

test('raw peers: SetI, SetC with OPC=0, INFC, instance 0, unknown object, malformed frames', async () => {
  const peer = await RawPeer.open('127.3.1.3', 3610);
  try {
    const refusedBefore = node.security.total();
    // SetI accepted: no response at all.
    await peer.send('1081 0101 05FF01 027D01 60 01 DA01 44', NODE);
    // SetI refused → SetI_SNA.
    await peer.send('1081 0102 05FF01 027D01 60 01 DA01 99', NODE);
    // SetC with OPC=0 → SetC_SNA with OPC 0 (answered, never fatal).
    await peer.send('1081 0103 05FF01 027D01 61 00', NODE);
    // INFC → INFC_Res with PDC 0.
    await peer.send('1081 0104 05FF01 027D01 74 01 8001 30', NODE);
    // DEOJ instance 0x00 → every battery instance answers.
    await peer.send('1081 0105 05FF01 027D00 62 01 E400', NODE);
    // Unknown object and malformed frames → silence.
    await peer.send('1081 0106 05FF01 013001 62 01 8000', NODE);
    await peer.send('1081 0107 05FF01 027D01 62 02 E400', NODE);
    await peer.send('1082 0108 DEADBEEF', NODE);
    await peer.send('ffff', NODE);
    await peer.waitFor(5);
    await settle();
    const frames = peer.received.map((r) => decodeFrame(r.msg));
    const byTid = (t: number) => frames.filter((f) => f.tid === t);
    assert.equal(byTid(0x0101).length, 0, 'accepted SetI has no response');
    assert.equal(b1.get(StorageBattery.props.operationMode), 'standby');
    assert.equal(byTid(0x0102)[0]?.esv, Esv.SetI_SNA);
    assert.equal(byTid(0x0103)[0]?.esv, Esv.SetC_SNA);
    assert.equal(byTid(0x0103)[0]?.properties.length, 0);
    assert.equal(byTid(0x0104)[0]?.esv, Esv.INFC_Res);
    assert.deepEqual(byTid(0x0105).map((f) => f.seoj).sort(), [B1, B2]);
    assert.equal(byTid(0x0106).length + byTid(0x0107).length + byTid(0x0108).length, 0, 'silence for unknown object and malformed frames');
    assert.equal(frames.length, 5);
    assert.ok(node.security.counts.get('malformed_frame')! >= 3);
    assert.ok(node.security.counts.get('unknown_object')! >= 1);
    assert.ok(node.security.total() > refusedBefore);
  } finally {
    await peer.close();
  }
});

test('a flood of garbage and hostile frames does not stop the node, and audit logging is rate-limited', async () => {
  const peer = await RawPeer.open('127.3.1.4');
  try {
    const auditBefore = audit.records.length;
    const receivedBefore = node.stats.received;
    const responsesBefore = node.stats.responses;
    const malformedBefore = node.security.counts.get('malformed_frame') ?? 0;
    const rateBefore = node.security.counts.get('rate_limited') ?? 0;
    const junk = [Buffer.alloc(0), Buffer.alloc(9000, 0x10), Buffer.from('1081000105ff01027d0162ff', 'hex'), Buffer.from('108100', 'hex')];
    for (let i = 0; i < 3000; i++) {
      const j = junk[i % junk.length]!;
      peer.sock.send(j, 3610, NODE);
      if (i % 200 === 0) await settle(5);
    }
    await settle(400);
    const counted = (node.security.counts.get('malformed_frame') ?? 0) - malformedBefore + (node.security.counts.get('rate_limited') ?? 0) - rateBefore;
    const arrived = node.stats.received - receivedBefore;
    assert.ok(arrived > 100, `datagrams that reached the node: ${arrived}`);
    assert.equal(counted, arrived, 'every datagram that arrived was refused and counted');
    assert.equal(node.stats.responses, responsesBefore, 'no response to garbage');
    assert.ok(audit.records.length - auditBefore <= 21, `audit records bounded, got ${audit.records.length - auditBefore}`);
    // The node still serves a well-behaved controller.
    const r = await controller.getProperties(NODE, B2, [0xe4]);
    assert.equal(r[0]!.edt[0], 80);
  } finally {
    await peer.close();
  }
});

test('replies are matched by TID and address, whatever their source port', async () => {
  const peer = await RawPeer.open('127.3.1.5', 3610);
  const other = await RawPeer.open('127.3.1.5'); // same host, another port, answers
  try {
    const pending = controller.getProperties('127.3.1.5', B1, [0xe4]);
    await peer.waitFor(1);
    const req = decodeFrame(peer.received[0]!.msg);
    // A reply with the wrong TID is ignored (and counted), the right one from another port accepted.
    await other.send(encodeFrame({ tid: (req.tid + 7) & 0xffff, seoj: B1, deoj: req.seoj, esv: Esv.Get_Res, properties: [{ epc: 0xe4, edt: Uint8Array.of(99) }] }), CTRL);
    await other.send(encodeFrame({ tid: req.tid, seoj: B1, deoj: req.seoj, esv: Esv.Get_Res, properties: [{ epc: 0xe4, edt: Uint8Array.of(12) }] }), CTRL);
    const r = await pending;
    assert.equal(r[0]!.edt[0], 12);
    assert.ok((controller.security.counts.get('unmatched_response') ?? 0) >= 1);
  } finally {
    await peer.close();
    await other.close();
  }
});

test('timeouts and retries run on the injected clock; one request per node at a time, paced', async () => {
  const clock = new ManualClock();
  const c = await EchonetController.start({ address: '127.3.1.6', clock, timeoutMs: 20_000, retries: 2, perNodeRate: 5 });
  const silent = await RawPeer.open('127.3.1.7', 3610);
  try {
    const first = c.getProperties('127.3.1.7', B1, [0xe4]);
    const second = c.getProperties('127.3.1.7', B1, [0xd3]);
    const firstErr = first.catch((e: unknown) => e);
    const secondErr = second.catch((e: unknown) => e);
    await silent.waitFor(1);
    await settle(100);
    assert.equal(silent.received.length, 1, 'second request waits for the first');
    clock.advance(19_999);
    await settle(100);
    assert.equal(silent.received.length, 1);
    clock.advance(1);
    await silent.waitFor(2);
    clock.advance(20_000);
    await silent.waitFor(3);
    const tids = silent.received.map((r) => decodeFrame(r.msg).tid);
    assert.equal(new Set(tids).size, 1, 'retries reuse the TID');
    clock.advance(20_000);
    const e = await firstErr;
    assert.ok(e instanceof EchonetTimeoutError, String(e));
    assert.match((e as Error).message, /no response after 3 attempt/);
    // The second request was paced (5/s → 200 ms) after the first and now goes out.
    clock.advance(200);
    await silent.waitFor(4);
    clock.advance(60_000);
    await settle(50);
    clock.advance(60_000);
    assert.ok((await secondErr) instanceof EchonetTimeoutError);
  } finally {
    await c.close();
    await silent.close();
  }
});

test('on a sped-up clock (×60) the response wait is still real time: a device answering after 300 ms is heard', async () => {
  const now = Date.now();
  const clock = scaledClock({ speed: 60, realAnchor: now, simAnchor: now });
  // 1 s per attempt, 1 retry: at ×60 in simulated time that was 17 ms per attempt, 33 ms in all.
  const c = await EchonetController.start({ address: '127.3.1.14', clock, timeoutMs: 1000, retries: 1 });
  const slow = await RawPeer.open('127.3.1.15', 3610);
  try {
    const pending = c.getProperties('127.3.1.15', B1, [0xe4]);
    await slow.waitFor(1);
    await settle(300);
    assert.equal(slow.received.length, 1, 'no resend within the real 1 s wait');
    const req = decodeFrame(slow.received[0]!.msg);
    await slow.send(encodeFrame({ tid: req.tid, seoj: B1, deoj: req.seoj, esv: Esv.Get_Res, properties: [{ epc: 0xe4, edt: Uint8Array.of(42) }] }), '127.3.1.14');
    assert.equal((await pending)[0]!.edt[0], 42);
    // A silent device still times out, after the real waits: 2 attempts of 1 s.
    const t0 = Date.now();
    const silentErr = await c.getProperties('127.3.1.15', B1, [0xd3]).catch((e: unknown) => e);
    assert.ok(silentErr instanceof EchonetTimeoutError, String(silentErr));
    assert.ok(Date.now() - t0 >= 1900, `gave up after ${Date.now() - t0} ms`);
  } finally {
    await c.close();
    await slow.close();
  }
});

test('timeouts beyond the standard 20 s are refused at construction', async () => {
  await assert.rejects(EchonetController.start({ address: '127.3.1.8', timeoutMs: 30_000 }), /outside 1–20000/);
});

test('passive discovery from an INF, and detection of a changed identity at the same address', async () => {
  const c = await EchonetController.start({ address: '127.3.1.9', timeoutMs: 2000 });
  let n1: EchonetNode | undefined;
  let n2: EchonetNode | undefined;
  try {
    const found = once(c, 'node');
    n1 = await EchonetNode.start({ address: '127.3.1.10', objects: [testBattery(1)], peers: [{ address: '127.3.1.9' }], identity: { makerCode: 0xfffffe, productionNumber: 'OLD-0001' } });
    const [info] = await found;
    assert.equal(info.address, '127.3.1.10');
    assert.equal(info.identity.productionNumber, 'OLD-0001');
    await n1.close();
    const changed = once(c, 'identityChanged');
    n2 = await EchonetNode.start({ address: '127.3.1.10', objects: [testBattery(1)], peers: [{ address: '127.3.1.9' }], identity: { makerCode: 0xfffffd, productionNumber: 'NEW-0002' } });
    await c.identify('127.3.1.10');
    const [ev] = await changed;
    assert.equal(ev.before.productionNumber, 'OLD-0001');
    assert.equal(ev.after.productionNumber, 'NEW-0002');
    assert.equal(ev.after.makerCode, 0xfffffd);
  } finally {
    await n1?.close();
    await n2?.close();
    await c.close();
  }
});

test('nodes on ephemeral ports work when configured to reply to the source port', async () => {
  const n = await EchonetNode.start({ address: '127.3.1.11', port: 0, replyPort: 'source', objects: [testBattery(1, 33)], identity: { makerCode: 1 } });
  const c = await EchonetController.start({ address: '127.3.1.11', port: 0, nodePort: n.port, timeoutMs: 2000 });
  try {
    const r = await c.getProperties('127.3.1.11', NODE_PROFILE_EOJ, [0xd6]);
    assert.equal(r[0]!.edt[0], 1);
    const s = await c.getProperties('127.3.1.11', B1, [0xe4]);
    assert.equal(s[0]!.edt[0], 33);
  } finally {
    await c.close();
    await n.close();
  }
});

test('the controller is a node too: it answers Get of its node profile and its 05FF01 object', async () => {
  const peer = await RawPeer.open('127.3.1.12', 3610);
  try {
    await peer.send('1081 0201 0EF001 0EF001 62 02 D600 8A00', CTRL);
    await peer.send('1081 0202 0EF001 05FF01 62 01 8000', CTRL);
    await peer.send('1081 0203 0EF001 027D01 62 01 8000', CTRL); // not hosted: silence
    await peer.waitFor(2);
    await settle();
    const frames = peer.received.map((r) => decodeFrame(r.msg));
    assert.equal(frames.length, 2);
    const np = frames.find((f) => f.tid === 0x0201)!;
    assert.equal(np.esv, Esv.Get_Res);
    assert.deepEqual([...np.properties[0]!.edt], [1, 0x05, 0xff, 0x01]);
    assert.deepEqual([...np.properties[1]!.edt], [0xff, 0xff, 0xfe]);
    assert.deepEqual([...frames.find((f) => f.tid === 0x0202)!.properties[0]!.edt], [0x30]);
  } finally {
    await peer.close();
  }
});

test('closing the controller fails outstanding requests at once', async () => {
  const c = await EchonetController.start({ address: '127.3.1.13', clock: new ManualClock(), timeoutMs: 20_000 });
  const silent = await RawPeer.open('127.3.1.14', 3610);
  try {
    const pending = c.getProperties('127.3.1.14', B1, [0xe4]);
    await silent.waitFor(1);
    await c.close();
    await assert.rejects(pending, /controller closed before a response/);
  } finally {
    await silent.close();
  }
});
