/**
 * Prepares the demo's work folder: checks it can be used (a folder of an earlier demo is
 * emptied; any other non-empty folder is refused rather than overwritten), creates the CA and
 * a certificate for every participant (keys 0600, see src/security/pki), and writes every
 * participant's configuration file. Configurations that need another participant's port are
 * written once that participant is up (ports are ephemeral).
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, explain } from '../../core/errors.js';
import { initCa, type ParticipantFiles, type PkiStore } from '../../security/pki/index.js';
import type { AggregatorConfigInput } from '../aggregator/runtime/config.js';
import type { GatewayConfigInput } from '../gateway/gateway.js';
import type { SiteConfigInput } from '../device/site.js';
import type { TsoConfigInput } from '../tso/config.js';
import { IDS, type DemoLayout, type SitePlan } from './layout.js';

/** Thrown when the work folder cannot be used; the message names the folder and the cause. */
export class WorkFolderError extends ConfigError {}

const MARKER = 'erab demo work folder: safe to delete\n';

/** Above this many sites, gateway certificates are issued in bulk (see issueCertificates). */
const BULK_ABOVE = 200;

/**
 * Makes `layout.options.dir` an empty, writable work folder. A folder left by an earlier demo
 * (it holds the marker file) is emptied; a non-empty folder without it is refused.
 */
