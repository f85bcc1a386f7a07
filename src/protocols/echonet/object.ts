/**
 * A hosted ECHONET object instance: the property values a node serves for one EOJ, with the
 * access rules and value ranges of its class enforced on every Set (APPENDIX Detailed
 * Requirements for ECHONET Device Objects: a Set that is not allowed or out of range is refused
 * and never applied; Part 2 §3.2.5: refusal is reported per property in the _SNA response).
 *
 * The property maps 0x9D/0x9E/0x9F are computed from the properties the instance supports.
 */
import { InvalidInputError } from '../../core/errors.js';
import { eoj, formatEoj, type Eoj } from './eoj.js';
import { hex8 } from './errors.js';
import { encodePropertyMap } from './property-map.js';
import { tableViolation, type ClassDef, type PropertyDef, type PropertyTable } from './objects/types.js';

/** The value type a property definition carries. */
export type ValueOf<D> = D extends PropertyDef<infer T> ? T : never;
/** Initial values by property name. */
export type InitialValues<P extends PropertyTable> = { [K in keyof P]?: ValueOf<P[K]> };

/** Result of a Set from the network. */
export type SetOutcome = { accepted: true } | { accepted: false; reason: string };

/**
 * Hook a simulator installs to act on an accepted-by-type Set (e.g. switch a battery's mode).
 * Return a string to refuse the Set with that reason (the value is then not stored).
 */
export type SetHook = (epc: number, value: unknown) => string | void;

export interface ObjectOptions<P extends PropertyTable> {
  /** Instance code 0x01–0x7F. */
  instance: number;
  /** Initial values; the instance supports exactly these properties plus the three maps. */
  values: InitialValues<P>;
  /** Properties outside the class tables (maker-specific 0xF0–0xFF), raw EDT. */
  extra?: { def: PropertyDef<Uint8Array>; edt: Uint8Array }[];
  onSet?: SetHook;
}

type ChangeListener = (epc: number, edt: Uint8Array) => void;

const MAP_EPCS = [0x9d, 0x9e, 0x9f];

export class EchonetObject<P extends PropertyTable = PropertyTable> {
  readonly eoj: Eoj;
  readonly definition: ClassDef<P>;
  private readonly values = new Map<number, Uint8Array>();
  private readonly defs = new Map<number, PropertyDef<unknown>>();
  private readonly listeners: ChangeListener[] = [];
  private onSet: SetHook | undefined;

  constructor(definition: ClassDef<P>, options: ObjectOptions<P>) {
    if (options.instance < 1 || options.instance > 0x7f) throw new InvalidInputError(`instance code ${options.instance} is not 0x01–0x7F`);
    this.eoj = eoj(definition.classCode, options.instance);
    this.definition = definition;
    this.onSet = options.onSet;
    for (const [name, value] of Object.entries(options.values)) {
      const def = definition.props[name] as PropertyDef<unknown> | undefined;
      if (!def) throw new InvalidInputError(`${definition.name} has no property "${name}"`);
      if (MAP_EPCS.includes(def.epc)) continue;
      this.defs.set(def.epc, def);
      this.values.set(def.epc, def.codec.encode(value));
    }
    for (const x of options.extra ?? []) {
      this.defs.set(x.def.epc, x.def as PropertyDef<unknown>);
      this.values.set(x.def.epc, Uint8Array.from(x.edt));
    }
    for (const epc of MAP_EPCS) {
      const def = definition.byEpc.get(epc);
      if (def) this.defs.set(epc, def);
    }
    // Mandatory properties defined wholly by the Appendix table serve their neutral value.
    for (const def of definition.byEpc.values()) {
      if (def.required && def.initial && !this.defs.has(def.epc)) {
        this.defs.set(def.epc, def);
        this.values.set(def.epc, Uint8Array.from(def.initial));
      }
    }
    for (const [epc, edt] of this.values) {
      const why = tableViolation(definition.classCode, epc, edt);
      if (why) throw new InvalidInputError(`${definition.name} ${formatEoj(this.eoj)} EPC 0x${hex8(epc)}: ${why}`);
    }
    const missing = Object.values(definition.props).filter((d) => d.required && !this.defs.has(d.epc) && d.epc !== 0xd5);
    if (missing.length > 0) {
      throw new InvalidInputError(`${definition.name} ${formatEoj(this.eoj)} lacks mandatory properties: ${missing.map((d) => d.name).join(', ')}`);
    }
  }

