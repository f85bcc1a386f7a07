/**
 * How a device object class is described: every property with its EPC, data type (codec),
 * unit and access rule (Get / Set / status-change announcement), after the property tables of
 * the APPENDIX Detailed Requirements for ECHONET Device Objects (Release R).
 */
import type { EojClass } from '../eoj.js';
import type { ValueCodec } from '../datatypes.js';
import { rawBytes } from '../datatypes.js';

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

/** Builds a class definition; later tables override earlier ones for the same name. */
export function defineClass<P extends PropertyTable>(classCode: EojClass, name: string, ja: string, props: P): ClassDef<P> {
  const byEpc = new Map<number, PropertyDef<unknown>>();
  for (const p of Object.values(props)) byEpc.set(p.epc, p as PropertyDef<unknown>);
  return { classCode, name, ja, props, byEpc };
}
