/** Property map encodings (Appendix, superclass "property map description format"). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePropertyMap, encodePropertyMap } from '../../../src/protocols/echonet/property-map.js';

test('fewer than 16 properties use the list form: count then EPCs', () => {
  const edt = encodePropertyMap([0x80, 0xda, 0x81, 0x88]);
  assert.deepEqual([...edt], [4, 0x80, 0x81, 0x88, 0xda]);
  assert.deepEqual(decodePropertyMap(edt), [0x80, 0x81, 0x88, 0xda]);
});

test('16 or more properties use the 17-byte bitmap form', () => {
  // 0x80..0x8F: low nibble selects byte 1..16, bit 0 (high nibble 8) in each.
  const epcs = Array.from({ length: 16 }, (_, i) => 0x80 + i);
  const edt = encodePropertyMap(epcs);
  assert.equal(edt.length, 17);
  assert.equal(edt[0], 16);
  assert.deepEqual([...edt.subarray(1)], Array(16).fill(0x01));
  assert.deepEqual(decodePropertyMap(edt), epcs);
});

test('worked bitmap example: 0x80, 0x9F, 0xE0, 0xFF and 14 others', () => {
  const epcs = [0x80, 0x9f, 0xe0, 0xff, 0x81, 0x82, 0x83, 0x88, 0x8a, 0x8c, 0x8d, 0x9d, 0x9e, 0xd3, 0xda, 0xe4, 0xeb, 0xec];
  const edt = encodePropertyMap(epcs);
  assert.equal(edt[0], epcs.length);
  // 0x80 -> byte 1 bit 0; 0xE0 -> byte 1 bit 6
  assert.equal(edt[1]! & 0x41, 0x41);
  // 0x9F -> byte 16 bit 1; 0xFF -> byte 16 bit 7
  assert.equal(edt[16], 0x82);
  // 0xDA -> byte 11 bit 5
  assert.equal(edt[11]! & 0x20, 0x20);
  assert.deepEqual(decodePropertyMap(edt), [...epcs].sort((a, b) => a - b));
});

test('maps that contradict themselves are rejected with the byte and the rule', () => {
  assert.throws(() => decodePropertyMap(new Uint8Array(0)), /empty/);
  assert.throws(() => decodePropertyMap(Uint8Array.of(3, 0x80, 0x81)), /3 properties \(list form\) so 4 bytes/);
  assert.throws(() => decodePropertyMap(Uint8Array.of(1, 0x10)), /byte 1 is EPC 0x10, below 0x80/);
  assert.throws(() => decodePropertyMap(Uint8Array.of(16, 1, 2)), /17 bytes are expected, got 3/);
  const edt = encodePropertyMap(Array.from({ length: 16 }, (_, i) => 0x80 + i));
  edt[0] = 17;
  assert.throws(() => decodePropertyMap(edt), /says 17 properties but the bitmap has 16/);
  assert.throws(() => encodePropertyMap([0x10]), /outside 0x80/);
});

test('every subset size 0..128 round-trips', () => {
  const all = Array.from({ length: 128 }, (_, i) => 0x80 + i);
  for (let n = 0; n <= 128; n++) {
    const pick = all.filter((_, i) => (i * 37) % 128 < n);
    assert.deepEqual(decodePropertyMap(encodePropertyMap(pick)), pick);
  }
});
