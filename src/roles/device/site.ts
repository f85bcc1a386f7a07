/**
 * A simulated home: the devices of one site hosted by one ECHONET Lite node on its own address,
 * with a smart meter that measures the sum of them plus a base load. Time runs either in real
 * time times a speed factor (timers on the injected clock) or only when a test calls `advance`.
 */
import { z } from 'zod';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import { ConfigError, explain, inBoth, type ExplainedLine } from '../../core/errors.js';
import { issueRule } from '../../core/zod-rules.js';
import type { AuditSink } from '../../security/audit/types.js';
import { EchonetNode } from '../../protocols/echonet/node.js';
import type { EchonetObject } from '../../protocols/echonet/object.js';
import { AirconSimulator } from './aircon.js';
import { BatterySimulator } from './battery.js';
import { EvSimulator } from './ev.js';
import { PvSimulator } from './pv.js';
import { seededRandom, SimulationTime } from './sim-time.js';
import { DEFAULT_FIRMWARE_VERSION, type DeviceIdentity, type DeviceKind, type DeviceSimulator } from './simulator.js';
import { SimulatedFirmware } from './firmware.js';
import { SmartMeterSimulator } from './smart-meter.js';
import { LightingSimulator } from './lighting.js';
import { FuelCellSimulator } from './fuel-cell.js';
import { WaterHeaterSimulator } from './water-heater.js';
import { PcsSimulator } from './pcs.js';
import type { Server } from 'node:https';
import type { AllowListConfig } from '../../security/allow-list.js';
import { PARTICIPANT_ID_PATTERN } from '../../security/identity.js';
import { createMutualTlsServer, type TlsMaterial } from '../../security/tls.js';
import { webApiHandler, type WebApiClientCredential } from '../../protocols/echonet/webapi/server.js';

/** Overrides of one device's identity (maker, product code, production number, firmware version). */
const identityOverride = z.object({
  /** ECHONET Lite maker code of this device (3 bytes); default: the site's `makerCode`. */
  makerCode: z.number().int().min(0).max(0xffffff).optional(),
  /** Product code (EPC 0x8C), up to 12 ASCII characters; default `ERAB-<kind>`. */
  productCode: z.string().max(12).optional(),
  /** Production (serial) number (EPC 0x8D), up to 12 ASCII characters; default `<serialPrefix>-<kind>`. */
  productionNumber: z.string().max(12).optional(),
  /** Firmware version this device reports and starts with; default: the site's `firmware.version`. */
  firmwareVersion: z.string().regex(/^\d{1,9}(\.\d{1,9}){0,3}$/, 'must be a dotted numeric version').optional(),
}).strict();

