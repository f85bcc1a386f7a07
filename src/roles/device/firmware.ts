/**
 * Simulated device firmware with A/B slots, exposed the way makers do it: ECHONET Lite defines no
 * firmware property, so erab's simulated maker (code 0xFFFFFE, unassigned) uses two maker-specific
 * properties (APPENDIX: 0xF0–0xFF are the maker's own):
 *
 *   0xF0  firmware version, Get: ASCII, e.g. "1.0.0" (the gateway's `echonet.firmwareEpcs`
 *         reads it into the inventory the aggregator sees)
 *   0xF1  firmware install, SetC: ASCII `install <version> <sha256 of the image>` writes the
 *         image to the inactive slot and boots it; `rollback` boots the previous slot again
 *
 * A version listed in the site's `firmware.faultyVersions` boots into a fault (0x88 fault
 * status = faultOccurred): that is what a gateway's health check after an update must catch.
 * The gateway checks the package's signature; the device accepts installs only over its LAN from
 * the controller, as real devices with a maker update service do.
 */
import type { EchonetObject } from '../../protocols/echonet/object.js';
import { rawProperty } from '../../protocols/echonet/objects/types.js';

export const FIRMWARE_VERSION_EPC = 0xf0;
export const FIRMWARE_INSTALL_EPC = 0xf1;
const INSTALL = /^install (\d{1,9}(?:\.\d{1,9}){0,3}) ([0-9a-f]{64})$/;

/** The EDT of a firmware version (padded to nothing: the gateway trims trailing NUL/space). */
export function firmwareEdt(version: string): Uint8Array {
  return new Uint8Array(Buffer.from(version, 'latin1'));
}

/** The maker-specific properties of a simulated device (initial values). */
export function firmwarePropertyList(version: string): { def: ReturnType<typeof rawProperty>; edt: Uint8Array }[] {
  return [
    { def: rawProperty(FIRMWARE_VERSION_EPC, 'G'), edt: firmwareEdt(version) },
    { def: rawProperty(FIRMWARE_INSTALL_EPC, 'S'), edt: new Uint8Array(0) },
  ];
}

/**
 * Handles installs on one simulated device object (chained in front of the simulator's own Set
 * hook). `faulty` says which versions boot into a fault.
 */
export class SimulatedFirmware {
  private active: string;
  private previous: string | undefined;

  constructor(private readonly object: EchonetObject, initial: string, private readonly faulty: ReadonlySet<string>) {
    this.active = initial;
    const inner = object.setHook(undefined);
    object.setHook((epc, value) => (epc === FIRMWARE_INSTALL_EPC ? this.command(value as Uint8Array) : inner?.(epc, value)));
  }

  /** The running version. */
  version(): string {
    return this.active;
  }

  private command(edt: Uint8Array): string | void {
    const text = Buffer.from(edt).toString('latin1');
    if (text === 'rollback') {
      if (this.previous === undefined) return 'no previous firmware to roll back to';
      this.boot(this.previous, undefined);
      return;
    }
    const m = INSTALL.exec(text);
    if (!m) return 'expected "install <version> <sha256>" or "rollback"';
    this.boot(m[1]!, this.active);
  }

  private boot(version: string, previous: string | undefined): void {
    this.previous = previous;
    this.active = version;
    const props = this.object.definition.props as Record<string, Parameters<EchonetObject['set']>[0]>;
    this.object.set(props.faultStatus!, this.faulty.has(version) ? 'faultOccurred' : 'noFault');
    // 0xF0 is not settable from the network; the device writes its own value.
    this.object.set(rawProperty(FIRMWARE_VERSION_EPC, 'G'), firmwareEdt(version));
  }
}
