/**
 * The gateway's own vocabulary, independent of the wire protocols on either side.
 *
 * Upstream (R4) the gateway receives OpenADR 2.0b event signals; downstream (R5) it drives
 * ECHONET Lite devices. Between the two, everything is expressed in these small abstract types,
 * so the safety policy, the translation rules and the command guard can be reasoned about and
 * tested without sockets. Adapters at the edges convert the OpenADR codec's and the ECHONET
 * Lite controller's types to and from these.
 *
 * Units follow src/core/units.ts: power in W (signed: positive = the device draws power from
 * the site, i.e. consumption or battery charge; negative = the device feeds power into the
 * site, i.e. generation or battery discharge), energy in Wh, instants in epoch milliseconds.
 */
import { ECHONET_DEVICE_KINDS, echonetClassCodeOf, kindOfEchonetClass, type EchonetDeviceKind } from '../../core/domain/device-classes.js';
import type { EpochMillis, Watts, WattHours } from '../../core/units.js';

/**
 * Device classes the gateway knows how to control or read: the kinds of the domain registry
 * (src/core/domain/device-classes.ts) that are reached over ECHONET Lite.
 */
export const DEVICE_CLASSES: readonly DeviceClass[] = ECHONET_DEVICE_KINDS;
export type DeviceClass = EchonetDeviceKind;

/** Main ECHONET Lite class group + class code of each device class (e.g. battery → 0x027D), from the registry. */
export const ECHONET_CLASS_CODE: Readonly<Record<DeviceClass, number>> = Object.fromEntries(
  DEVICE_CLASSES.map((c) => [c, echonetClassCodeOf(c)]),
) as Record<DeviceClass, number>;

/**
 * The device class of an ECHONET Lite class code (group + class, e.g. 0x027D), if we know it.
 * Variants map to their kind (0x02A1, a charge-only EV charger, is an 'ev' that cannot discharge).
 */
export function deviceClassOfEchonet(classCode: number): DeviceClass | undefined {
  return kindOfEchonetClass(classCode);
}

/**
 * What the gateway can ask a device to do. `auto` always means "return to the owner's normal
 * mode" (the state recorded before the first forced command), whatever the class.
 */
export type CommandAction =
  | 'charge' | 'discharge' | 'standby' // battery
  | 'pv_limit' // PV output limit, percent of rated output
  | 'ev_charge' | 'ev_discharge' | 'ev_stop' // EV charger/discharger (V2H)
  | 'boil' | 'stop_boil' // water heater: manual boil / manual no-boil
  | 'aircon_setpoint' // air conditioner set temperature
  | 'light_level' // lighting brightness, percent (0 = dark)
  | 'generate' | 'stop_generate' // fuel cell: generate at the rating / stop the stack
  | 'auto';

/** Which actions each class accepts (anything else is a translation bug, refused by the policy). */
export const ACTIONS_BY_CLASS: Readonly<Record<DeviceClass, readonly CommandAction[]>> = {
  battery: ['charge', 'discharge', 'standby', 'auto'],
  pv: ['pv_limit', 'auto'],
  ev: ['ev_charge', 'ev_discharge', 'ev_stop', 'auto'],
  water_heater: ['boil', 'stop_boil', 'auto'],
  aircon: ['aircon_setpoint', 'auto'],
  lighting: ['light_level', 'auto'],
  fuel_cell: ['generate', 'stop_generate', 'auto'],
  meter: [],
  pcs: [],
};

/** One abstract command for one device. Only the field its action needs is set. */
export interface DeviceCommand {
  deviceId: string;
  class: DeviceClass;
  action: CommandAction;
  /** Magnitude of charge / discharge power, always ≥ 0 (the action gives the direction). */
  powerW?: Watts | undefined;
  /** PV output limit, 0..100 % of rated output; lighting brightness, 0..100 %. */
  percent?: number | undefined;
  /** Air-conditioner set temperature in °C. */
  temperatureC?: number | undefined;
}

/** Net power a command asks for, signed as in this module's header (+ draw, − feed). */
export function commandNetPowerW(cmd: DeviceCommand): number | undefined {
  switch (cmd.action) {
    case 'charge':
    case 'ev_charge':
      return cmd.powerW ?? 0;
    case 'discharge':
    case 'ev_discharge':
      return -(cmd.powerW ?? 0);
    case 'standby':
    case 'ev_stop':
      return 0;
    default:
      return undefined;
  }
}