/** The site configuration, validated (zod) with realistic Japanese residential defaults. */
export const SiteConfigSchema = z.object({
  /** IPv4 address the site's ECHONET Lite node binds (one address per simulated home). */
  address: z.ipv4(),
  /** UDP port to bind (3610, the ECHONET Lite port; 0 = ephemeral). */
  port: z.number().int().min(0).max(65535).default(3610),
  /** Where responses go: a port (default 3610, what the standard's controllers listen on) or "source" (the request's source port). */
  replyPort: z.union([z.number().int().min(1).max(65535), z.literal('source')]).optional(),
  /** Simulated ms per real ms. */
  speed: z.number().positive().max(100_000).default(1),
  /** Real ms between physics steps in real-time mode. */
  tickMs: z.number().int().min(10).max(60_000).default(1000),
  /** Simulated start instant (epoch ms); default now. */
  startTime: z.number().int().optional(),
  /** Seed of the simulation's random numbers (noise, base load), so a run can be repeated. */
  seed: z.number().int().default(1),
  /** ECHONET Lite maker code of every device (3 bytes; 0xFFFFFE = experimental). */
  makerCode: z.number().int().min(0).max(0xffffff).default(0xfffffe),
  /** Simulated firmware (./firmware.ts): the version every device starts with, and versions that boot into a fault. */
  firmware: z.object({
    /** Firmware version every device starts with (dotted numbers). */
    version: z.string().regex(/^\d{1,9}(\.\d{1,9}){0,3}$/, 'must be a dotted numeric version').default(DEFAULT_FIRMWARE_VERSION),
    /** Versions that boot into a fault when installed (to exercise update roll-back). */
    faultyVersions: z.array(z.string().max(40)).max(100).default([]),
  }).strict().prefault({}),
  /** Prefix of production numbers; default derived from the address. */
  serialPrefix: z.string().regex(/^[\x20-\x7e]{1,8}$/).optional(),
  /** Unicast targets of the node's announcements (INF), for networks without multicast. */
  peers: z.array(z.object({ address: z.ipv4(), port: z.number().int().min(1).max(65535).optional() }).strict()).default([]),
  /** Join and announce to the ECHONET Lite multicast group (true, or the group and interface address). */
  multicast: z.union([z.boolean(), z.object({ group: z.ipv4().optional(), interfaceAddress: z.ipv4().optional() }).strict()]).default(false),
  /** SO_REUSEADDR on the unicast socket (to share a host with a stack bound to 0.0.0.0:3610). */
  reuseAddr: z.boolean().default(false),
  /** A storage battery (EOJ 0x027D); null = none. */
  battery: z.object({
    /** Usable capacity, Wh (Japanese home batteries: 5–16 kWh). */
    capacityWh: z.number().min(1000).max(100_000).default(9800),
    /** Largest charge power of the inverter, W. */
    maxChargeW: z.number().min(100).max(50_000).default(3000),
    /** Largest discharge power of the inverter, W. */
    maxDischargeW: z.number().min(100).max(50_000).default(3000),
    /** State of charge at start, %. */
    initialSocPercent: z.number().min(0).max(100).default(50),
    /** The battery's own floor: it does not discharge below this state of charge, %. */
    minSocPercent: z.number().min(0).max(100).default(10),
    identity: identityOverride.optional(),
  }).strict().nullable().default(null),
  /** A PV system (EOJ 0x0279); null = none. */
  pv: z.object({
    /** Rated output, W (Japanese homes: 3–6 kW). */
    ratedW: z.number().min(100).max(65_533).default(4500),
    /** ± fraction of random variation of the output (passing clouds); 0 = clear sky. */
    noise: z.number().min(0).max(1).default(0),
    /** Latitude of the site for the sun's elevation, degrees north (35 ≈ Tokyo). */
    latitudeDeg: z.number().min(20).max(46).default(35),
    identity: identityOverride.optional(),
  }).strict().nullable().default(null),
  /** An EV charger/discharger (V2H, EOJ 0x027E) with its vehicle; null = none. */
  ev: z.object({
    /** The vehicle's battery capacity, Wh (40–60 kWh typical). */
    vehicleCapacityWh: z.number().min(5000).max(200_000).default(40_000),
    /** Largest charge power of the V2H unit, W. */
    maxChargeW: z.number().min(1000).max(20_000).default(6000),
    /** Largest discharge power of the V2H unit, W. */
    maxDischargeW: z.number().min(1000).max(20_000).default(6000),
    /** The vehicle's state of charge at start, %. */
    initialSocPercent: z.number().min(0).max(100).default(60),
    /** Whether the vehicle is plugged in (when no `pluggedHours` are given). */
    pluggedIn: z.boolean().default(true),
    /** Commuter schedule [from, to] in JST hours (e.g. [18, 8]); absent = always as pluggedIn. */
    pluggedHours: z.tuple([z.number().min(0).max(24), z.number().min(0).max(24)]).optional(),
    /** Energy a day's driving takes from the vehicle while away, Wh. */
    driveWh: z.number().min(0).max(100_000).default(6000),
    identity: identityOverride.optional(),
  }).strict().nullable().default(null),
  /** A heat-pump water heater (EcoCute, EOJ 0x026B); null = none. */
  waterHeater: z.object({
    /** Tank volume, litres (370–460 L typical). */
    tankLitres: z.number().min(100).max(1000).default(460),
    /** Power drawn while heating, W (about 1–1.5 kW). */
    heaterW: z.number().min(300).max(5000).default(1200),
    /** Hot water remaining at start, % of the tank. */
    initialFillPercent: z.number().min(0).max(100).default(70),
    identity: identityOverride.optional(),
  }).strict().nullable().default(null),
  /** A home air conditioner (EOJ 0x0130); null = none. */
  aircon: z.object({
    /** Power drawn while running, W. */
    ratedW: z.number().min(300).max(10_000).default(2000),
    /** Set temperature at start, °C. */
    setC: z.number().int().min(16).max(32).default(26),
    /** Running at start. */
    on: z.boolean().default(false),
    identity: identityOverride.optional(),
  }).strict().nullable().default(null),
  /** A household fuel cell (ENE-FARM, EOJ 0x027C); null = none. */
  fuelCell: z.object({
    /** Rated electric output, W. */
    ratedW: z.number().min(100).max(5000).default(700),
    /** Generating at start. */
    generating: z.boolean().default(true),
    identity: identityOverride.optional(),
  }).strict().nullable().default(null),
  /** General lighting (EOJ 0x0290); null = none. */
  lighting: z.object({
    /** Power drawn at full brightness, W. */
    ratedW: z.number().min(5).max(5000).default(120),
    /** Brightness at start, %. */
    brightnessPercent: z.number().int().min(0).max(100).default(100),
    /** Lit at start. */
    on: z.boolean().default(true),
    identity: identityOverride.optional(),
  }).strict().nullable().default(null),
  /**
   * A multi-input PCS (EOJ 0x02A5) that the site's PV and battery share (at least one of them is
   * needed); it measures their AC exchange. null = none.
   */
  pcs: z.object({
    /** The PCS's own consumption while on, W. */
    standbyW: z.number().min(0).max(200).default(15),
    identity: identityOverride.optional(),
  }).strict().nullable().default(null),
  /** The smart meter (EOJ 0x0288): measures the sum of the devices plus a household base load. */
  meter: z.object({
    /** Household base load at its lowest (night), W. */
    baseLoadMinW: z.number().min(0).max(20_000).default(250),
    /** Household base load at its peaks (morning and evening), W. */
    baseLoadMaxW: z.number().min(0).max(20_000).default(900),
    /** ± fraction of random variation of the base load. */
    noise: z.number().min(0).max(1).default(0),
    identity: identityOverride.optional(),
  }).strict().default({ baseLoadMinW: 250, baseLoadMaxW: 900, noise: 0 }),
  /**
   * Serve the site's objects over the ECHONET Lite Web API too (a device reached beyond the home
   * LAN, R5): HTTPS with mutual TLS (profile R5) and OAuth 2.0 client credentials. Absent = UDP only.
   */
  webApi: z.object({
    /** TCP port of the HTTPS listener on the site's address (0 = ephemeral; the start-up line prints the URL). */
    port: z.number().int().min(0).max(65535).default(0),
    /** The node's device certificate (urn:erab:device:<id>, `erab pki issue --role device`), its key, the CA gateways chain to, its CRL. */
    tls: z.object({
      certFile: z.string().min(1),
      keyFile: z.string().min(1),
      caFile: z.string().min(1),
      crlFile: z.string().min(1).optional(),
    }).strict(),
    /** OAuth 2.0 clients allowed to obtain tokens; each secret in its own file (never in the configuration). */
    clients: z.array(z.object({
      /** The client id (the gateway's registration at this node). */
      id: z.string().min(1).max(200),
      /** File holding the client secret (trailing newline ignored). */
      secretFile: z.string().min(1),
    }).strict()).min(1).max(100),
    /** Gateway ids whose certificates may connect (urn:erab:gateway:<id>); absent = any gateway certificate from the CA. */
    gateways: z.array(z.string().regex(PARTICIPANT_ID_PATTERN, 'must be a participant id (letters, digits, . _ -; up to 64)')).min(1).optional(),
  }).strict().optional(),
  /** The site's tamper-evident audit log (refused connections and requests, ECHONET Lite refusals); opened when `webApi` is served or this is given. */
  audit: z.object({
    /** The log directory. */
    dir: z.string().min(1).default('audit'),
    /** Log identity and checkpoint key name (default erab/device-<address>/audit). */
    origin: z.string().optional(),
  }).strict().optional(),
}).strict().refine((c) => !c.pcs || c.pv || c.battery, { path: ['pcs'], message: 'a multi-input PCS needs a PV system or a battery on its inputs' });

