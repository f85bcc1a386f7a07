/**
 * The ECHONET Lite edge of the gateway (interface R5): discovers the site's devices, feeds them
 * to admission, reads them into DeviceReadings, and turns DeviceCommands into Set requests.
 *
 * Commands → properties (APPENDIX Detailed Requirements for ECHONET Device Objects):
 * - storage battery 0x027D: 0xDA operation mode (charging / discharging / standby / automatic),
 *   0xEB charging power setting, 0xEC discharging power setting (W);
 * - EV charger/discharger 0x027E: 0xDA (charging / discharging / standby), 0xEB / 0xEC;
 * - household solar power 0x0279: 0xA0 output limit setting 1 (%);
 * - electric water heater 0x026B: 0xB0 automatic water heating setting (automatic / manual
 *   heating / manual stop);
 * - home air conditioner 0x0130: 0xB3 set temperature (°C);
 * - general lighting 0x0290: 0xB0 brightness (%);
 * - fuel cell 0x027C: 0xCA generation on/off, 0xD2 rated-maximum / load-following output.
 * `auto` restores what the owner had (OwnerNormal) — the recorded 0xDA / 0xB0 mode, 0xA0 limit,
 * 0xB3 temperature — and falls back to the class's automatic mode.
 *
 * Defence in depth: `execute` refuses any device that admission does not allow, even though the
 * engine never asks for one.
 */
