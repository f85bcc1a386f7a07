/**
 * How a device object class is described: every property with its EPC, data type (codec),
 * unit and access rule (Get / Set / status-change announcement), after the property tables of
 * the APPENDIX Detailed Requirements for ECHONET Device Objects (Release R).
 */
import type { EojClass } from '../eoj.js';
import type { ValueCodec } from '../datatypes.js';
import { rawBytes } from '../datatypes.js';
import { InvalidInputError } from '../../../core/errors.js';
import { appendixProperty, appendixViolation, type AppendixProperty } from './appendix.js';

/** Access rules of a property (Appendix "Access rule" column; "Anno" = announced at status change). */
export interface Access {
  get: boolean;
  set: boolean;
  anno: boolean;
}

export interface PropertyDef<T = unknown> {
  epc: number;
  /** camelCase English name after the Appendix's property name. */
  name: string;
  /** The Appendix's Japanese property name. */
  ja: string;
  codec: ValueCodec<T>;
  access: Access;
  /** Mandatory in the Appendix (must be implemented by every instance of the class). */
  required: boolean;
  /**
   * The value an instance serves when it gives the property no meaning of its own (properties
   * defined wholly by the Appendix table: a neutral, in-range EDT).
   */
  initial?: Uint8Array;
}

/** Access written as letters: G = Get, S = Set, A = announce at status change. */
export type AccessLetters = 'G' | 'GS' | 'GA' | 'GSA' | 'S' | 'SA' | 'A';

/** Defines a property. `required` marks the Appendix's mandatory properties. */
export function prop<T>(epc: number, name: string, ja: string, codec: ValueCodec<T>, access: AccessLetters, required = false): PropertyDef<T> {
  return {
    epc,
    name,
    ja,
    codec,
    access: { get: access.includes('G'), set: access.includes('S'), anno: access.includes('A') },
    required,
  };
}

/** A property the class tables do not define (e.g. maker-specific 0xF0–0xFF): raw bytes, Get only. */
export function rawProperty(epc: number, access: AccessLetters = 'G'): PropertyDef<Uint8Array> {
  return prop(epc, `epc${epc.toString(16).toUpperCase()}`, '未定義/メーカ独自', rawBytes(0, 255), access);
}

export type PropertyTable = Record<string, PropertyDef<any>>;

export interface ClassDef<P extends PropertyTable = PropertyTable> {
  classCode: EojClass;
  name: string;
  ja: string;
  /** Properties by name (superclass included). */
  props: P;
  /** Properties by EPC. */
  byEpc: ReadonlyMap<number, PropertyDef<unknown>>;
}

/**
 * Builds a class definition; later tables override earlier ones for the same name. The Appendix
 * table of the class (generated from the MRA) decides which properties are mandatory and adds
 * the access rules it requires, so the property maps follow the table.
 */
export function defineClass<P extends PropertyTable>(classCode: EojClass, name: string, ja: string, props: P): ClassDef<P> {
  const byEpc = new Map<number, PropertyDef<unknown>>();
  const own: PropertyTable = {};
  for (const [key, p] of Object.entries(props)) {
    const a = appendixProperty(classCode, p.epc);
    // A copy per class: the super class's definitions are shared by every class's table.
    const d: PropertyDef<unknown> = a
      ? {
          ...p,
          required: a.mandatory,
          access: { get: p.access.get || a.get === 'required', set: p.access.set || a.set === 'required', anno: p.access.anno || a.anno === 'required' },
        }
      : { ...p };
    own[key] = d;
    byEpc.set(d.epc, d);
  }
  return { classCode, name, ja, props: own as P, byEpc };
}

function readInt(edt: Uint8Array): number {
  let v = 0;
  for (const b of edt) v = v * 256 + b;
  return v;
}

function encodeInt(v: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = v < 0 ? v + 2 ** (8 * size) : v;
  for (let i = size - 1; i >= 0; i--) {
    out[i] = x % 256;
    x = Math.floor(x / 256);
  }
  return out;
}

/** A codec straight from the Appendix table: the EDT as bytes, checked for size, range and codes. */
export function appendixCodec(a: AppendixProperty): ValueCodec<Uint8Array> & { table: AppendixProperty } {
  const sizes = a.forms.map((f) => f.size);
  const check = (edt: Uint8Array): Uint8Array => {
    const why = appendixViolation(a, edt);
    if (why) throw new InvalidInputError(why, { code: 'echonet_value' });
    return Uint8Array.from(edt);
  };
  return {
    type: `Appendix EPC 0x${a.epc.toString(16).toUpperCase()} (${a.name})`,
    size: { min: Math.min(...sizes.map((s) => s[0])), max: Math.max(...sizes.map((s) => s[1])) },
    table: a,
    decode: check,
    encode: check,
  };
}

/** A neutral EDT in the table's first form: its first code, the number nearest 0, or zeros. */
export function appendixDefault(a: AppendixProperty): Uint8Array {
  const f = a.forms[0];
  if (!f) return new Uint8Array(0);
  if (f.codes) return encodeInt(f.codes[0]!, f.size[0]);
  if (f.number) return encodeInt(Math.min(Math.max(0, f.number.min), f.number.max), f.size[0]);
  return new Uint8Array(f.size[0]);
}

/**
 * A property defined wholly by the Appendix table of `classCode`: codec, mandatory flag and
 * access (the rules the table requires, and Get wherever the table allows it). For properties
 * a simulator gives no meaning to; it serves `appendixDefault` unless given a value.
 */
export function appendixProp(classCode: EojClass, epc: number, name: string): PropertyDef<Uint8Array> {
  const a = appendixProperty(classCode, epc);
  if (!a) throw new InvalidInputError(`the Appendix table of class 0x${classCode.toString(16).padStart(4, '0')} has no EPC 0x${epc.toString(16)}`);
  return {
    epc,
    name,
    ja: a.ja,
    codec: appendixCodec(a),
    access: { get: a.get !== 'notApplicable', set: a.set === 'required', anno: a.anno === 'required' },
    required: a.mandatory,
    initial: appendixDefault(a),
  };
}

/** The value a property's EDT must also satisfy beyond its codec: the Appendix table's. */
export function tableViolation(classCode: EojClass, epc: number, edt: Uint8Array): string | undefined {
  const a = appendixProperty(classCode, epc);
  return a ? appendixViolation(a, edt) : undefined;
}