export type SiteConfigInput = z.input<typeof SiteConfigSchema>;
export type SiteConfig = z.output<typeof SiteConfigSchema>;

/**
 * Validates a site configuration; the error names the source (a file, or a text in both languages
 * such as inBoth('config.source.commandLine')), the field and the rule.
 */
export function parseSiteConfig(input: unknown, source: string | ExplainedLine = inBoth('config.source.siteConfig')): SiteConfig {
  const r = SiteConfigSchema.safeParse(input, { reportInput: true });
  if (!r.success) {
    const i = r.error.issues[0]!;
    const rule = issueRule(i);
    const from = typeof source === 'string' ? { en: source, ja: source } : source;
    throw new ConfigError(explain('config.fieldRule', { source: from.en, sourceJa: from.ja, path: i.path.join('.') || '(root)', rule: rule.en, ruleJa: rule.ja }));
  }
  return r.data;
}

/**
 * The site's ECHONET Lite Web API server (for a device reached over IP beyond the home LAN):
 * HTTPS with mutual TLS on the site's address, OAuth 2.0 client credentials for the bearer token.
 */
export interface SiteWebApiOptions {
  /** The device's certificate and the CA its clients' certificates must chain to. */
  material: TlsMaterial;
  /** Which client certificates may connect (default: gateway certificates). */
  allowList?: AllowListConfig;
  /** OAuth 2.0 clients allowed to obtain tokens. */
  clients: readonly WebApiClientCredential[];
  /** TCP port (default 0: ephemeral; see DeviceSite.webApiUrl). */
  port?: number;
  /** Where refused connections and requests are recorded. */
  audit: AuditSink;
}