import type { AuditSink } from '../../core/audit-port.js';
import type { Clock } from '../../core/clock.js';
import { NotAuthorizedError, PolicyRefusedError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import { watts, wattHours, type EpochMillis } from '../../core/units.js';
import type { EchonetController, PropertyResult, RemoteNode } from '../../protocols/echonet/controller.js';
import { isWebApiAddress, type WebApiClient } from '../../protocols/echonet/webapi/client.js';
import { eojClass, formatEoj, type Eoj } from '../../protocols/echonet/eoj.js';
import type { Property } from '../../protocols/echonet/frame.js';
import { classDefinition } from '../../protocols/echonet/objects/index.js';
import type { ClassDef, PropertyDef } from '../../protocols/echonet/objects/types.js';
import { meterReadingToWattHours, type EnergyUnit, type PhaseCurrents } from '../../protocols/echonet/objects/smart-meter.js';
import type { AdmissionRegistry, DeviceIdentity, DeviceRecord } from './admission.js';
import type { DeviceDirectory, DevicePort } from './engine.js';
import type { DeviceDetails } from './inventory.js';
import type { DeviceProfile } from './translate.js';
import { directionsOfEchonetClass } from '../../core/domain/device-classes.js';
import { deviceClassOfEchonet, type DeviceClass, type DeviceCommand, type DeviceReading, type OwnerNormal } from './types.js';

/** EPCs read per class for telemetry and control decisions. */
const READ_EPCS: Record<DeviceClass, number[]> = {
  battery: [0x80, 0xd3, 0xe4, 0xda, 0xd0, 0xc8, 0xc9],
  ev: [0x80, 0xd3, 0xe4, 0xda, 0xc7, 0xc5, 0xc6, 0xd0],
  pv: [0x80, 0xe0, 0xa0, 0xe8],
  water_heater: [0x80, 0xb0, 0xb2, 0x84],
  aircon: [0x80, 0xb0, 0xb3, 0x84],
  lighting: [0x80, 0xb0, 0x84],
  fuel_cell: [0x80, 0xc4, 0xca, 0xd2, 0xc2],
  // B-route view: instantaneous power and currents, both cumulative registers with their unit,
  // coefficient and effective digits (the register wraps at 10^digits).
  meter: [0x80, 0xe7, 0xe8, 0xe0, 0xe3, 0xe1, 0xd3, 0xd7],
  pcs: [0x80, 0xe7, 0xe0, 0xe3, 0xe8, 0xd0],
};

/** 0x81 installation location codes (upper 5 bits), APPENDIX §2 (device object super class). */
const LOCATIONS: Record<number, string> = {
  0x08: 'living room', 0x10: 'dining room', 0x18: 'kitchen', 0x20: 'bathroom', 0x28: 'lavatory',
  0x30: 'washroom', 0x38: 'passageway', 0x40: 'room', 0x48: 'stairway', 0x50: 'front door',
  0x58: 'storeroom', 0x60: 'garden', 0x68: 'garage', 0x70: 'veranda', 0x78: 'other',
};

/** Decodes 0x81: one-byte code (location + number), 0x00 not specified, 0xFF indefinite. */
export function describeLocation(edt: Uint8Array): string | undefined {
  if (edt.length !== 1) return edt.length === 17 ? 'position information' : undefined;
  const b = edt[0]!;
  if (b === 0x00) return undefined;
  if (b === 0xff) return 'indefinite';
  const name = LOCATIONS[b & 0xf8];
  const n = b & 0x07;
  return name ? (n ? `${name} ${n}` : name) : `location code 0x${b.toString(16).padStart(2, '0')}`;
}

interface SiteDevice {
  deviceId: string;
  address: string;
  eoj: Eoj;
  class: DeviceClass;
  def: ClassDef;
  reading?: DeviceReading | undefined;
  details: DeviceDetails;
}

export interface EchonetSiteOptions {
  controller: EchonetController;
  admission: AdmissionRegistry;
  clock: Clock;
  /** Device addresses to discover (unicast; multicast discovery is the controller's option). */
  addresses: readonly string[];
  /**
   * Where makers expose a firmware version: maker code (6 hex digits) → maker-specific EPC
   * (0xF0–0xFF) read as text. ECHONET Lite defines no standard firmware property, so this is
   * configured per maker from its documentation (自家用GL 8-2: know every device's software).
   */
  firmwareEpcs?: Readonly<Record<string, number>> | undefined;
  logger?: Logger | undefined;
  /** Where R5 security events go (a device INF from an unexpected or spoofed source). */
  audit?: AuditSink | undefined;
  /**
   * The ECHONET Lite Web API client (HTTPS with mutual TLS + OAuth 2.0) for devices reached over IP
   * beyond the home LAN: an address in `addresses` that is an https:// URL is a Web API node.
   */
  webApi?: WebApiClient | undefined;
}

/** What the site needs of a way to reach a node: the UDP controller or the Web API client. */
type NodeAccess = Pick<EchonetController, 'identify' | 'getProperties' | 'node'> & {
  setProperties(address: string, deoj: Eoj, props: Property[]): Promise<PropertyResult[]>;
};

/** At most one audit record per (event, source, EOJ) in this window: a flood stays one line. */
const SECURITY_EVENT_WINDOW_MS = 60_000;

function decodeWith<T>(def: ClassDef, epc: number, results: readonly PropertyResult[]): T | undefined {
  const r = results.find((x) => x.epc === epc && x.ok && x.edt.length > 0);
  const p = def.byEpc.get(epc) as PropertyDef<T> | undefined;
  if (!r || !p) return undefined;
  try {
    return p.codec.decode(r.edt);
  } catch {
    return undefined;
  }
}

function encodeWith(def: ClassDef, epc: number, value: unknown): Property {
  const p = def.byEpc.get(epc);
  if (!p) throw new PolicyRefusedError(`class ${def.name} has no property 0x${epc.toString(16)}`);
  return { epc, edt: p.codec.encode(value as never) };
}

/** Identity of a node as admission keys it. */
export function identityOfNode(n: RemoteNode): DeviceIdentity {
  return {
    identificationNumber: n.identity.identificationNumber?.toUpperCase(),
    makerCode: (n.identity.makerCode ?? 0).toString(16).toUpperCase().padStart(6, '0'),
    productCode: n.identity.productCode?.replace(/[\s\0]+$/, ''),
    serialNumber: n.identity.productionNumber?.replace(/[\s\0]+$/, ''),
  };
}

/**
 * The site's devices over ECHONET Lite.
 * @example
 *   const site = new EchonetSite({ controller, admission, clock, addresses: ['127.0.0.2'] });
 *   await site.discover();
 *   await site.poll();
 *   site.reading(deviceId);
 */
export class EchonetSite implements DeviceDirectory, DevicePort {
  private readonly devices = new Map<string, SiteDevice>();
  private readonly log: Logger;
  private polling: Promise<void> | undefined;

  private readonly firmwareEpcs: Map<number, number>;

  constructor(private readonly o: EchonetSiteOptions) {
    this.log = o.logger ?? silentLogger;
    this.firmwareEpcs = new Map(Object.entries(o.firmwareEpcs ?? {}).map(([maker, epc]) => [Number.parseInt(maker, 16), epc]));
    o.controller.on('identityChanged', ({ address }) => {
      void this.identify(address).catch((err: unknown) => this.log.warn({ address, err: (err as Error).message }, 're-identification failed'));
    });
    o.controller.on('node', (node) => this.register(node));
    o.controller.on('inf', (inf) => this.checkNotification(inf.address, inf.seoj));
  }

  private readonly lastSecurityEvent = new Map<string, number>();

  /** The Web API client for an https:// address, the UDP controller otherwise. */
  private access(address: string): NodeAccess {
    if (!isWebApiAddress(address)) return this.o.controller;
    if (!this.o.webApi) throw new PolicyRefusedError(`${address.slice(0, 200)} is an ECHONET Lite Web API address, but no Web API client is configured`);
    return this.o.webApi;
  }

  /**
   * Protected R5: a device object's INF is expected only from the address its device is pinned
   * to. One from elsewhere for the EOJ of an admitted device is a spoofed source; one from a
   * source no device is pinned to is unexpected. Both are ignored (INF never drives a reading)
   * and recorded as security events. Node profile INF (instance list announcements) stay the
   * way new devices are found.
   */
  private checkNotification(address: string, seoj: Eoj): void {
    if (eojClass(seoj) === 0x0ef0) return;
    const devices = [...this.devices.values()];
    if (devices.some((d) => d.address === address && d.eoj === seoj)) return;
    const victim = devices.find((d) => d.eoj === seoj && this.o.admission.isControllable(d.deviceId));
    const action = victim ? 'gateway.security.spoofed_inf' : 'gateway.security.unexpected_inf';
    const key = `${action} ${address} ${formatEoj(seoj)}`;
    const now = this.o.clock.now();
    if (now - (this.lastSecurityEvent.get(key) ?? -Infinity) < SECURITY_EVENT_WINDOW_MS) return;
    this.lastSecurityEvent.set(key, now);
    this.log.warn({ address, eoj: formatEoj(seoj) }, 'ECHONET Lite INF from an unexpected source ignored');
    this.o.audit?.append({
      actor: { kind: 'system', id: 'gateway.echonet' }, action, target: victim?.deviceId ?? `${address} ${formatEoj(seoj)}`, outcome: 'refused',
      reason: victim
        ? `INF for ${formatEoj(seoj)} from ${address}, but the admitted device is pinned to ${victim.address}; ignored`
        : `INF for ${formatEoj(seoj)} from ${address}, where no device is pinned; ignored`,
      details: { address, eoj: formatEoj(seoj), ...(victim ? { pinned: victim.address } : {}) },
    });
  }

  /** Discovers and identifies the configured addresses; every object found goes through admission. */
  async discover(): Promise<void> {
    for (const address of this.o.addresses) {
      try {
        await this.identify(address);
      } catch (err) {
        this.log.warn({ address, err: (err as Error).message }, 'ECHONET Lite node did not answer');
      }
    }
  }

  /** Identifies one node (again) and registers its objects. */
  async identify(address: string): Promise<void> {
    const node = await this.access(address).identify(address);
    this.register(node);
    for (const d of this.devices.values()) if (d.address === address) await this.readDetails(d);
  }

  private register(node: RemoteNode): void {
    const identity = identityOfNode(node);
    for (const inst of node.instances) {
      const cls = deviceClassOfEchonet(eojClass(inst));
      const def = classDefinition(eojClass(inst));
      if (!cls || !def) continue;
      const { record, change } = this.o.admission.observe({ address: node.address, eoj: formatEoj(inst), class: cls, identity });
      // A pinned device seen from another source keeps its pin: the clone is not registered.
      if (change === 'conflict') continue;
      const existing = this.devices.get(record.deviceId);
      const release = node.releases.get(inst);
      this.devices.set(record.deviceId, {
        deviceId: record.deviceId, address: node.address, eoj: inst, class: cls, def,
        reading: existing?.reading,
        details: { ...(existing?.details ?? {}), ...(release ? { standardVersion: release } : {}) },
      });
    }
  }

  private async readDetails(d: SiteDevice): Promise<void> {
    const maker = this.access(d.address).node(d.address)?.identity.makerCode;
    const fwEpc = maker === undefined ? undefined : this.firmwareEpcs.get(maker);
    // 0x8C: the object's own product code (型番): a node holding a battery and a meter has one
    // node-profile product code but two products, and vulnerability matching needs the product's.
    const epcs = fwEpc === undefined ? [0x81, 0x8c] : [0x81, 0x8c, fwEpc];
    const r = await this.access(d.address).getProperties(d.address, d.eoj, epcs).catch(() => []);
    const loc = r.find((x) => x.epc === 0x81 && x.ok);
    if (loc) d.details.installationLocation = describeLocation(loc.edt);
    const pc = r.find((x) => x.epc === 0x8c && x.ok && x.edt.length > 0 && x.edt.length <= 12);
    const product = pc ? Buffer.from(pc.edt).toString('latin1').replace(/[\s\0]+$/, '') : '';
    if (/^[\x20-\x7e]+$/.test(product)) d.details.productCode = product;
    const fw = fwEpc === undefined ? undefined : r.find((x) => x.epc === fwEpc && x.ok && x.edt.length > 0);
    if (fw) d.details.firmwareVersion = firmwareText(fw.edt);
  }

  /**
   * Reads every known device once; a device that does not answer is marked offline. A poll
   * still running is not started again: reads must never queue up in front of commands.
   */
  async poll(): Promise<void> {
    if (this.polling) return this.polling;
    this.polling = Promise.all([...this.devices.values()].map((d) => this.read(d))).then(() => undefined).finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async read(d: SiteDevice): Promise<void> {
    const now = this.o.clock.now();
    const node = this.access(d.address).node(d.address);
    const gettable = node?.maps.get(d.eoj)?.get;
    const epcs = READ_EPCS[d.class].filter((e) => !gettable || gettable.length === 0 || gettable.includes(e));
    let results: PropertyResult[];
    try {
      results = await this.access(d.address).getProperties(d.address, d.eoj, epcs);
    } catch (err) {
      d.reading = { ...(d.reading ?? { deviceId: d.deviceId, class: d.class }), at: now, online: false };
      this.log.debug({ device: d.deviceId, err: (err as Error).message }, 'device read failed');
      return;
    }
    d.reading = readingFrom(d, results, now);
  }

  // ------------------------------------------------------------------ DeviceDirectory

  resources(): ReadonlySet<string> {
    return new Set(this.devices.keys());
  }
  isControllable(deviceId: string): boolean {
    return this.o.admission.isControllable(deviceId);
  }
  profile(deviceId: string): DeviceProfile | undefined {
    const d = this.devices.get(deviceId);
    if (!d) return undefined;
    const r = d.reading;
    return {
      deviceId, class: d.class, ratedChargeW: r?.ratedChargeW, ratedDischargeW: r?.ratedDischargeW,
      canDischarge: d.class === 'ev' ? directionsOfEchonetClass(eojClass(d.eoj)).includes('reduce') : undefined,
    };
  }
  reading(deviceId: string): DeviceReading | undefined {
    return this.devices.get(deviceId)?.reading;
  }
  /** Everything the inventory needs beyond the admission record. */
  details(deviceId: string): DeviceDetails | undefined {
    return this.devices.get(deviceId)?.details;
  }
  /** Admission records of the devices present. */
  records(): DeviceRecord[] {
    return this.o.admission.list();
  }

  /** The maker code (6 hex digits) of the node a device is on, or undefined when unknown. */
  makerCodeOf(deviceId: string): string | undefined {
    const d = this.devices.get(deviceId);
    const maker = d ? this.access(d.address).node(d.address)?.identity.makerCode : undefined;
    return maker === undefined ? undefined : maker.toString(16).toUpperCase().padStart(6, '0');
  }

  /**
   * Sends a maker-specific firmware command (SetC of `text` as ASCII to `epc`, e.g. an install or
   * a rollback) to an admitted device; throws when the device refuses it.
   */
  async firmwareCommand(deviceId: string, epc: number, text: string): Promise<void> {
    const d = this.devices.get(deviceId);
    if (!d) throw new PolicyRefusedError(`unknown device ${deviceId}`);
    if (!this.o.admission.isControllable(deviceId)) throw new NotAuthorizedError(`device ${deviceId} is not admitted; no firmware command is sent`);
    const results = await this.access(d.address).setProperties(d.address, d.eoj, [{ epc, edt: new Uint8Array(Buffer.from(text, 'latin1')) }]);
    if (results.some((r) => !r.ok)) throw new PolicyRefusedError(`device ${deviceId} refused the firmware command on 0x${epc.toString(16).toUpperCase()} (SetC_SNA)`);
  }

  /** Reads a device's firmware version and fault status (0x88) again: the health check after an update. */
  async firmwareState(deviceId: string): Promise<{ firmwareVersion?: string | undefined; fault?: boolean | undefined }> {
    const d = this.devices.get(deviceId);
    if (!d) throw new PolicyRefusedError(`unknown device ${deviceId}`);
    await this.readDetails(d);
    const r = await this.access(d.address).getProperties(d.address, d.eoj, [0x88]);
    const fault = decodeWith<string>(d.def, 0x88, r);
    return { firmwareVersion: d.details.firmwareVersion, fault: fault === undefined ? undefined : fault !== 'noFault' };
  }

  // ------------------------------------------------------------------ DevicePort

  async execute(cmd: DeviceCommand, normal: OwnerNormal | undefined): Promise<void> {
    const d = this.devices.get(cmd.deviceId);
    if (!d) throw new PolicyRefusedError(`unknown device ${cmd.deviceId}`);
    if (!this.o.admission.isControllable(cmd.deviceId)) {
      throw new NotAuthorizedError(`device ${cmd.deviceId} is not admitted; no Set is sent`);
    }
    const props = propertiesFor(d.def, d.class, cmd, normal);
    if (props.length === 0) return;
    const results = await this.access(d.address).setProperties(d.address, d.eoj, props);
    const refused = results.filter((r) => !r.ok).map((r) => `0x${r.epc.toString(16).toUpperCase()}`);
    if (refused.length > 0) throw new PolicyRefusedError(`device ${cmd.deviceId} refused ${refused.join(', ')} (SetC_SNA)`);
    // The reading is left as it is: only a Get after this Set says what the device does now
    // (the engine tells fresh readings from stale ones by their time).
  }
}

/** A maker's firmware property as text: printable ASCII (trailing NUL/space trimmed), else hex. */
export function firmwareText(edt: Uint8Array): string {
  const text = Buffer.from(edt).toString('latin1').replace(/[\0 ]+$/, '');
  return /^[\x20-\x7e]{1,64}$/.test(text) ? text : `0x${Buffer.from(edt.subarray(0, 32)).toString('hex')}`;
}

/** The Set properties that carry out `cmd` on a device of `cls`. */
export function propertiesFor(def: ClassDef, cls: DeviceClass, cmd: DeviceCommand, normal: OwnerNormal | undefined): Property[] {
  const p = (epc: number, v: unknown) => encodeWith(def, epc, v);
  const restoreMode = (allowed: readonly string[], fallback: string) => (normal?.mode && allowed.includes(normal.mode) ? normal.mode : fallback);
  switch (cls) {
    case 'battery':
      switch (cmd.action) {
        case 'charge': return [p(0xeb, watts(cmd.powerW ?? 0)), p(0xda, 'charging')];
        case 'discharge': return [p(0xec, watts(cmd.powerW ?? 0)), p(0xda, 'discharging')];
        case 'standby': return [p(0xda, 'standby')];
        case 'auto': return [p(0xda, restoreMode(['charging', 'discharging', 'standby', 'automatic'], 'automatic'))];
        default: break;
      }
      break;
    case 'ev':
      switch (cmd.action) {
        case 'ev_charge': return [p(0xeb, watts(cmd.powerW ?? 0)), p(0xda, 'charging')];
        case 'ev_discharge': return [p(0xec, watts(cmd.powerW ?? 0)), p(0xda, 'discharging')];
        case 'ev_stop': return [p(0xda, 'standby')];
        case 'auto': return [p(0xda, restoreMode(['charging', 'discharging', 'standby', 'idle'], 'standby'))];
        default: break;
      }
      break;
    case 'pv':
      if (cmd.action === 'pv_limit') return [p(0xa0, Math.round(cmd.percent ?? 100))];
      if (cmd.action === 'auto') return [p(0xa0, Math.round(normal?.percent ?? 100))];
      break;
    case 'water_heater':
      if (cmd.action === 'boil') return [p(0xb0, 'manualHeating')];
      if (cmd.action === 'stop_boil') return [p(0xb0, 'manualStop')];
      if (cmd.action === 'auto') return [p(0xb0, restoreMode(['automatic', 'manualHeating', 'manualStop'], 'automatic'))];
      break;
    case 'aircon':
      if (cmd.action === 'aircon_setpoint') return [p(0xb3, Math.round(cmd.temperatureC ?? 0))];
      if (cmd.action === 'auto') return normal?.temperatureC !== undefined ? [p(0xb3, Math.round(normal.temperatureC))] : [];
      break;
    case 'fuel_cell':
      if (cmd.action === 'generate') return [p(0xd2, 'maximumRating'), p(0xca, 'generationOn')];
      if (cmd.action === 'stop_generate') return [p(0xca, 'generationOff')];
      // The owner's setting (normally on) in the normal load-following output.
      if (cmd.action === 'auto') return [p(0xd2, 'loadFollowing'), p(0xca, restoreMode(['generationOn', 'generationOff'], 'generationOn'))];
      break;
    case 'lighting':
      if (cmd.action === 'light_level') return [p(0xb0, Math.round(cmd.percent ?? 100))];
      if (cmd.action === 'auto') return [p(0xb0, Math.round(normal?.percent ?? 100))];
      break;
    case 'meter':
    case 'pcs':
      break;
  }
  throw new PolicyRefusedError(`action ${cmd.action} has no ECHONET Lite mapping for class ${cls}`);
}

/** A DeviceReading from the results of one Get. */
function readingFrom(d: SiteDevice, results: readonly PropertyResult[], at: number): DeviceReading {
  const v = <T>(epc: number) => decodeWith<T>(d.def, epc, results);
  const r: DeviceReading = { deviceId: d.deviceId, class: d.class, at: at as EpochMillis, online: v<string>(0x80) !== 'off' };
  switch (d.class) {
    case 'battery':
    case 'ev': {
      const p = v<number>(0xd3);
      if (p !== undefined) r.powerW = watts(p);
      r.socPercent = v<number>(0xe4);
      r.mode = v<string>(0xda);
      const cap = v<number>(0xd0);
      if (cap !== undefined) r.capacityWh = wattHours(cap);
      if (d.class === 'battery') {
        const c = v<[number, number]>(0xc8);
        const dc = v<[number, number]>(0xc9);
        if (c) r.ratedChargeW = watts(c[1]);
        if (dc) r.ratedDischargeW = watts(dc[1]);
      } else {
        const c = v<number>(0xc5);
        const dc = v<number>(0xc6);
        if (c !== undefined) r.ratedChargeW = watts(c);
        if (dc !== undefined) r.ratedDischargeW = watts(dc);
        const conn = v<string>(0xc7);
        if (conn !== undefined) r.pluggedIn = !/notConnected|undefined/i.test(conn);
      }
      break;
    }
    case 'pv': {
      const g = v<number>(0xe0);
      if (g !== undefined) r.powerW = watts(-g);
      r.pvLimitPercent = v<number>(0xa0);
      const rated = v<number>(0xe8);
      if (rated !== undefined) r.ratedOutputW = watts(rated);
      break;
    }
    case 'water_heater': {
      r.mode = v<string>(0xb0);
      const p = v<number>(0x84);
      if (p !== undefined) r.powerW = watts(p);
      break;
    }
    case 'aircon': {
      const mode = v<string>(0xb0);
      r.airconMode = mode === 'cooling' ? 'cooling' : mode === 'heating' ? 'heating' : mode === 'automatic' ? 'auto' : mode === 'dehumidification' ? 'dry' : mode === 'airCirculator' ? 'fan' : mode ? 'other' : undefined;
      r.temperatureC = v<number>(0xb3);
      const p = v<number>(0x84);
      if (p !== undefined) r.powerW = watts(p);
      break;
    }
    case 'fuel_cell': {
      const g = v<number>(0xc4);
      if (g !== undefined) r.powerW = watts(-g);
      r.mode = v<string>(0xca);
      const rated = v<number>(0xc2);
      if (rated !== undefined) r.ratedOutputW = watts(rated);
      break;
    }
    case 'lighting': {
      r.levelPercent = v<number>(0xb0);
      const p = v<number>(0x84);
      if (p !== undefined) r.powerW = watts(p);
      break;
    }
    case 'meter': {
      const p = v<number>(0xe7);
      if (p !== undefined) r.powerW = watts(p);
      const count = v<number>(0xe0);
      const unit = v<EnergyUnit>(0xe1);
      const coefficient = v<number>(0xd3) ?? 1;
      if (count !== undefined && unit !== undefined) r.energyWh = meterReadingToWattHours(count, unit, coefficient);
      const sold = v<number>(0xe3);
      if (sold !== undefined && unit !== undefined) r.exportedEnergyWh = meterReadingToWattHours(sold, unit, coefficient);
      const currents = v<PhaseCurrents>(0xe8);
      if (currents) r.phaseCurrentsA = { r: currents.r, ...(currents.t !== null ? { t: currents.t } : {}) };
      break;
    }
    case 'pcs': {
      const p = v<number>(0xe7);
      if (p !== undefined) r.powerW = watts(p);
      const bought = v<number>(0xe0);
      if (bought !== undefined) r.energyWh = wattHours(bought);
      const sold = v<number>(0xe3);
      if (sold !== undefined) r.exportedEnergyWh = wattHours(sold);
      r.connectedObjects = v<Eoj[]>(0xe8)?.map(formatEoj);
      break;
    }
  }
  return r;
}


