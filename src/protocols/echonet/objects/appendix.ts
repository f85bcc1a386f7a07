/**
 * The Appendix property tables generated from the Machine Readable Appendix (appendix-tables.ts,
 * by scripts/gen-echonet-tables.mjs), and the checks derived from them: which properties a class
 * must implement, which access rules it may declare, and whether an EDT has an allowed size and
 * value. Class definitions (defineClass) and every Set (EchonetObject.applySet) go through these,
 * so the property maps and the Set validation come from the same table.
 */
import { APPENDIX_SUPER_CLASS, APPENDIX_TABLES } from './appendix-tables.js';

/** An access rule of the MRA: required, optional, not applicable, or conditionally required. */
export type AppendixRule = 'required' | 'optional' | 'notApplicable' | 'required_c' | 'required_o';

/** One accepted EDT form: size range, and for numbers the raw range, for states the codes. */
export interface AppendixForm {
  readonly size: readonly [number, number];
  readonly number?: { readonly signed: boolean; readonly min: number; readonly max: number; readonly unit?: string; readonly multiple?: number };
  readonly codes?: readonly number[];
}

export interface AppendixProperty {
  readonly epc: number;
  /** The MRA's short name. */
  readonly name: string;
  readonly ja: string;
  readonly get: AppendixRule;
  readonly set: AppendixRule;
  readonly anno: AppendixRule;
  /** One of the three rules is 'required': every instance of the class implements it. */
  readonly mandatory: boolean;
  readonly forms: readonly AppendixForm[];
}

/** A class as the generated file holds it: its own properties; device classes add the super class's. */
export interface AppendixClassTable {
  readonly classCode: number;
  readonly name: string;
  readonly ja: string;
  /** A device class (the super class's properties apply); false for profiles. */
  readonly device: boolean;
  readonly props: readonly AppendixProperty[];
}

/** A class with every property that applies to it, super class included. */
export interface AppendixClass {
  readonly classCode: number;
  readonly name: string;
  readonly ja: string;
  readonly props: readonly AppendixProperty[];
}

const BY_CLASS = new Map<number, { cls: AppendixClass; byEpc: Map<number, AppendixProperty> }>(
  APPENDIX_TABLES.map((t) => {
    // The class's own entry overrides the super class's for the same EPC.
    const byEpc = new Map((t.device ? [...APPENDIX_SUPER_CLASS, ...t.props] : t.props).map((p) => [p.epc, p]));
    const props = [...byEpc.values()].sort((a, b) => a.epc - b.epc);
    return [t.classCode, { cls: { classCode: t.classCode, name: t.name, ja: t.ja, props }, byEpc }];
  }),
);

/** The Appendix table of a class, if the generated tables have it. */
export function appendixClass(classCode: number): AppendixClass | undefined {
  return BY_CLASS.get(classCode)?.cls;
}

/** The Appendix entry of one property of a class. */
export function appendixProperty(classCode: number, epc: number): AppendixProperty | undefined {
  return BY_CLASS.get(classCode)?.byEpc.get(epc);
}

function readInt(edt: Uint8Array, signed: boolean): number {
  let v = 0;
  for (const b of edt) v = v * 256 + b;
  if (signed && edt.length > 0 && edt[0]! >= 0x80) v -= 2 ** (8 * edt.length);
  return v;
}

/** Why `edt` is not an allowed value of `p` (size, range or code), or undefined when it is. */
export function appendixViolation(p: AppendixProperty, edt: Uint8Array): string | undefined {
  if (p.forms.length === 0) return undefined;
  const sized = p.forms.filter((f) => edt.length >= f.size[0] && edt.length <= f.size[1]);
  if (sized.length === 0) {
    const sizes = [...new Set(p.forms.map((f) => (f.size[0] === f.size[1] ? `${f.size[0]}` : `${f.size[0]}–${f.size[1]}`)))];
    return `EDT is ${edt.length} byte(s), the Appendix allows ${sizes.join(' or ')}`;
  }
  const parts: string[] = [];
  for (const f of sized) {
    if (f.codes) {
      const v = readInt(edt, false);
      if (f.codes.includes(v)) return undefined;
      parts.push(`0x${v.toString(16).toUpperCase().padStart(2, '0')} is not one of ${f.codes.map((c) => `0x${c.toString(16).toUpperCase().padStart(2, '0')}`).join('/')}`);
    } else if (f.number) {
      const v = readInt(edt, f.number.signed);
      if (v >= f.number.min && v <= f.number.max) return undefined;
      parts.push(`${v} is outside ${f.number.min}–${f.number.max}`);
    } else return undefined;
  }
  return `${parts.join(', and ')} (Appendix)`;
}