export interface SiteRuntimeOptions {
  /** Base clock (default the system clock); simulated time runs `speed` times faster. */
  clock?: Clock;
  /** Run physics on timers (true, default) or only on `advance` (tests, benchmarks). */
  realtime?: boolean;
  audit?: AuditSink;
  /** Serve the site's objects over the ECHONET Lite Web API too (besides UDP). */
  webApi?: SiteWebApiOptions;
}

/** Longest physics step; longer advances are split so integration stays accurate. */
const MAX_STEP_MS = 60_000;

/**
 * A running simulated site.
 *
 * @example
 * const site = await DeviceSite.start({ address: '127.0.0.2', battery: {}, pv: {}, speed: 60 });
 * site.battery?.socPercent();
 * await site.close();
 */
export class DeviceSite {
  readonly config: SiteConfig;
  readonly node: EchonetNode;
  readonly battery: BatterySimulator | undefined;
  readonly pv: PvSimulator | undefined;
  readonly ev: EvSimulator | undefined;
  readonly waterHeater: WaterHeaterSimulator | undefined;
  readonly aircon: AirconSimulator | undefined;
  readonly lighting: LightingSimulator | undefined;
  readonly fuelCell: FuelCellSimulator | undefined;
  readonly pcs: PcsSimulator | undefined;
  readonly meter: SmartMeterSimulator;
  /** Each device's firmware (A/B slots, installs over ECHONET Lite), by kind. */
  readonly firmware: ReadonlyMap<DeviceKind, SimulatedFirmware>;
  private readonly time: SimulationTime;
  private simNow: number;
  private timer: TimerHandle | undefined;
  private closed = false;
  private webApiServer: Server | undefined;
  /** The Web API base URL (https://address:port) when the site serves it. */
  webApiUrl: string | undefined;

  private constructor(config: SiteConfig, node: EchonetNode, devs: ReturnType<typeof buildDevices>, time: SimulationTime, private readonly clock: Clock) {
    this.config = config;
    this.node = node;
    this.battery = devs.battery;
    this.pv = devs.pv;
    this.ev = devs.ev;
    this.waterHeater = devs.waterHeater;
    this.aircon = devs.aircon;
    this.lighting = devs.lighting;
    this.fuelCell = devs.fuelCell;
    this.pcs = devs.pcs;
    this.meter = devs.meter;
    const faulty = new Set(config.firmware.faultyVersions);
    this.firmware = new Map(devs.list.map((d) => [d.kind, new SimulatedFirmware(d.object, devs.firmwareOf(d.kind), faulty)]));
    this.time = time;
    this.simNow = time.now();
  }

