/**
 * The shape of one `erab demo` run, computed before anything starts: who takes part (ERAB
 * guideline §2.2, Figure 1), which certificate each holds, where every file goes in the work
 * folder, which loopback address every ECHONET Lite node binds, how sites are grouped into host
 * processes, and the protocol timings for the chosen speed. Pure: no I/O (tested).
 */
import { join } from 'node:path';
import { InvalidInputError } from '../../core/errors.js';
import { nthAddress } from '../device/sites.js';

export interface DemoOptions {
  /** Work folder (certificates, configs, databases, audit logs). */
  dir: string;
  /** Number of sites (homes); each is one gateway and one device node. */
  sites: number;
  /** Simulated ms per real ms. */
  speed: number;
  /** Second byte of the 127.N.0.0/16 block the ECHONET Lite nodes bind (UDP 3610). */
  net: number;
  /** TCP port of the TSO's VTN (0 = ephemeral). */
  tsoPort: number;
  /** Sites per gateway host process (and per device host process). */
  sitesPerHost: number;
}

export const DEFAULT_SITES_PER_HOST = 250;

/** Participant ids as written in the certificates (urn:erab:<role>:<id>). */
export const IDS = {
  tso: 'TSO-TOKYO',
  retailer: 'RETAIL-1',
  coordinator: 'COORD',
  aggregators: ['AGG-A', 'AGG-B'] as const,
  rogue: 'ROGUE-AGG',
  operators: ['op-alice', 'op-bob'] as const,
};

export interface SitePlan {
  index: number;
  gatewayId: string;
  /** The aggregator this site contracts with. */
  aggregator: string;
  /** Address of the gateway's ECHONET Lite controller (UDP 3610). */
  controllerAddress: string;
  /** Address of the site's device node (UDP 3610). */
  deviceAddress: string;
  /** Production number of the site's device node (the gateway's allow-list entry). */
  serial: string;
  /** Folder of the gateway's config, database and audit log. */
  dir: string;
}

export interface HostPlan {
  name: string;
  kind: 'devices' | 'gateways';
  sites: number[];
  configFile: string;
}

/** Protocol timings in simulated ms (every participant runs on the shared accelerated clock). */
export interface DemoTimings {
  /** Aggregator ↔ TSO/retailer poll. */
  upstreamPollMs: number;
  /** TELEMETRY_USAGE interval the TSO and retailer ask of aggregators. */
  upstreamReportMs: number;
  /** Gateway ↔ aggregator poll. */
  gatewayPollMs: number;
  /** Gateway telemetry interval and ECHONET Lite read interval. */
  gatewayReportMs: number;
  closedLoopMs: number;
  /** Gateway event engine tick. */
  engineTickMs: number;
  /** Accepted difference between a signed command's timestamp and the gateway clock. */
  maxClockSkewMs: number;
  /** Status pushed to the demo, real ms. */
  statusRealMs: number;
  /** Real ms between the device simulators' physics steps. */
  deviceTickRealMs: number;
}

export interface DemoLayout {
  options: DemoOptions;
  pkiDir: string;
  markerFile: string;
  sites: SitePlan[];
  hosts: HostPlan[];
  /** Extra ECHONET Lite node that appears at site 0 during the security act (not on any allow-list). */
  unknownDevice: { address: string; serial: string; site: number };
  timings: DemoTimings;
  file(participant: string, name: string): string;
  dirOf(participant: string): string;
}

/** Upper bound of any interval in the participants' schemas (1 h simulated). */
const MAX_INTERVAL_MS = 3_600_000;

/** Real milliseconds → simulated, bounded to what the schemas accept. */
function sim(realMs: number, speed: number, min = 50): number {
  return Math.max(min, Math.min(MAX_INTERVAL_MS, Math.round(realMs * speed)));
}

/**
 * Timings chosen in real time (what the machine must sustain) and converted to simulated time.
 * A large fleet polls less often so 1000 gateways on 2 cores stay well below saturation.
 */
