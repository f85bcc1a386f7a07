/**
 * The device classes of the domain, described once (like matter.js's cluster definitions). Every
 * layer derives its own lists from this registry — the gateway's ECHONET Lite class mapping and
 * data points, the aggregator's portfolio classes, allocation classes and default merit order,
 * the device simulators — so adding a class means adding one entry here and then handling it
 * where the compiler (Record<DeviceKind, …>) and test/core/device-classes.test.ts point.
 *
 * This is the DOMAIN view: what a class is for the business (can it be dispatched, which way,
 * what it reports). The protocol facts (ECHONET Lite property tables, EPCs, codecs) stay in
 * src/protocols/echonet/objects; only the class code is named here, as the key that lets the
 * protocol and role layers map between the two. Core imports no protocol.
 */
import type { DispatchDirection } from './direction.js';

/** What a class reports upstream, as data points of the gateway's telemetry (rID suffixes). */
export type Telemetry =
  /** Net power, W (+ draw, − feed). */
  | 'power'
  /** Cumulative energy, Wh (meters). */
  | 'energy'
  /** On line / manual override / load-control state. */
  | 'status'
  /** State of charge, %. */
  | 'soc'
  /** Stored energy, Wh. */
  | 'stored';

/**
 * How allocation groups resources for reporting and merit order (aggregator/allocation). Several
 * kinds can share one: an air conditioner and a BEMS load are both 'load' to allocation.
 */
export type AllocationClass = 'battery' | 'ev' | 'pv' | 'load' | 'water_heater' | 'other';

/** An ECHONET Lite class (group + class code, e.g. 0x027D) that a kind is reached through. */
export interface EchonetClassRef {
  /** Class group code + class code (APPENDIX Detailed Requirements for ECHONET Device Objects). */
  readonly classCode: number;
  /** The Appendix's name, for messages. */
  readonly name: string;
  /** When this variant can do less than its kind (e.g. a charge-only EV charger). */
  readonly directions?: readonly DispatchDirection[];
}

export interface DeviceClassSpec {
  /** English name for messages and the console. */
  readonly name: string;
  /** Japanese name as used in the market and the ECHONET Lite Appendix. */
  readonly ja: string;
  /**
   * The ECHONET Lite classes this kind is reached through; the first is the main one. Absent for
   * resources a gateway does not drive over ECHONET Lite (a BEMS/FEMS load, controlled by the site).
   */
  readonly echonet?: readonly [EchonetClassRef, ...EchonetClassRef[]];
  /** The aggregator may dispatch it (a meter only measures). */
  readonly controllable: boolean;
  /**
   * Which ways dispatch can move the resource's net consumption: reduce (下げ: discharge, shed,
   * postpone boiling) and/or increase (上げ: charge, boil now, curtail PV). Empty when not controllable.
   */
  readonly directions: readonly DispatchDirection[];
  /** It stores energy: state of charge and capacity matter (reserve, energy budget over an event). */
  readonly storage: boolean;
  /** The aggregator steers it with a net-power set point (LOAD_DISPATCH setpoint) rather than a level. */
  readonly setpoint: boolean;
  /** The data points it reports through a gateway. */
  readonly telemetry: readonly Telemetry[];
  /** Allocation's grouping. */
  readonly allocationClass: AllocationClass;
  /**
   * Default merit-order cost per kWh delivered when the operator gives none (relative numbers in
   * one currency-like unit for the pool): cheapest are loads that merely shift (water heater) and
   * curtailment, dearest the ones that wear hardware or touch comfort; a meter never (∞).
   */
  readonly defaultCostPerKWh: number;
}

const BOTH: readonly DispatchDirection[] = ['reduce', 'increase'];