  /** Builds the devices, starts the node (which announces its instance list), starts the clock. */
  static async start(input: SiteConfigInput | SiteConfig, runtime: SiteRuntimeOptions = {}): Promise<DeviceSite> {
    const config = parseSiteConfig(input);
    const clock = runtime.clock ?? systemClock;
    const time = new SimulationTime(clock, config.startTime ?? clock.now(), config.speed);
    const devs = buildDevices(config);
    const objects: EchonetObject[] = devs.list.map((d) => d.object);
    const node = await EchonetNode.start({
      address: config.address,
      port: config.port,
      ...(config.replyPort !== undefined ? { replyPort: config.replyPort } : {}),
      objects,
      identity: { makerCode: config.makerCode, productCode: 'ERAB-SITE', productionNumber: serialPrefix(config) },
      peers: config.peers,
      multicast: config.multicast === true ? {} : config.multicast === false ? false : config.multicast,
      reuseAddr: config.reuseAddr,
      clock,
      ...(runtime.audit ? { audit: runtime.audit } : {}),
    });
    const site = new DeviceSite(config, node, devs, time, clock);
    if (runtime.webApi) await site.serveWebApi(runtime.webApi).catch(async (err: unknown) => {
      await node.close();
      throw err;
    });
    site.stepTo(site.simNow, true);
    if (runtime.realtime ?? true) site.schedule();
    return site;
  }

  private async serveWebApi(w: SiteWebApiOptions): Promise<void> {
    const handler = webApiHandler({
      objects: () => [this.node.profile, ...this.node.hosted()], clients: w.clients, clock: this.clock,
      onRefused: (r) => w.audit.append({ actor: { kind: 'system', id: `device.webapi:${this.config.address}` }, action: 'echonet.webapi.refused', target: r.path, outcome: 'refused', reason: r.reason, details: { status: r.status } }),
    });
    const { server } = createMutualTlsServer({ material: w.material, profile: 'R5', audit: w.audit, allowList: w.allowList ?? { roles: ['gateway'] }, listener: `device:webapi:${this.config.address}` }, handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(w.port ?? 0, this.config.address, () => resolve());
    });
    this.webApiServer = server;
    const port = (server.address() as { port: number }).port;
    this.webApiUrl = `https://${this.config.address}:${port}`;
  }

  /** The simulated instant of the last physics step. */
  now(): number {
    return this.simNow;
  }

  devices(): DeviceSimulator[] {
    return [this.pv, this.waterHeater, this.aircon, this.lighting, this.fuelCell, this.ev, this.battery, this.pcs, this.meter].filter((d): d is NonNullable<typeof d> => d !== undefined);
  }

  device(kind: DeviceKind): DeviceSimulator | undefined {
    return this.devices().find((d) => d.kind === kind);
  }

  /** Advances simulated time by `ms` now (deterministic; for tests and non-realtime runs). */
  advance(ms: number): void {
    this.stepTo(this.simNow + ms);
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = this.clock.setTimeout(() => {
      try {
        this.stepTo(this.time.now());
      } finally {
        this.schedule();
      }
    }, this.config.tickMs);
  }

  private stepTo(target: number, initial = false): void {
    if (initial) {
      this.stepOnce(this.simNow, 0);
      return;
    }
    while (this.simNow < target) {
      const dt = Math.min(MAX_STEP_MS, target - this.simNow);
      this.simNow += dt;
      this.stepOnce(this.simNow, dt);
    }
  }

  /**
   * One physics step: generation and loads first, then the fuel cell (load following sees them and
   * the base load), the battery (automatic mode sees all of them), the PCS (which measures its
   * PV and battery inputs after they stepped), then the meter.
   */
  private stepOnce(t: number, dtMs: number): void {
    let net = 0;
    for (const d of [this.pv, this.waterHeater, this.aircon, this.lighting, this.ev]) if (d) net += d.step({ t: t as never, dtMs, netLoadW: net });
    const base = this.meter.baseLoad(t);
    if (this.fuelCell) net += this.fuelCell.step({ t: t as never, dtMs, netLoadW: net + base });
    if (this.battery) net += this.battery.step({ t: t as never, dtMs, netLoadW: net + base });
    if (this.pcs) net += this.pcs.step({ t: t as never, dtMs, netLoadW: net });
    this.meter.step({ t: t as never, dtMs, netLoadW: net });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    if (this.webApiServer) {
      const s = this.webApiServer;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    await this.node.close();
  }
}

