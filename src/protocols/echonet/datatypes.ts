/**
 * Property data types (EDT codecs) of the APPENDIX Detailed Requirements for ECHONET Device
 * Objects (Release R), Chapter 1 "data type" conventions: unsigned/signed char, short, long in
 * big-endian, enumerations of one-byte codes, fixed-length ASCII, raw byte strings.
 *
 * Every codec refuses a value outside its declared size, range or enumeration on both encode
 * and decode. Conversion to erab's units (W, Wh) happens here, at the protocol edge: a codec
 * whose unit is W decodes to `Watts`, one in Wh or 0.001 kWh decodes to `WattHours`.
 */
import { InvalidInputError } from '../../core/errors.js';
import type { WattHours, Watts } from '../../core/units.js';
import type { Eoj, EojClass } from './eoj.js';
import { hex8, hexBytes } from './errors.js';
import { decodePropertyMap, encodePropertyMap } from './property-map.js';

/** Encodes and decodes one property's EDT; both directions refuse out-of-range values. */
export interface ValueCodec<T> {
  /** The data type in words, e.g. "unsigned long 0–999999999 (W)". */
  readonly type: string;
  /** Allowed EDT sizes in bytes; `only` when just some sizes of the range are (e.g. 1 or 17). */
  readonly size: { min: number; max: number; only?: readonly number[] };
  decode(edt: Uint8Array): T;
  encode(value: T): Uint8Array;
}

function refuse(reason: string): never {
  throw new InvalidInputError(reason, { code: 'echonet_value' });
}

function checkSize(edt: Uint8Array, min: number, max: number): void {
  if (edt.length < min || edt.length > max) {
    refuse(min === max ? `EDT is ${edt.length} byte(s), the type needs ${min}` : `EDT is ${edt.length} byte(s), the type allows ${min}–${max}`);
  }
}

const INT_NAMES: Record<number, string> = { 1: 'char', 2: 'short', 3: '3-byte', 4: 'long' };

export interface IntOptions {
  min: number;
  max: number;
  /** Extra codes a device may report outside the range (e.g. 0xFFFE underflow, 0xFFFF overflow). */
  special?: readonly number[];
  unit?: string;
}

/** Unsigned big-endian integer of 1–4 bytes with an inclusive range. */
export function unsigned(bytes: 1 | 2 | 3 | 4, opts: IntOptions): ValueCodec<number> {
  const special = new Set(opts.special ?? []);
  const type = `unsigned ${INT_NAMES[bytes]} ${opts.min}–${opts.max}${opts.unit ? ` (${opts.unit})` : ''}`;
  const check = (v: number): void => {
    if (!Number.isInteger(v)) refuse(`${v} is not an integer (${type})`);
    if ((v < opts.min || v > opts.max) && !special.has(v)) refuse(`${v} is outside ${opts.min}–${opts.max}${opts.unit ? ` ${opts.unit}` : ''}`);
  };
  return {
    type,
    size: { min: bytes, max: bytes },
    decode(edt) {
      checkSize(edt, bytes, bytes);
      let v = 0;
      for (let i = 0; i < bytes; i++) v = v * 256 + edt[i]!;
      check(v);
      return v;
    },
    encode(v) {
      check(v);
      const out = new Uint8Array(bytes);
      let x = v;
      for (let i = bytes - 1; i >= 0; i--) {
        out[i] = x % 256;
        x = Math.floor(x / 256);
      }
      return out;
    },
  };
}