export function timingsFor(sites: number, speed: number): DemoTimings {
  // Every poll and report is signed and verified at both ends, so their rates set the steady load:
  // at 1000 sites one poll and one report per gateway every 10 s.
  const gatewayPollReal = sites <= 50 ? 1000 : Math.min(10_000, Math.max(1000, sites * 10));
  const gatewayReportReal = sites <= 50 ? 500 : Math.min(10_000, Math.max(1000, sites * 10));
  return {
    upstreamPollMs: sim(500, speed),
    upstreamReportMs: sim(1000, speed, 1000),
    gatewayPollMs: sim(gatewayPollReal, speed),
    gatewayReportMs: sim(gatewayReportReal, speed, 1000),
    closedLoopMs: sim(1000, speed),
    engineTickMs: Math.max(100, Math.min(60_000, Math.round(500 * speed))),
    // Signature timestamps are checked in simulated time: one real minute of slack at any speed.
    maxClockSkewMs: Math.max(1000, Math.min(MAX_INTERVAL_MS, 60_000 * speed)),
    statusRealMs: 500,
    deviceTickRealMs: sites <= 100 ? 250 : 1000,
  };
}

/** Validates the options and computes the layout. */
export function planDemo(options: DemoOptions): DemoLayout {
  const { sites, speed, net, sitesPerHost } = options;
  if (!Number.isInteger(sites) || sites < 2 || sites > 5000) throw new InvalidInputError(`--sites ${sites} must be an integer from 2 to 5000 (two aggregators need a site each)`);
  if (!Number.isFinite(speed) || speed < 1 || speed > 600) throw new InvalidInputError(`--speed ${speed} must be a number from 1 to 600`);
  if (!Number.isInteger(net) || net < 1 || net > 254) throw new InvalidInputError(`--net ${net} must be an integer from 1 to 254 (addresses 127.<net>.x.y)`);
  if (!Number.isInteger(options.tsoPort) || options.tsoPort < 0 || options.tsoPort > 65535) throw new InvalidInputError(`--tso-port ${options.tsoPort} must be a TCP port (0 = any free port)`);
  if (!Number.isInteger(sitesPerHost) || sitesPerHost < 1) throw new InvalidInputError(`sites per host ${sitesPerHost} must be a positive integer`);
  const dirOf = (participant: string): string => join(options.dir, participant);
  const plans: SitePlan[] = [];
  for (let i = 0; i < sites; i++) {
    const gatewayId = `gw-${String(i + 1).padStart(4, '0')}`;
    plans.push({
      index: i,
      gatewayId,
      // Alternate so both aggregators get half the fleet and site 0 (the security act) is AGG-A's.
      aggregator: IDS.aggregators[i % 2]!,
      controllerAddress: nthAddress(`127.${net}.0.1`, i),
      deviceAddress: nthAddress(`127.${net}.64.1`, i),
      serial: `S${String(i + 1).padStart(5, '0')}`,
      dir: join(options.dir, 'gateways', gatewayId),
    });
  }
  const hosts: HostPlan[] = [];
  for (const kind of ['devices', 'gateways'] as const) {
    for (let start = 0, k = 1; start < sites; start += sitesPerHost, k++) {
      const name = `${kind}-${k}`;
      hosts.push({ name, kind, sites: plans.slice(start, start + sitesPerHost).map((s) => s.index), configFile: join(options.dir, 'hosts', `${name}.json`) });
    }
  }
  return {
    options,
    pkiDir: join(options.dir, 'pki'),
    markerFile: join(options.dir, '.erab-demo'),
    sites: plans,
    hosts,
    unknownDevice: { address: `127.${net}.200.1`, serial: 'UNKNOWN1', site: 0 },
    timings: timingsFor(sites, speed),
    file: (participant, name) => join(dirOf(participant), name),
    dirOf,
  };
}