/** A short stable text form of a command, for logs, audit records and test assertions. */
export function describeCommand(cmd: DeviceCommand): string {
  const parts = [cmd.deviceId, cmd.action];
  if (cmd.powerW !== undefined) parts.push(`${cmd.powerW}W`);
  if (cmd.percent !== undefined) parts.push(`${cmd.percent}%`);
  if (cmd.temperatureC !== undefined) parts.push(`${cmd.temperatureC}C`);
  return parts.join(' ');
}

/**
 * OpenADR 2.0b signal names (EiEvent, signalName) the gateway may meet. The gateway acts on
 * SIMPLE, LOAD_CONTROL and LOAD_DISPATCH; the others are answered with 460 (signal not
 * supported) rather than silently ignored.
 */
export type SignalName =
  | 'SIMPLE' | 'LOAD_CONTROL' | 'LOAD_DISPATCH' | 'CHARGE_STATE'
  | 'ELECTRICITY_PRICE' | 'ENERGY_PRICE' | 'DEMAND_CHARGE' | 'BID_PRICE' | 'BID_LOAD' | 'BID_ENERGY'
  | (string & {});

/** OpenADR 2.0b signalType values (EiEvent). */
export type SignalType =
  | 'level' | 'delta' | 'setpoint' | 'multiplier' | 'price' | 'priceRelative' | 'priceMultiplier' | 'product'
  | 'x-loadControlCapacity' | 'x-loadControlLevelOffset' | 'x-loadControlPercentOffset' | 'x-loadControlSetpoint'
  | (string & {});


/** The unit of a signal value (OpenADR itemBase), when the signal type needs one. */
export interface SignalUnit {
  /** e.g. 'powerReal', 'energyReal', 'temperature', 'customUnit'. */
  itemBase: string;
  /** e.g. 'W', 'Wh', 'celsius', 'fahrenheit'. */
  units: string;
  siScaleCode?: string | undefined;
}

/** One event signal's value for the interval in force now. */
export interface EventSignal {
  name: SignalName;
  type: SignalType;
  value: number;
  unit?: SignalUnit | undefined;
  signalId?: string | undefined;
}

/** How the owner's device normally runs; restored when an event ends or the fail-safe trips. */
export interface OwnerNormal {
  /** Battery / EV operation mode before the first forced command (e.g. 'auto'). */
  mode?: string | undefined;
  /** Air-conditioner set temperature chosen by the owner. */
  temperatureC?: number | undefined;
  /** PV output limit (normally 100) or lighting brightness before the event. */
  percent?: number | undefined;
}

/** What the gateway knows about one device at one instant (from ECHONET Lite reads and INF). */
export interface DeviceReading {
  deviceId: string;
  class: DeviceClass;
  at: EpochMillis;
  online: boolean;
  /** Signed net power (+ draw, − feed), e.g. battery charge +, discharge −, PV output −. */
  powerW?: Watts | undefined;
  /** Cumulative energy (meter: normal-direction cumulative energy, bought; PCS: 0xE0 normal direction). */
  energyWh?: WattHours | undefined;
  /** Cumulative reverse-direction energy (meter 0xE3: sold to the grid; PCS 0xE3). */
  exportedEnergyWh?: WattHours | undefined;
  /** Meter 0xE8: R- and T-phase currents in A (T absent on a single-phase two-wire service). */
  phaseCurrentsA?: { r: number; t?: number | undefined } | undefined;
  /** PCS 0xE8: the ECHONET Lite objects on its inputs (EOJs, e.g. ['027901', '027D01']). */
  connectedObjects?: string[] | undefined;
  /** Battery or vehicle state of charge, 0..100 %. */
  socPercent?: number | undefined;
  /** Rated energy capacity (battery, vehicle), to turn SoC into stored energy. */
  capacityWh?: WattHours | undefined;
  /** Current operating mode as the device reports it: 'charge', 'discharge', 'standby', 'auto', ... */
  mode?: string | undefined;
  /** Air conditioner: current set temperature and whether it is cooling or heating. */
  temperatureC?: number | undefined;
  airconMode?: 'cooling' | 'heating' | 'auto' | 'dry' | 'fan' | 'other' | undefined;
  /** PV output limit currently in force, % of rated. */
  pvLimitPercent?: number | undefined;
  /** Lighting brightness currently set, %. */
  levelPercent?: number | undefined;
  /** The owner changed the device by hand during an event (OpenADR oadrManualOverride). */
  manualOverride?: boolean | undefined;
  /** Rated powers the device declares (ECHONET Lite rated charge / discharge / output). */
  ratedChargeW?: Watts | undefined;
  ratedDischargeW?: Watts | undefined;
  ratedOutputW?: Watts | undefined;
  /** EV: vehicle connected. */
  pluggedIn?: boolean | undefined;
}