/** Signed (two's complement) big-endian integer of 1, 2 or 4 bytes with an inclusive range. */
export function signed(bytes: 1 | 2 | 4, opts: IntOptions): ValueCodec<number> {
  const special = new Set(opts.special ?? []);
  const type = `signed ${INT_NAMES[bytes]} ${opts.min}–${opts.max}${opts.unit ? ` (${opts.unit})` : ''}`;
  const bits = bytes * 8;
  const check = (v: number): void => {
    if (!Number.isInteger(v)) refuse(`${v} is not an integer (${type})`);
    if ((v < opts.min || v > opts.max) && !special.has(v)) refuse(`${v} is outside ${opts.min}–${opts.max}${opts.unit ? ` ${opts.unit}` : ''}`);
  };
  return {
    type,
    size: { min: bytes, max: bytes },
    decode(edt) {
      checkSize(edt, bytes, bytes);
      let v = 0;
      for (let i = 0; i < bytes; i++) v = v * 256 + edt[i]!;
      if (v >= 2 ** (bits - 1)) v -= 2 ** bits;
      check(v);
      return v;
    },
    encode(v) {
      check(v);
      let x = v < 0 ? v + 2 ** bits : v;
      const out = new Uint8Array(bytes);
      for (let i = bytes - 1; i >= 0; i--) {
        out[i] = x % 256;
        x = Math.floor(x / 256);
      }
      return out;
    },
  };
}

/** Maps a codec's value type (e.g. number → Watts) without changing the bytes. */
export function branded<T extends number>(inner: ValueCodec<number>): ValueCodec<T> {
  return inner as unknown as ValueCodec<T>;
}

/** Power in W (the standard's unit for instantaneous power) → erab `Watts`. */
export function wattsUnsigned(bytes: 2 | 4, max: number): ValueCodec<Watts> {
  return branded<Watts>(unsigned(bytes, { min: 0, max, unit: 'W' }));
}
/** Signed power in W (positive = charging / consumption, per the property's definition). */
export function wattsSigned(max: number): ValueCodec<Watts> {
  return branded<Watts>(signed(4, { min: -max, max, unit: 'W' }));
}
/** Energy in Wh → erab `WattHours`. */
export function wattHours(max = 999_999_999): ValueCodec<WattHours> {
  return branded<WattHours>(unsigned(4, { min: 0, max, unit: 'Wh' }));
}
/** Energy in 0.001 kWh (= 1 Wh, so the number is unchanged) → erab `WattHours`. */
export function milliKilowattHours(max = 999_999_999): ValueCodec<WattHours> {
  return branded<WattHours>(unsigned(4, { min: 0, max, unit: '0.001 kWh' }));
}

/** One-byte enumeration; values are the names, codes are the standard's bytes. */
export function enumeration<const M extends Record<string, number>>(codes: M): ValueCodec<keyof M & string> & { codes: M } {
  const byCode = new Map<number, keyof M & string>();
  for (const [k, v] of Object.entries(codes)) byCode.set(v, k as keyof M & string);
  const type = `enumeration {${Object.entries(codes).map(([k, v]) => `0x${hex8(v)} ${k}`).join(', ')}}`;
  return {
    type,
    codes,
    size: { min: 1, max: 1 },
    decode(edt) {
      checkSize(edt, 1, 1);
      const name = byCode.get(edt[0]!);
      if (name === undefined) refuse(`0x${hex8(edt[0]!)} is not one of ${type}`);
      return name;
    },
    encode(v) {
      const code = codes[v];
      if (code === undefined) refuse(`"${String(v)}" is not one of ${type}`);
      return Uint8Array.of(code);
    },
  };
}

/** ON (0x30) / OFF (0x31), the operation status of every object (superclass 0x80). */
export const onOff = enumeration({ on: 0x30, off: 0x31 });

/** Raw bytes of a length between min and max (unknown and maker-specific EPCs are carried so). */
export function rawBytes(min: number, max: number): ValueCodec<Uint8Array> {
  return {
    type: min === max ? `${min} raw byte(s)` : `${min}–${max} raw bytes`,
    size: { min, max },
    decode(edt) {
      checkSize(edt, min, max);
      return Uint8Array.from(edt);
    },
    encode(v) {
      checkSize(v, min, max);
      return Uint8Array.from(v);
    },
  };
}

/**
 * Installation location 0x81 (device object super class): one location code byte, or the
 * 17-byte form (0x01 + 16 bytes of position); no other length is valid.
 */
