/**
 * Conformance of the frame codec with ECHONET Lite Specification Ver.1.14 Part 2 Chapter 3,
 * built from the frame rules and our own worked examples (hex written by hand from the tables).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFrame, encodeFrame, safeDecodeFrame, emptyProperty, decodeArbitraryFrame, type Frame } from '../../../src/protocols/echonet/frame.js';
import { Esv, esvName, responseCodesFor } from '../../../src/protocols/echonet/esv.js';
import { eoj, formatEoj, parseEoj, NODE_PROFILE_EOJ } from '../../../src/protocols/echonet/eoj.js';
import { FrameError } from '../../../src/protocols/echonet/errors.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const CONTROLLER = eoj(0x05ff, 1);
const BATTERY = eoj(0x027d, 1);

test('worked example: Get of the node profile instance list S (0xD6) decodes field by field', () => {
  // EHD1 EHD2 TID  SEOJ   DEOJ   ESV OPC EPC PDC
  const f = decodeFrame(hex('10 81 0001 05FF01 0EF001 62 01 D6 00'));
  assert.equal(f.tid, 1);
  assert.equal(formatEoj(f.seoj), '05FF01');
  assert.equal(f.deoj, NODE_PROFILE_EOJ);
  assert.equal(f.esv, Esv.Get);
  assert.deepEqual(f.properties.map((p) => [p.epc, p.edt.length]), [[0xd6, 0]]);
});

test('worked example: Get_Res with two properties and multi-byte EDTs', () => {
  const f = decodeFrame(hex('10 81 1234 027D01 05FF01 72 02 E4 01 32 D3 04 FFFFF830'));
  assert.equal(f.tid, 0x1234);
  assert.equal(f.esv, Esv.Get_Res);
  assert.equal(f.properties[0]!.edt[0], 50);
  assert.deepEqual([...f.properties[1]!.edt], [0xff, 0xff, 0xf8, 0x30]);
});

test('every ESV round-trips through encode and decode', () => {
  for (const [name, code] of Object.entries(Esv)) {
    const frame: Frame = { tid: 0xbeef, seoj: CONTROLLER, deoj: BATTERY, esv: code, properties: [{ epc: 0x80, edt: Uint8Array.of(0x30) }] };
    if (code === Esv.SetGet || code === Esv.SetGet_Res || code === Esv.SetGet_SNA) frame.getProperties = [emptyProperty(0xe4), emptyProperty(0xd3)];
    const bytes = encodeFrame(frame);
    const back = decodeFrame(bytes);
    assert.equal(esvName(back.esv), name);
    assert.deepEqual(back, { ...frame, properties: frame.properties.map((p) => ({ epc: p.epc, edt: Buffer.from(p.edt) })), ...(frame.getProperties ? { getProperties: frame.getProperties.map((p) => ({ epc: p.epc, edt: Buffer.from(p.edt) })) } : {}) });
  }
});

test('SetGet carries two lists: OPCSet then OPCGet (Part 2 Figure 3-3)', () => {
  const bytes = encodeFrame({
    tid: 2, seoj: CONTROLLER, deoj: BATTERY, esv: Esv.SetGet,
    properties: [{ epc: 0xda, edt: Uint8Array.of(0x42) }],
    getProperties: [emptyProperty(0xe4)],
  });
  assert.equal(bytes.toString('hex').toUpperCase(), '1081000205FF01027D016E01DA014201E400');
  const f = decodeFrame(bytes);
  assert.equal(f.getProperties?.[0]?.epc, 0xe4);
});

test('SetGet_Res with an empty get list still has its OPCGet byte', () => {
  const f = decodeFrame(hex('10 81 0003 027D01 05FF01 7E 01 DA 00 00'));
  assert.deepEqual(f.getProperties, []);
  assert.throws(() => decodeFrame(hex('10 81 0003 027D01 05FF01 7E 01 DA 00')), (e: FrameError) => e.offset === 14 && /OPCGet/.test(e.message));
});

test('OPC 0 is syntactically valid (semantic refusal is up to the node)', () => {
  const f = decodeFrame(hex('10 81 0004 05FF01 027D01 61 00'));
  assert.equal(f.properties.length, 0);
});

test('malformed frames are rejected with the byte and the reason', () => {
  const cases: [string, number, RegExp][] = [
    ['', 0, /empty/],
    ['11 81 0001 05FF01 0EF001 62 01 D6 00', 0, /EHD1 is 0x11/],
    ['10 82 0001 AABBCC', 1, /arbitrary message format/],
    ['10 80 0001 05FF01 0EF001 62 01 D6 00', 1, /EHD2 is 0x80/],
    ['10 81 0001 05FF01 0EF0', 9, /truncated.*9 bytes.*needs 12/],
    ['10 81 0001 05FF01 0EF001 99 01 D6 00', 10, /ESV 0x99/],
    ['10 81 0001 05FF01 0EF001 62 02 D6 00', 14, /OPC=2 but property 2 has no EPC/],
    ['10 81 0001 05FF01 0EF001 62 01 D6', 12, /property 1 has no PDC/],
    ['10 81 0001 05FF01 0EF001 61 01 80 05 30', 13, /PDC of EPC 0x80.*is 5 but only 1/],
    ['10 81 0001 05FF01 0EF001 62 01 D6 00 FF', 14, /OPC mismatch: 1 byte/],
  ];
  for (const [h, offset, re] of cases) {
    assert.throws(() => decodeFrame(hex(h)), (e: unknown) => {
      assert.ok(e instanceof FrameError, `${h}: not a FrameError`);
      assert.equal(e.offset, offset, `${h}: ${e.message}`);
      assert.match(e.message, re);
      assert.match(e.message, new RegExp(`at byte ${offset}:`));
      return true;
    });
  }
});

test('oversize datagrams are refused before parsing', () => {
  const big = Buffer.alloc(5000, 0);
  big[0] = 0x10;
  big[1] = 0x81;
  const r = safeDecodeFrame(big);
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.error.message, /5000 bytes, more than the 4096/);
  assert.equal(safeDecodeFrame(big, { maxBytes: 10000 }).ok, false); // still fails later, but not on size
});

test('the arbitrary format (EHD2 0x82) decodes only when asked for explicitly', () => {
  const a = decodeArbitraryFrame(hex('10 82 00 07 DEADBEEF'));
  assert.equal(a.tid, 7);
  assert.equal(Buffer.from(a.edata).toString('hex'), 'deadbeef');
});

test('encode refuses fields that do not fit the format', () => {
  assert.throws(() => encodeFrame({ tid: 70000, seoj: CONTROLLER, deoj: BATTERY, esv: Esv.Get, properties: [] }), /TID 70000/);
  assert.throws(() => encodeFrame({ tid: 1, seoj: CONTROLLER, deoj: BATTERY, esv: Esv.Get, properties: [{ epc: 0x80, edt: new Uint8Array(256) }] }), /PDC allows 255/);
  assert.throws(() => encodeFrame({ tid: 1, seoj: CONTROLLER, deoj: BATTERY, esv: Esv.Get, properties: [], getProperties: [] }), /no second/);
});

test('response codes per request service (Part 2 Tables 3-9, 3-11)', () => {
  assert.deepEqual(responseCodesFor(Esv.SetI), { ok: null, sna: Esv.SetI_SNA });
  assert.deepEqual(responseCodesFor(Esv.SetC), { ok: Esv.Set_Res, sna: Esv.SetC_SNA });
  assert.deepEqual(responseCodesFor(Esv.Get), { ok: Esv.Get_Res, sna: Esv.Get_SNA });
  assert.deepEqual(responseCodesFor(Esv.INF_REQ), { ok: Esv.INF, sna: Esv.INF_SNA });
  assert.deepEqual(responseCodesFor(Esv.SetGet), { ok: Esv.SetGet_Res, sna: Esv.SetGet_SNA });
  assert.deepEqual(responseCodesFor(Esv.INFC), { ok: Esv.INFC_Res, sna: null });
});

test('EOJ helpers parse and format the standard notation', () => {
  assert.equal(parseEoj('027d02'), eoj(0x027d, 2));
  assert.equal(formatEoj(eoj(0x0130, 1)), '013001');
  assert.throws(() => parseEoj('27D01'), /six hex digits/);
});