  /** Replaces the Set hook (simulators attach after construction); returns the one it replaced, so hooks can be chained. */
  setHook(hook: SetHook | undefined): SetHook | undefined {
    const previous = this.onSet;
    this.onSet = hook;
    return previous;
  }

  /** Called with (epc, edt) when an announced property (in 0x9D) changes value. */
  onAnnounce(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  supports(epc: number): boolean {
    return this.defs.has(epc);
  }

  /** EPCs by access rule: the content of the 0x9D, 0x9E and 0x9F maps. */
  propertyMaps(): { anno: number[]; set: number[]; get: number[] } {
    const anno: number[] = [];
    const set: number[] = [];
    const get: number[] = [];
    for (const d of this.defs.values()) {
      if (d.access.anno) anno.push(d.epc);
      if (d.access.set) set.push(d.epc);
      if (d.access.get) get.push(d.epc);
    }
    return { anno, set, get };
  }

  /** The EDT a Get would return, or undefined if the property is not readable here. */
  readForGet(epc: number): Uint8Array | undefined {
    const def = this.defs.get(epc);
    if (!def || !def.access.get) return undefined;
    return this.edt(epc);
  }

  /** The EDT announced for an INF_REQ / status change (readable or announced properties). */
  readForNotification(epc: number): Uint8Array | undefined {
    const def = this.defs.get(epc);
    if (!def || !(def.access.get || def.access.anno)) return undefined;
    return this.edt(epc);
  }

  private edt(epc: number): Uint8Array | undefined {
    if (epc === 0x9d) return encodePropertyMap(this.propertyMaps().anno);
    if (epc === 0x9e) return encodePropertyMap(this.propertyMaps().set);
    if (epc === 0x9f) return encodePropertyMap(this.propertyMaps().get);
    return this.values.get(epc);
  }

  /**
   * A Set from the network: refused unless the property is supported, settable, of the right
   * size and in range, and accepted by the hook. Only then is the value stored (and announced).
   */
  applySet(epc: number, edt: Uint8Array): SetOutcome {
    const def = this.defs.get(epc);
    if (!def) return { accepted: false, reason: `EPC 0x${hex8(epc)} is not a property of ${formatEoj(this.eoj)}` };
    if (!def.access.set) return { accepted: false, reason: `EPC 0x${hex8(epc)} (${def.name}) is not settable` };
    // The Appendix table's size and range first (the same table the maps come from), then the codec.
    const outside = tableViolation(this.definition.classCode, epc, edt);
    if (outside) return { accepted: false, reason: `EPC 0x${hex8(epc)} (${def.name}): ${outside}` };
    let value: unknown;
    try {
      value = def.codec.decode(edt);
    } catch (err) {
      return { accepted: false, reason: `EPC 0x${hex8(epc)} (${def.name}): ${err instanceof Error ? err.message : String(err)}` };
    }
    const refused = this.onSet?.(epc, value);
    if (typeof refused === 'string') return { accepted: false, reason: `EPC 0x${hex8(epc)} (${def.name}): ${refused}` };
    this.store(epc, Uint8Array.from(edt));
    return { accepted: true };
  }

  /** Typed read of a supported property. */
  get<T>(p: PropertyDef<T>): T {
    const edt = this.values.get(p.epc);
    if (!edt) throw new InvalidInputError(`${formatEoj(this.eoj)} does not support ${p.name}`);
    return p.codec.decode(edt);
  }

  /**
   * Device-side update (physics, local operation): validated by the codec, announced if in 0x9D
   * unless `announce` is false (a value the device had all along, filled in once it is known).
   */
  set<T>(p: PropertyDef<T>, value: T, opts: { announce?: boolean } = {}): void {
    if (!this.defs.has(p.epc)) throw new InvalidInputError(`${formatEoj(this.eoj)} does not support ${p.name}`);
    this.store(p.epc, p.codec.encode(value), opts.announce ?? true);
  }

  private store(epc: number, edt: Uint8Array, announce = true): void {
    const before = this.values.get(epc);
    this.values.set(epc, edt);
    if (!announce || (before && equalBytes(before, edt))) return;
    if (this.defs.get(epc)?.access.anno) for (const l of this.listeners) l(epc, edt);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