export const installationLocation: ValueCodec<Uint8Array> = {
  type: 'installation location, 1 or 17 bytes',
  size: { min: 1, max: 17, only: [1, 17] },
  decode(edt) {
    if (edt.length !== 1 && edt.length !== 17) refuse(`EDT is ${edt.length} byte(s), installation location is 1 or 17 bytes`);
    return Uint8Array.from(edt);
  },
  encode(v) {
    return this.decode(v);
  },
};

/**
 * Fixed-length ASCII (product code 0x8C, production number 0x8D: 12 bytes). Unused trailing
 * bytes are 0x00 when encoding; trailing NULs and spaces are dropped when decoding.
 */
export function ascii(length: number): ValueCodec<string> {
  return {
    type: `ASCII, ${length} bytes`,
    size: { min: length, max: length },
    decode(edt) {
      checkSize(edt, length, length);
      for (let i = 0; i < edt.length; i++) {
        const c = edt[i]!;
        if (c !== 0 && (c < 0x20 || c > 0x7e)) refuse(`byte ${i} (0x${hex8(c)}) is not printable ASCII`);
      }
      return Buffer.from(edt).toString('latin1').replace(/[\0 ]+$/, '');
    },
    encode(v) {
      if (!/^[\x20-\x7e]*$/.test(v)) refuse(`"${v}" is not printable ASCII`);
      if (v.length > length) refuse(`"${v}" is longer than ${length} characters`);
      const out = new Uint8Array(length);
      out.set(Buffer.from(v, 'latin1'));
      return out;
    },
  };
}

/** Property map (0x9D/0x9E/0x9F) in either encoding. */
export const propertyMap: ValueCodec<number[]> = {
  type: 'property map (list form < 16, bitmap form ≥ 16)',
  size: { min: 1, max: 17 },
  decode: decodePropertyMap,
  encode: encodePropertyMap,
};

/**
 * Instance list (node profile 0xD5 notification, 0xD6 list S): one count byte then up to 84
 * EOJs of 3 bytes (Part 2 §6.11.1; larger lists are split and the count capped at 84 per frame).
 */
export const instanceList: ValueCodec<Eoj[]> = {
  type: 'instance list: count (≤ 84) + 3-byte EOJs',
  size: { min: 1, max: 1 + 84 * 3 },
  decode(edt) {
    checkSize(edt, 1, 1 + 84 * 3);
    const n = edt[0]!;
    if (n > 84) refuse(`count ${n} exceeds 84 instances`);
    if (edt.length !== 1 + 3 * n) refuse(`count ${n} needs ${1 + 3 * n} bytes, got ${edt.length}`);
    const out: Eoj[] = [];
    for (let i = 0; i < n; i++) out.push(((edt[1 + 3 * i]! << 16) | (edt[2 + 3 * i]! << 8) | edt[3 + 3 * i]!) as Eoj);
    return out;
  },
  encode(list) {
    if (list.length > 84) refuse(`${list.length} instances exceed 84`);
    const out = new Uint8Array(1 + 3 * list.length);
    out[0] = list.length;
    list.forEach((o, i) => {
      out[1 + 3 * i] = (o >>> 16) & 0xff;
      out[2 + 3 * i] = (o >>> 8) & 0xff;
      out[3 + 3 * i] = o & 0xff;
    });
    return out;
  },
};

/** Class list S (node profile 0xD7): count (≤ 8) + 2-byte class codes. */
export const classList: ValueCodec<EojClass[]> = {
  type: 'class list: count (≤ 8) + 2-byte class codes',
  size: { min: 1, max: 17 },
  decode(edt) {
    checkSize(edt, 1, 17);
    const n = edt[0]!;
    if (n > 8) refuse(`count ${n} exceeds 8 classes`);
    if (edt.length !== 1 + 2 * n) refuse(`count ${n} needs ${1 + 2 * n} bytes, got ${edt.length}`);
    const out: EojClass[] = [];
    for (let i = 0; i < n; i++) out.push((edt[1 + 2 * i]! << 8) | edt[2 + 2 * i]!);
    return out;
  },
  encode(list) {
    const l = list.slice(0, 8);
    const out = new Uint8Array(1 + 2 * l.length);
    out[0] = l.length;
    l.forEach((c, i) => {
      out[1 + 2 * i] = (c >>> 8) & 0xff;
      out[2 + 2 * i] = c & 0xff;
    });
    return out;
  },
};

