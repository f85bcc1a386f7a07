/**
 * Property maps: the status-change announcement (0x9D), Set (0x9E) and Get (0x9F) property
 * maps of every object (APPENDIX Detailed Requirements for ECHONET Device Objects, Release R,
 * Chapter 2, device object super class, "Property map description format").
 *
 * Two encodings, chosen by the number of properties N:
 *  - N < 16: N followed by the N EPC codes (list form), 1 + N bytes;
 *  - N ≥ 16: N followed by a 16-byte bitmap (17 bytes): byte i (0–15) bit b (0–7) stands for
 *    EPC 0x80 + 0x10·b + i, i.e. the low nibble picks the byte and the high nibble the bit.
 */
import { InvalidInputError } from '../../core/errors.js';
import { hex8 } from './errors.js';

/** Encodes EPCs (0x80–0xFF, duplicates ignored) in the form the standard prescribes for their count. */
export function encodePropertyMap(epcs: Iterable<number>): Uint8Array {
  const set = [...new Set(epcs)].sort((a, b) => a - b);
  for (const e of set) {
    if (!Number.isInteger(e) || e < 0x80 || e > 0xff) throw new InvalidInputError(`property map: EPC ${e} is outside 0x80–0xFF`);
  }
  if (set.length < 16) return Uint8Array.from([set.length, ...set]);
  const out = new Uint8Array(17);
  out[0] = set.length;
  for (const e of set) out[1 + (e & 0x0f)]! |= 1 << ((e >> 4) - 8);
  return out;
}

/**
 * Decodes a property map EDT to its sorted EPCs. Throws InvalidInputError naming the byte and
 * the rule: empty, length not matching the count, count not matching the bitmap, EPC below 0x80.
 */
export function decodePropertyMap(edt: Uint8Array): number[] {
  if (edt.length === 0) throw new InvalidInputError('property map: empty EDT (byte 0 must be the number of properties)');
  const n = edt[0]!;
  if (n < 16) {
    if (edt.length !== 1 + n) throw new InvalidInputError(`property map: byte 0 says ${n} properties (list form) so ${1 + n} bytes are expected, got ${edt.length}`);
    const out: number[] = [];
    for (let i = 1; i <= n; i++) {
      const e = edt[i]!;
      if (e < 0x80) throw new InvalidInputError(`property map: byte ${i} is EPC 0x${hex8(e)}, below 0x80`);
      out.push(e);
    }
    return [...new Set(out)].sort((a, b) => a - b);
  }
  if (edt.length !== 17) throw new InvalidInputError(`property map: byte 0 says ${n} properties (bitmap form) so 17 bytes are expected, got ${edt.length}`);
  const out: number[] = [];
  for (let i = 0; i < 16; i++) {
    const byte = edt[1 + i]!;
    for (let b = 0; b < 8; b++) if (byte & (1 << b)) out.push(0x80 + (b << 4) + i);
  }
  if (out.length !== n) throw new InvalidInputError(`property map: byte 0 says ${n} properties but the bitmap has ${out.length}`);
  return out.sort((a, b) => a - b);
}