function serialPrefix(config: SiteConfig): string {
  if (config.serialPrefix) return config.serialPrefix;
  const [, , c, d] = config.address.split('.').map(Number);
  return `S${(c ?? 0).toString(16).padStart(2, '0')}${(d ?? 0).toString(16).padStart(2, '0')}`.toUpperCase();
}

function buildDevices(config: SiteConfig) {
  const random = seededRandom(config.seed);
  const prefix = serialPrefix(config);
  const versions = new Map<string, string>();
  const id = (kind: string, o?: { makerCode?: number | undefined; productCode?: string | undefined; productionNumber?: string | undefined; firmwareVersion?: string | undefined }): DeviceIdentity => {
    const firmwareVersion = o?.firmwareVersion ?? config.firmware.version;
    versions.set(kind, firmwareVersion);
    return {
      makerCode: o?.makerCode ?? config.makerCode,
      productCode: o?.productCode ?? `ERAB-${kind}`,
      productionNumber: o?.productionNumber ?? `${prefix}-${kind}`.slice(0, 12),
      firmwareVersion,
    };
  };
  const KIND_TAG: Record<string, string> = { battery: 'BAT', pv: 'PV', ev: 'V2H', water_heater: 'HPWH', aircon: 'AC', lighting: 'LIGHT', fuel_cell: 'FC', pcs: 'PCS', meter: 'METER' };
  const b = config.battery;
  const battery = b ? new BatterySimulator({ capacityWh: b.capacityWh, maxChargeW: b.maxChargeW, maxDischargeW: b.maxDischargeW, initialSocPercent: b.initialSocPercent, minSocPercent: b.minSocPercent }, id('BAT', b.identity)) : undefined;
  const p = config.pv;
  const pv = p ? new PvSimulator({ ratedW: p.ratedW, noise: p.noise, latitudeDeg: p.latitudeDeg, random }, id('PV', p.identity)) : undefined;
  const e = config.ev;
  const ev = e ? new EvSimulator({ vehicleCapacityWh: e.vehicleCapacityWh, maxChargeW: e.maxChargeW, maxDischargeW: e.maxDischargeW, initialSocPercent: e.initialSocPercent, pluggedIn: e.pluggedIn, driveWh: e.driveWh, ...(e.pluggedHours ? { pluggedHours: e.pluggedHours } : {}) }, id('V2H', e.identity)) : undefined;
  const w = config.waterHeater;
  const waterHeater = w ? new WaterHeaterSimulator({ tankLitres: w.tankLitres, heaterW: w.heaterW, initialFillPercent: w.initialFillPercent }, id('HPWH', w.identity)) : undefined;
  const a = config.aircon;
  const aircon = a ? new AirconSimulator({ ratedW: a.ratedW, setC: a.setC, on: a.on }, id('AC', a.identity)) : undefined;
  const l = config.lighting;
  const lighting = l ? new LightingSimulator({ ratedW: l.ratedW, brightnessPercent: l.brightnessPercent, on: l.on }, id('LIGHT', l.identity)) : undefined;
  const f = config.fuelCell;
  const fuelCell = f ? new FuelCellSimulator({ ratedW: f.ratedW, generating: f.generating }, id('FC', f.identity)) : undefined;
  const c = config.pcs;
  const inputs = [
    ...(pv ? [{ eoj: pv.object.eoj, powerW: () => -pv.output() }] : []),
    ...(battery ? [{ eoj: battery.object.eoj, powerW: () => battery.power() }] : []),
  ];
  const pcs = c ? new PcsSimulator({ standbyW: c.standbyW, inputs }, id('PCS', c.identity)) : undefined;
  const m = config.meter;
  const meter = new SmartMeterSimulator({ baseLoadMinW: m.baseLoadMinW, baseLoadMaxW: m.baseLoadMaxW, noise: m.noise, random }, id('METER', m.identity));
  // The fuel cell comes after the loads so that it can follow them.
  const list: DeviceSimulator[] = [battery, pv, ev, waterHeater, aircon, lighting, fuelCell, pcs, meter].filter((d): d is NonNullable<typeof d> => d !== undefined);
  const firmwareOf = (kind: DeviceKind): string => versions.get(KIND_TAG[kind] ?? '') ?? config.firmware.version;
  return { battery, pv, ev, waterHeater, aircon, lighting, fuelCell, pcs, meter, list, firmwareOf };
}