/** Two unsigned longs (e.g. 0xC8 minimum/maximum charging power). */
export function unsignedPair(opts: IntOptions): ValueCodec<[number, number]> {
  const one = unsigned(4, opts);
  return {
    type: `two ${one.type}`,
    size: { min: 8, max: 8 },
    decode(edt) {
      checkSize(edt, 8, 8);
      return [one.decode(edt.subarray(0, 4)), one.decode(edt.subarray(4, 8))];
    },
    encode([a, b]) {
      const out = new Uint8Array(8);
      out.set(one.encode(a), 0);
      out.set(one.encode(b), 4);
      return out;
    },
  };
}

/** Identification number 0x83: 0xFE + 3-byte maker code + 13 bytes unique to the maker (17 bytes). */
export interface IdentificationNumber {
  makerCode: number;
  unique: string;
}
export const identificationNumber: ValueCodec<IdentificationNumber> = {
  type: 'identification number: 0xFE + maker code (3) + unique ID (13)',
  size: { min: 17, max: 17 },
  decode(edt) {
    checkSize(edt, 17, 17);
    if (edt[0] !== 0xfe) refuse(`byte 0 is 0x${hex8(edt[0]!)}, only 0xFE (maker-assigned) is supported`);
    return { makerCode: (edt[1]! << 16) | (edt[2]! << 8) | edt[3]!, unique: hexBytes(edt.subarray(4)) };
  },
  encode(v) {
    if (!/^[0-9A-Fa-f]{26}$/.test(v.unique)) refuse('unique ID must be 13 bytes (26 hex digits)');
    const out = new Uint8Array(17);
    out[0] = 0xfe;
    out[1] = (v.makerCode >>> 16) & 0xff;
    out[2] = (v.makerCode >>> 8) & 0xff;
    out[3] = v.makerCode & 0xff;
    out.set(Buffer.from(v.unique, 'hex'), 4);
    return out;
  },
};

/**
 * Standard version information of a device object (superclass 0x82): 0x00, 0x00, the Appendix
 * release letter in ASCII, the revision number.
 */
export interface AppendixRelease {
  release: string;
  revision: number;
}
export const appendixRelease: ValueCodec<AppendixRelease> = {
  type: 'standard version: 0x00 0x00 release-letter revision',
  size: { min: 4, max: 4 },
  decode(edt) {
    checkSize(edt, 4, 4);
    const c = edt[2]!;
    if (c < 0x41 || c > 0x5a) refuse(`byte 2 (0x${hex8(c)}) is not an upper-case release letter`);
    return { release: String.fromCharCode(c), revision: edt[3]! };
  },
  encode(v) {
    if (!/^[A-Z]$/.test(v.release)) refuse(`release "${v.release}" is not one letter A–Z`);
    return Uint8Array.of(0, 0, v.release.charCodeAt(0), v.revision & 0xff);
  },
};

/**
 * Version information of the node profile (0x82): major, minor, message formats supported
 * (bit 0 specified format, bit 1 arbitrary format), 0x00 (Part 2 §6.11.1).
 */
export interface LiteVersion {
  major: number;
  minor: number;
  specifiedFormat: boolean;
  arbitraryFormat: boolean;
}
export const liteVersion: ValueCodec<LiteVersion> = {
  type: 'version: major, minor, format bits, 0x00',
  size: { min: 4, max: 4 },
  decode(edt) {
    checkSize(edt, 4, 4);
    return { major: edt[0]!, minor: edt[1]!, specifiedFormat: (edt[2]! & 1) !== 0, arbitraryFormat: (edt[2]! & 2) !== 0 };
  },
  encode(v) {
    return Uint8Array.of(v.major & 0xff, v.minor & 0xff, (v.specifiedFormat ? 1 : 0) | (v.arbitraryFormat ? 2 : 0), 0);
  },
};
