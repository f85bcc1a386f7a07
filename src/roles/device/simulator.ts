/** What every device simulator shares: identity, the step contract, superclass values. */
import { jstFields } from '../../core/jst.js';
import type { EchonetObject } from '../../protocols/echonet/object.js';
import type { EpochMillis, Watts } from '../../core/units.js';
import type { EchonetDeviceKind } from '../../core/domain/device-classes.js';
import { firmwarePropertyList } from './firmware.js';

/** Maker, product and serial of one simulated device (configurable so admission logic can be tested). */
export interface DeviceIdentity {
  /** 3-byte maker code; the default 0xFFFFFE is not assigned to any real maker. */
  makerCode: number;
  productCode: string;
  productionNumber: string;
  /** Running firmware version (maker-specific 0xF0, see ./firmware.ts); default 1.0.0. */
  firmwareVersion?: string | undefined;
}

/** The maker-specific firmware properties of a simulated device (./firmware.ts). */
export function firmwareProperties(id: DeviceIdentity) {
  return firmwarePropertyList(id.firmwareVersion ?? DEFAULT_FIRMWARE_VERSION);
}

export const DEFAULT_FIRMWARE_VERSION = '1.0.0';

export interface StepContext {
  /** Simulated instant at the end of the step. */
  t: EpochMillis;
  /** Simulated step length in ms. */
  dtMs: number;
  /** The site's power so far this step without this device (W, + = import from the grid). */
  netLoadW: number;
}

/** The kind a simulator plays: one of the registry's ECHONET Lite kinds (src/core/domain/device-classes.ts). */
export type DeviceKind = EchonetDeviceKind;

export interface DeviceSimulator {
  readonly kind: DeviceKind;
  readonly object: EchonetObject;
  /** Advances the physics; returns the AC power at the meter (W): + consumption/charging, − generation/discharging. */
  step(ctx: StepContext): Watts;
}

/** Superclass values (APPENDIX, device object super class) for a simulated device. */
export function superValues(id: DeviceIdentity, on = true) {
  return {
    operationStatus: (on ? 'on' : 'off') as 'on' | 'off',
    installationLocation: Uint8Array.of(0x00),
    standardVersion: { release: 'R', revision: 0 },
    faultStatus: 'noFault' as const,
    makerCode: id.makerCode,
    productCode: id.productCode,
    productionNumber: id.productionNumber,
    // 0x83: 0xFE, the maker code, then 13 bytes unique to the device (its production number).
    identificationNumber: { makerCode: id.makerCode, unique: Buffer.from(id.productionNumber.padEnd(13, '\0').slice(0, 13), 'latin1').toString('hex') },
  };
}

/** An unsigned long EDT (4 bytes, big-endian): for properties carried as table-checked bytes. */
export function u32(v: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return Uint8Array.from(b);
}

/** 0x97 current time (hh, mm) and 0x98 current date (YYYY as 2 bytes, MM, DD), JST, of instant t. */
export function clockValues(t: number): { currentTime: Uint8Array; currentDate: Uint8Array } {
  const f = jstFields(t);
  return {
    currentTime: Uint8Array.of(f.hour, f.minute),
    currentDate: Uint8Array.of(f.year >> 8, f.year & 0xff, f.month, f.day),
  };
}

export const hours = (ms: number): number => ms / 3_600_000;
export const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));