export function prepareWorkFolder(layout: DemoLayout): string {
  const dir = resolve(layout.options.dir);
  if (existsSync(dir)) {
    let st;
    try {
      st = statSync(dir);
    } catch (err) {
      throw new WorkFolderError(`work folder ${dir} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (!st.isDirectory()) throw new WorkFolderError(`work folder ${dir} exists and is not a folder; choose another --dir`);
    let entries: string[];
    try {
      accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
      entries = readdirSync(dir);
    } catch (err) {
      throw new WorkFolderError(`work folder ${dir} cannot be read or written: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (entries.length > 0) {
      if (!existsSync(layout.markerFile)) {
        throw new WorkFolderError(`work folder ${dir} is not empty and was not made by erab demo (no ${join(dir, '.erab-demo')}); choose an empty or new --dir`);
      }
      for (const e of entries) rmSync(join(dir, e), { recursive: true, force: true });
    }
  } else {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new WorkFolderError(`work folder ${dir} cannot be created: ${(err as NodeJS.ErrnoException).code ?? String(err)} (parent ${dirname(dir)})`);
    }
  }
  try {
    writeFileSync(layout.markerFile, MARKER);
  } catch (err) {
    throw new WorkFolderError(`work folder ${dir} is not writable: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return dir;
}

/** Every certificate of the demo, by participant name. */
export interface DemoCertificates {
  pki: PkiStore;
  caFile: string;
  crlFile: string;
  files: Map<string, ParticipantFiles>;
}

/** Key for `DemoCertificates.files`. */
export const certKey = (role: string, id: string): string => `${role}:${id}`;

/**
 * Creates the CA in `<dir>/pki` and issues one certificate per participant: TSO, retailer,
 * coordinator, both resource aggregators, the rogue aggregator (a real certificate of the same
 * CA, just not contracted by the TSO), two operators and every gateway.
 */
export async function issueCertificates(layout: DemoLayout, onProgress?: (done: number, total: number) => void): Promise<DemoCertificates> {
  const pki = await initCa({ dir: layout.pkiDir, commonName: 'erab demo CA' });
  const wanted: [string, string][] = [
    ['tso', IDS.tso], ['retailer', IDS.retailer], ['aggregator', IDS.coordinator],
    ...IDS.aggregators.map((a): [string, string] => ['aggregator', a]),
    ['aggregator', IDS.rogue],
    ...IDS.operators.map((o): [string, string] => ['operator', o]),
    ...layout.sites.map((s): [string, string] => ['gateway', s.gatewayId]),
  ];
  const files = new Map<string, ParticipantFiles>();
  let done = 0;
  // Every issue through the PKI store rewrites its index (O(n) each): fine for a few hundred
  // participants. A larger fleet's gateway certificates come from the same CA in bulk and are
  // written in the same layout (issued/gateway-<id>/, key 0600), without an index entry each.
  const bulk = layout.sites.length > BULK_ABOVE;
  for (const [role, id] of wanted) {
    if (bulk && role === 'gateway') continue;
    const issued = await pki.issue({ role, id });
    files.set(certKey(role, id), issued.files);
    onProgress?.(++done, wanted.length);
  }
  if (bulk) {
    const ca = await pki.authority();
    for (const s of layout.sites) {
      const issued = await ca.issue({ role: 'gateway', id: s.gatewayId });
      const f = pki.files('gateway', s.gatewayId);
      mkdirSync(f.dir, { recursive: true, mode: 0o700 });
      writeFileSync(f.keyFile, issued.keyPem, { mode: 0o600 });
      writeFileSync(f.certFile, issued.certPem);
      writeFileSync(f.chainFile, issued.chainPem);
      files.set(certKey('gateway', s.gatewayId), f);
      onProgress?.(++done, wanted.length);
    }
  }
  return { pki, caFile: pki.caCertFile, crlFile: pki.crlFile, files };
}

function writeJson(file: string, value: unknown): string {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
  return file;
}

function tlsOf(certs: DemoCertificates, role: string, id: string): { certFile: string; keyFile: string; caFile: string; crlFile: string } {
  const f = certs.files.get(certKey(role, id));
  if (!f) throw new ConfigError(explain('config.noDemoCertificate', { role, id }));
  return { certFile: f.certFile, keyFile: f.keyFile, caFile: certs.caFile, crlFile: certs.crlFile };
}

/** The TSO's or retailer's configuration file (contracted: the two resource aggregators only). */
export function writeVtnConfig(layout: DemoLayout, certs: DemoCertificates, kind: 'tso' | 'retailer'): string {
  const id = kind === 'tso' ? IDS.tso : IDS.retailer;
  const t = layout.timings;
  const cfg: TsoConfigInput = {
    id,
    kind,
    tls: tlsOf(certs, kind, id),
    listen: { host: '127.0.0.1', port: kind === 'tso' ? layout.options.tsoPort : 0 },
    api: { host: '127.0.0.1', port: 0, operators: [...IDS.operators] },
    store: { url: layout.file(kind, `${kind}.db`) },
    audit: { dir: layout.file(kind, 'audit') },
    contractedAggregators: IDS.aggregators.map((a) => ({ id: a })),
    pollIntervalMs: t.upstreamPollMs,
    reportIntervalMs: t.upstreamReportMs,
    statusIntervalMs: t.statusRealMs,
  };
  return writeJson(layout.file(kind, 'config.json'), cfg);
}

export interface UpstreamUrls {
  tso: string;
  retailer: string;
  /** The aggregation coordinator's VTN (R3), for the resource aggregators. */
  coordinator?: string;
}

/**
 * The aggregation coordinator: a VTN (R3) for the two resource aggregators. In the demo it has no
 * upstream party and no contracted capacity below it: the TSO and the retailer contract the resource
 * aggregators directly, and the coordinator shows the R3 relationship (mutual TLS registration,
 * telemetry), not dispatch. Dispatch through a coordinator (`downstream.aggregators`) is tested on
 * its own in test/roles/aggregator/runtime-coordinator.test.ts.
 */
export function writeCoordinatorConfig(layout: DemoLayout, certs: DemoCertificates): string {
  const t = layout.timings;
  const cfg: AggregatorConfigInput = {
    id: IDS.coordinator,
    tls: tlsOf(certs, 'aggregator', IDS.coordinator),
    store: { url: layout.file(IDS.coordinator, 'aggregator.db') },
    audit: { dir: layout.file(IDS.coordinator, 'audit') },
    downstream: {
      host: '127.0.0.1', port: 0,
      allowList: { participants: IDS.aggregators.map((a) => `aggregator:${a}`) },
      pollIntervalMs: t.upstreamPollMs * 4,
      reportIntervalMs: t.upstreamReportMs,
    },
    upstream: [],
    closedLoop: closedLoopFor(layout),
    statusIntervalMs: t.statusRealMs,
  };
  return writeJson(layout.file(IDS.coordinator, 'config.json'), cfg);
}

/** A resource aggregator's configuration: upstream TSO and retailer, downstream its gateways. */
export function writeAggregatorConfig(layout: DemoLayout, certs: DemoCertificates, id: string, urls: UpstreamUrls, withConsole = false): string {
  const t = layout.timings;
  const gateways = layout.sites.filter((s) => s.aggregator === id).map((s) => `gateway:${s.gatewayId}`);
  const isRogue = id === IDS.rogue;
  const cfg: AggregatorConfigInput = {
    id,
    tls: tlsOf(certs, 'aggregator', id),
    store: { url: layout.file(id, 'aggregator.db') },
    audit: { dir: layout.file(id, 'audit') },
    // Signed firmware packages it offers its gateways (the vulnerability scene publishes one).
    updates: { dir: layout.file(id, 'updates') },
    downstream: {
      host: '127.0.0.1', port: 0,
      allowList: { participants: gateways },
      pollIntervalMs: t.gatewayPollMs,
      reportIntervalMs: t.gatewayReportMs,
      // ReplayProtect timestamps count in simulated time: one real minute of slack, as the gateways allow.
      signatureWindowMs: t.maxClockSkewMs,
    },
    upstream: [
      { name: 'tso', kind: 'tso', vtnUrl: urls.tso, expect: { role: 'tso', id: IDS.tso }, pollIntervalMs: t.upstreamPollMs },
      ...(isRogue ? [] : [{ name: 'retailer', kind: 'retailer' as const, vtnUrl: urls.retailer, expect: { role: 'retailer' as const, id: IDS.retailer }, pollIntervalMs: t.upstreamPollMs }]),
      ...(isRogue || !urls.coordinator ? [] : [{ name: 'coordinator', kind: 'coordinator' as const, vtnUrl: urls.coordinator, expect: { role: 'aggregator' as const, id: IDS.coordinator }, pollIntervalMs: t.upstreamPollMs * 4 }]),
    ],
    closedLoop: closedLoopFor(layout),
    statusIntervalMs: t.statusRealMs,
    // `erab demo --console`: the operator console on loopback, for the demo's operators only.
    ...(withConsole ? { console: { host: '127.0.0.1', port: 0, allowList: { participants: IDS.operators.map((o) => `operator:${o}`) } } } : {}),
  };
  return writeJson(layout.file(id, 'config.json'), cfg);
}

/** The aggregators' closed loop for the demo's timings (simulated ms). */
export function closedLoopFor(layout: DemoLayout) {
  const t = layout.timings;
  return {
    intervalMs: t.closedLoopMs,
    // A changed instruction needs a poll, a Set, a device step, a read and a report before it
    // shows; at x60 every real second of load on a shared machine is a simulated minute, so the
    // demo's closed loop waits several real seconds before it calls a resource non-responding.
    graceMs: Math.min(3_600_000, 2 * t.gatewayPollMs + 10 * t.gatewayReportMs),
    telemetryMaxAgeMs: Math.min(3_600_000, Math.max(10 * t.gatewayReportMs, 10_000 * layout.options.speed)),
    missesToMark: 20,
    toleranceFraction: 0.1,
    toleranceW: 100,
    // Devices start early by the telemetry path's length (gateway read + report, aggregator
    // report), so the TSO/retailer sees the requested level from the start of the block.
    rampUpMs: Math.min(3_600_000, 2 * t.gatewayReportMs + t.upstreamReportMs),
  };
}

/** One gateway's configuration: its aggregator (or the relay in front of it), its site's device node. */
export function writeGatewayConfig(layout: DemoLayout, certs: DemoCertificates, site: SitePlan, vtnUrl: string): string {
  const t = layout.timings;
  const aggCert = certs.files.get(certKey('aggregator', site.aggregator))!;
  const cfg: GatewayConfigInput = {
    gatewayId: site.gatewayId,
    database: join(site.dir, 'gateway.db'),
    // Hundreds of simulated gateways share this machine's one disk; syncing each one's every
    // commit made the disk, not the protocol, the limit (a third of a gateway host's CPU at 1000).
    databaseSync: layout.sites.length > 100 ? 'normal' : 'full',
    audit: { dir: join(site.dir, 'audit') },
    tls: tlsOf(certs, 'gateway', site.gatewayId),
    aggregator: { id: site.aggregator, vtnUrl, certificateFile: aggCert.certFile },
    echonet: {
      address: site.controllerAddress,
      port: 3610,
      devices: [site.deviceAddress],
      pollMs: Math.max(200, t.gatewayReportMs),
      rediscoverMs: Math.max(1000, Math.min(86_400_000, 30 * t.gatewayReportMs)),
      // Real time (a device answers no faster at x60): simulated devices on loopback answer in
      // milliseconds, so a lost datagram under load is resent after a second, not after 20 s
      // (20 simulated minutes at x60).
      timeoutMs: 1000,
      retries: 3,
      // The simulator serves a whole home on one node and the gateway polls it 60 times as often
      // in real terms at x60; a real home's devices keep the default of 20 per second.
      perNodeRate: 1000,
      // The simulated maker's firmware version and install EPCs (src/roles/device/firmware.ts).
      firmwareEpcs: { FFFFFE: 0xf0 },
      firmwareInstallEpcs: { FFFFFE: 0xf1 },
    },
    // The vulnerability scene: site notices and signed updates from the aggregator, looked for
    // every simulated minute (a real second at x60).
    notices: { fetchIntervalMs: 60_000 },
    updates: { checkMs: 60_000, healthCheckMs: 5_000 },
    telemetry: { minPeriodMs: t.gatewayReportMs },
    admission: { allowList: [{ makerCode: 'FFFFFE', serialNumber: site.serial }] },
    security: { maxClockSkewMs: t.maxClockSkewMs },
    engine: { tickMs: t.engineTickMs },
    // The aggregator counts as unreachable only after a few polls have failed.
    policy: { failSafe: { aggregatorTimeoutMs: Math.max(1000, 20 * t.gatewayPollMs), maxForcedWhileUnreachableMs: 2 * 3_600_000 } },
  };
  return writeJson(join(site.dir, 'config.json'), cfg);
}

/**
 * The device node of one site: battery, PV, EV charger (V2H), water heater and smart meter, and a
 * mix of the other classes across sites (an air conditioner at every other site, dimmable
 * lighting at every third, a fuel cell at every fourth, a multi-input PCS shared by PV and battery
 * at every other one from the first), as HEMS sites in the market differ. Every site has its
 * low-voltage smart meter (the B-route view).
 */
export function siteDevices(layout: DemoLayout, site: SitePlan, startTime: number): SiteConfigInput {
  return {
    address: site.deviceAddress,
    port: 3610,
    speed: layout.options.speed,
    tickMs: layout.timings.deviceTickRealMs,
    startTime,
    seed: site.index + 1,
    serialPrefix: site.serial,
    peers: [{ address: site.controllerAddress }],
    battery: { capacityWh: 9800, maxChargeW: 3000, maxDischargeW: 3000, initialSocPercent: 80 },
    pv: { ratedW: 4500 },
    ev: { vehicleCapacityWh: 40_000, maxChargeW: 6000, maxDischargeW: 6000, initialSocPercent: 70 },
    waterHeater: { tankLitres: 460 },
    ...(site.index % 2 === 1 ? { aircon: { ratedW: 2000, setC: 26, on: true } } : {}),
    ...(site.index % 3 === 2 ? { lighting: { ratedW: 150 } } : {}),
    ...(site.index % 4 === 3 ? { fuelCell: { ratedW: 700 } } : {}),
    ...(site.index % 2 === 0 ? { pcs: {} } : {}),
  };
}

/** A host process's configuration: which sites' device nodes, or which gateways, it runs. */
export interface HostConfig {
  name: string;
  kind: 'devices' | 'gateways';
  /** Device host: one site configuration per site. */
  sites?: SiteConfigInput[];
  /** Gateway host: one gateway configuration file per gateway. */
  gateways?: string[];
}

export function writeHostConfig(file: string, cfg: HostConfig): string {
  return writeJson(file, cfg);
}