/** The registry. Order is the order lists are shown in (CLI choices, error messages). */
export const DEVICE_CLASS_REGISTRY = {
  battery: {
    name: 'storage battery', ja: '蓄電池',
    echonet: [{ classCode: 0x027d, name: 'storage battery' }],
    controllable: true, directions: BOTH, storage: true, setpoint: true,
    telemetry: ['power', 'status', 'soc', 'stored'], allocationClass: 'battery', defaultCostPerKWh: 8,
  },
  pv: {
    name: 'household solar power generation', ja: '住宅用太陽光発電',
    echonet: [{ classCode: 0x0279, name: 'household solar power generation' }],
    // A PV system can only be curtailed: that raises net consumption (上げ).
    controllable: true, directions: ['increase'], storage: false, setpoint: false,
    telemetry: ['power', 'status'], allocationClass: 'pv', defaultCostPerKWh: 3,
  },
  ev: {
    name: 'EV charger/discharger', ja: '電気自動車充放電器',
    echonet: [
      { classCode: 0x027e, name: 'electric vehicle charger/discharger' },
      // A charger that cannot discharge behaves as a charger/discharger without the reduce side.
      { classCode: 0x02a1, name: 'electric vehicle charger', directions: ['increase'] },
    ],
    controllable: true, directions: BOTH, storage: true, setpoint: true,
    telemetry: ['power', 'status', 'soc', 'stored'], allocationClass: 'ev', defaultCostPerKWh: 12,
  },
  water_heater: {
    name: 'electric water heater', ja: '電気給湯機',
    echonet: [{ classCode: 0x026b, name: 'electric water heater' }],
    controllable: true, directions: BOTH, storage: false, setpoint: false,
    telemetry: ['power', 'status'], allocationClass: 'water_heater', defaultCostPerKWh: 2,
  },
  aircon: {
    name: 'home air conditioner', ja: '家庭用エアコン',
    echonet: [{ classCode: 0x0130, name: 'home air conditioner' }],
    // A set temperature further from the room's shifts load down (下げ), closer to it (pre-cooling
    // or pre-heating on surplus) shifts it up (上げ).
    controllable: true, directions: BOTH, storage: false, setpoint: false,
    telemetry: ['power', 'status'], allocationClass: 'load', defaultCostPerKWh: 10,
  },
  fuel_cell: {
    name: 'household fuel cell (ENE-FARM)', ja: '燃料電池（エネファーム）',
    echonet: [{ classCode: 0x027c, name: 'fuel cell' }],
    // Generating at the rating sheds net consumption (下げ); stopping the stack raises it (上げ).
    controllable: true, directions: BOTH, storage: false, setpoint: false,
    telemetry: ['power', 'status'], allocationClass: 'other', defaultCostPerKWh: 7,
  },
  lighting: {
    name: 'general lighting', ja: '一般照明',
    echonet: [{ classCode: 0x0290, name: 'general lighting' }],
    // Dimming or switching off sheds load (下げ); lights are never switched on to absorb surplus.
    controllable: true, directions: ['reduce'], storage: false, setpoint: false,
    telemetry: ['power', 'status'], allocationClass: 'load', defaultCostPerKWh: 9,
  },
  meter: {
    name: 'low-voltage smart electric energy meter', ja: '低圧スマート電力量メータ',
    echonet: [{ classCode: 0x0288, name: 'low-voltage smart electric energy meter' }],
    controllable: false, directions: [], storage: false, setpoint: false,
    telemetry: ['power', 'energy', 'status'], allocationClass: 'other', defaultCostPerKWh: Number.POSITIVE_INFINITY,
  },
  pcs: {
    name: 'multi-input PCS', ja: 'マルチ入力PCS',
    echonet: [{ classCode: 0x02a5, name: 'multiple input PCS' }],
    // The PCS measures what its PV and battery inputs exchange with the house; its inputs are
    // steered through their own objects (battery, PV), so the PCS itself is read, not controlled.
    controllable: false, directions: [], storage: false, setpoint: false,
    telemetry: ['power', 'energy', 'status'], allocationClass: 'other', defaultCostPerKWh: Number.POSITIVE_INFINITY,
  },
  load: {
    name: 'controllable load (BEMS/FEMS)', ja: '需要側負荷',
    controllable: true, directions: ['reduce'], storage: false, setpoint: false,
    telemetry: ['power', 'status'], allocationClass: 'load', defaultCostPerKWh: 5,
  },
} as const satisfies Readonly<Record<string, DeviceClassSpec>>;

type Registry = typeof DEVICE_CLASS_REGISTRY;
/** Every kind of resource the domain knows. */
export type DeviceKind = keyof Registry;
/** The kinds a gateway reaches over ECHONET Lite. */
export type EchonetDeviceKind = { [K in DeviceKind]: Registry[K] extends { echonet: readonly unknown[] } ? K : never }[DeviceKind];

/** Every kind, in registry order. */
export const DEVICE_KINDS = Object.keys(DEVICE_CLASS_REGISTRY) as DeviceKind[];

/** The kinds reached over ECHONET Lite, in registry order. */
export const ECHONET_DEVICE_KINDS = DEVICE_KINDS.filter((k): k is EchonetDeviceKind => 'echonet' in DEVICE_CLASS_REGISTRY[k]);

/** The description of `kind`. */
export function deviceClass(kind: DeviceKind): DeviceClassSpec {
  return DEVICE_CLASS_REGISTRY[kind];
}

/** True when `v` names a kind of the registry. */
export function isDeviceKind(v: unknown): v is DeviceKind {
  return typeof v === 'string' && Object.hasOwn(DEVICE_CLASS_REGISTRY, v);
}

/** The main ECHONET Lite class code of an ECHONET kind (e.g. battery → 0x027D). */
export function echonetClassCodeOf(kind: EchonetDeviceKind): number {
  return DEVICE_CLASS_REGISTRY[kind].echonet[0].classCode;
}

const BY_ECHONET_CODE = new Map<number, { kind: EchonetDeviceKind; ref: EchonetClassRef }>(
  ECHONET_DEVICE_KINDS.flatMap((kind) => DEVICE_CLASS_REGISTRY[kind].echonet.map((ref: EchonetClassRef) => [ref.classCode, { kind, ref }] as const)),
);

/** The kind of an ECHONET Lite class code (group + class, e.g. 0x027D), if the domain knows it. */
export function kindOfEchonetClass(classCode: number): EchonetDeviceKind | undefined {
  return BY_ECHONET_CODE.get(classCode)?.kind;
}

/**
 * Which ways a device of ECHONET Lite class `classCode` can be dispatched: its variant's own
 * limits when it has any (a charge-only EV charger), else its kind's. Empty for an unknown class.
 */
export function directionsOfEchonetClass(classCode: number): readonly DispatchDirection[] {
  const hit = BY_ECHONET_CODE.get(classCode);
  if (!hit) return [];
  return hit.ref.directions ?? DEVICE_CLASS_REGISTRY[hit.kind].directions;
}

/** The kinds for which `pred` holds, in registry order (e.g. storage kinds). */
export function kindsWhere(pred: (spec: DeviceClassSpec) => boolean): DeviceKind[] {
  return DEVICE_KINDS.filter((k) => pred(DEVICE_CLASS_REGISTRY[k]));
}

/** True when `kind` stores energy (battery, EV). */
export function isStorageKind(kind: DeviceKind): boolean {
  return DEVICE_CLASS_REGISTRY[kind].storage;
}

/** True when dispatch can move `kind` in `direction`. */
export function canDispatch(kind: DeviceKind, direction: DispatchDirection): boolean {
  return (DEVICE_CLASS_REGISTRY[kind].directions as readonly DispatchDirection[]).includes(direction);
}
