/**
 * ECHONET objects (EOJ): class group code, class code and instance code, three bytes
 * (ECHONET Lite Specification Ver.1.14 Part 2 §3.2.4, SEOJ/DEOJ). Kept as one 24-bit number
 * `0xGGCCII` so that it is cheap to compare and to use as a map key.
 */
import { InvalidInputError } from '../../core/errors.js';

declare const eojBrand: unique symbol;
/** An ECHONET object as 0xGGCCII (group, class, instance). */
export type Eoj = number & { readonly [eojBrand]: 'eoj' };
/** An ECHONET object class as 0xGGCC (group, class). */
export type EojClass = number;

/** Builds an EOJ from a class code (0xGGCC) and an instance code (0x00–0x7F; 0x00 = all instances). */
export function eoj(classCode: EojClass, instance: number): Eoj {
  if (!Number.isInteger(classCode) || classCode < 0 || classCode > 0xffff) {
    throw new InvalidInputError(`EOJ class code ${classCode} is not 0x0000–0xFFFF`);
  }
  if (!Number.isInteger(instance) || instance < 0 || instance > 0xff) {
    throw new InvalidInputError(`EOJ instance code ${instance} is not 0x00–0xFF`);
  }
  return ((classCode << 8) | instance) as Eoj;
}

/** The class (0xGGCC) of an EOJ. */
export const eojClass = (o: Eoj): EojClass => (o >>> 8) & 0xffff;
/** The instance code of an EOJ; 0x00 addresses every instance of the class (Part 2 §3.2.4). */
export const eojInstance = (o: Eoj): number => o & 0xff;

/** "027D01" form (upper case), the usual way EOJs are written in the standard. */
export function formatEoj(o: Eoj): string {
  return o.toString(16).toUpperCase().padStart(6, '0');
}

/** Parses "027D01" or "0x027d01". */
export function parseEoj(text: string): Eoj {
  const t = text.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{6}$/.test(t)) throw new InvalidInputError(`EOJ "${text}" is not six hex digits (e.g. 027D01)`);
  return Number.parseInt(t, 16) as Eoj;
}

/** Well-known class codes used by erab (APPENDIX Detailed Requirements for ECHONET Device Objects). */
export const ClassCode = {
  nodeProfile: 0x0ef0,
  airConditioner: 0x0130,
  electricWaterHeater: 0x026b,
  householdSolarPower: 0x0279,
  fuelCell: 0x027c,
  storageBattery: 0x027d,
  evChargerDischarger: 0x027e,
  lowVoltageSmartMeter: 0x0288,
  generalLighting: 0x0290,
  evCharger: 0x02a1,
  multiInputPcs: 0x02a5,
  controller: 0x05ff,
} as const;

/** The node profile object of a general node, 0x0EF001 (Part 2 §6.11.1). */
export const NODE_PROFILE_EOJ = eoj(ClassCode.nodeProfile, 0x01);
/** Node profile of a transmission-only node, 0x0EF002. */
export const NODE_PROFILE_SEND_ONLY_EOJ = eoj(ClassCode.nodeProfile, 0x02);
