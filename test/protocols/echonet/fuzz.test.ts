/**
 * Property-based tests (fast-check) of the decoder: random and mutated frames never make an
 * exception escape the safe entry point, never hang, and every valid frame round-trips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeFrame, encodeFrame, safeDecodeFrame, type Frame } from '../../../src/protocols/echonet/frame.js';
import { Esv, hasTwoLists } from '../../../src/protocols/echonet/esv.js';
import { FrameError } from '../../../src/protocols/echonet/errors.js';
import { decodePropertyMap } from '../../../src/protocols/echonet/property-map.js';
import { KNOWN_CLASSES } from '../../../src/protocols/echonet/objects/index.js';
import { EchonetNode } from '../../../src/protocols/echonet/node.js';
import { EchonetController } from '../../../src/protocols/echonet/controller.js';
import { eoj } from '../../../src/protocols/echonet/eoj.js';
import { RawPeer, settle, testBattery } from './fixtures.js';
import type { Eoj } from '../../../src/protocols/echonet/eoj.js';

const esvs = Object.values(Esv);
const property = fc.record({ epc: fc.integer({ min: 0, max: 255 }), edt: fc.uint8Array({ maxLength: 12 }) });
const frameArb: fc.Arbitrary<Frame> = fc
  .record({
    tid: fc.integer({ min: 0, max: 0xffff }),
    seoj: fc.integer({ min: 0, max: 0xffffff }),
    deoj: fc.integer({ min: 0, max: 0xffffff }),
    esv: fc.constantFrom(...esvs),
    properties: fc.array(property, { maxLength: 8 }),
    getProperties: fc.array(property, { maxLength: 8 }),
  })
  .map((r) => {
    const f: Frame = { tid: r.tid, seoj: r.seoj as Eoj, deoj: r.deoj as Eoj, esv: r.esv, properties: r.properties };
    if (hasTwoLists(r.esv)) f.getProperties = r.getProperties;
    return f;
  });

/**
 * Decoding within a time bound (a hang guard): the decoder is linear and takes microseconds, but
 * a loaded shared machine can pause a process for tens of ms, so the bound is 1 s per frame.
 */
function decodeTimed(buf: Uint8Array): ReturnType<typeof safeDecodeFrame> {
  const t = process.hrtime.bigint();
  const r = safeDecodeFrame(buf);
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  assert.ok(ms < 1000, `decode took ${ms} ms`);
  return r;
}

test('random bytes: safeDecodeFrame never throws and errors name a byte inside the datagram', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (buf) => {
      const r = decodeTimed(buf);
      if (!r.ok) {
        assert.ok(r.error instanceof FrameError);
        assert.ok(r.error.offset >= 0 && r.error.offset <= Math.max(buf.length, 4096));
      }
    }),
    { numRuns: 5000 },
  );
});

test('random bytes behind a valid header exercise the property-list parser', () => {
  fc.assert(
    fc.property(fc.constantFrom(...esvs), fc.uint8Array({ maxLength: 300 }), (esv, tail) => {
      const buf = Buffer.concat([Buffer.from([0x10, 0x81, 0, 1, 5, 0xff, 1, 2, 0x7d, 1, esv]), tail]);
      decodeTimed(buf);
    }),
    { numRuns: 5000 },
  );
});

test('valid frames round-trip exactly', () => {
  fc.assert(
    fc.property(frameArb, (f) => {
      const bytes = encodeFrame(f);
      const back = decodeFrame(bytes);
      assert.deepEqual(encodeFrame(back), bytes);
    }),
    { numRuns: 3000 },
  );
});

test('mutated valid frames (flipped, dropped, inserted bytes) never throw out of the safe decoder', () => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('drop' as const), at: fc.nat(), value: fc.constant(0) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), value: fc.constant(0) }),
  );
  fc.assert(
    fc.property(frameArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), (f, muts) => {
      let b = [...encodeFrame(f)];
      for (const m of muts) {
        const at = b.length === 0 ? 0 : m.at % b.length;
        if (m.kind === 'flip' && b.length > 0) b[at] = m.value;
        else if (m.kind === 'drop') b.splice(at, 1);
        else if (m.kind === 'insert') b.splice(at, 0, m.value);
        else b = b.slice(0, at);
      }
      const r = decodeTimed(Uint8Array.from(b));
      if (r.ok) assert.doesNotThrow(() => encodeFrame(r.frame));
    }),
    { numRuns: 5000 },
  );
});

test('property codecs and maps reject random EDTs with an error, never a crash', () => {
  const defs = KNOWN_CLASSES.flatMap((c) => [...c.byEpc.values()]);
  fc.assert(
    fc.property(fc.constantFrom(...defs), fc.uint8Array({ maxLength: 40 }), (def, edt) => {
      try {
        const v = def.codec.decode(edt);
        def.codec.encode(v as never);
      } catch (e) {
        assert.ok(e instanceof Error && typeof (e as { code?: unknown }).code === 'string', `${def.name}: ${String(e)}`);
      }
      try {
        decodePropertyMap(edt);
      } catch (e) {
        assert.ok(e instanceof Error);
      }
    }),
    { numRuns: 5000 },
  );
});

test('a live node fed thousands of random and mutated datagrams over UDP keeps serving', async () => {
  const node = await EchonetNode.start({ address: '127.3.7.2', objects: [testBattery(1, 42)], identity: { makerCode: 1 }, perSourceRate: 100_000 });
  const peer = await RawPeer.open('127.3.7.3');
  const controller = await EchonetController.start({ address: '127.3.7.4', timeoutMs: 3000 });
  try {
    const samples = fc.sample(fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      frameArb.map((f) => Uint8Array.from(encodeFrame({ ...f, deoj: eoj(0x027d, 1) }))),
      fc.tuple(frameArb, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([f, at, v]) => {
        const b = Uint8Array.from(encodeFrame({ ...f, deoj: eoj(0x027d, 1) }));
        b[at % b.length] = v;
        return b;
      }),
    ), { numRuns: 3000, seed: 42 });
    for (let i = 0; i < samples.length; i++) {
      peer.sock.send(samples[i]!, 3610, '127.3.7.2');
      if (i % 100 === 99) await settle(5);
    }
    await settle(300);
    assert.ok(node.stats.received > 1000, `received ${node.stats.received}`);
    const r = await controller.getProperties('127.3.7.2', eoj(0x027d, 1), [0xe4, 0xda]);
    assert.equal(r[0]!.ok, true);
    assert.ok(node.security.total() > 0);
  } finally {
    await controller.close();
    await peer.close();
    await node.close();
  }
});
