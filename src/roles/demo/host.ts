/**
 * A host process for many sites (`erab demo host --config <file>`): a thousand homes cannot be
 * a thousand processes on a two-core machine, so one process runs many device nodes (each on its
 * own loopback address, real UDP 3610) or many gateways (each with its own certificate, database,
 * audit log, OpenADR VEN over mutual TLS and ECHONET Lite controller). Gateways and devices run
 * in separate processes, so every command still crosses real sockets.
 *
 * The gateway host watches its gateways for the live view and the summary: when each one first
 * held each event (the "command reached the last gateway" figure), the commands they refused
 * (from their audit records), and devices held pending by admission.
 */
import { loadConfig } from '../../core/config.js';
import type { Clock } from '../../core/clock.js';
import { describeError } from '../../core/errors.js';
import { AuditLog } from '../../security/audit/log.js';
import type { AuditRecordInput, AuditSink } from '../../security/audit/types.js';
import { DeviceSite, type SiteConfigInput } from '../device/site.js';
import { Gateway, gatewayConfigSchema, type GatewayConfig, type GatewayDeps } from '../gateway/gateway.js';
import type { HostConfig } from './setup.js';

/** Sites or gateways started at once. */
const START_BATCH = 16;

async function inBatches<T, R>(items: readonly T[], batch: number, fn: (item: T) => Promise<R>, started: R[]): Promise<void> {
  for (let i = 0; i < items.length; i += batch) {
    const settled = await Promise.allSettled(items.slice(i, i + batch).map(fn));
    for (const r of settled) if (r.status === 'fulfilled') started.push(r.value);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

export interface RunningHost {
  status(): HostStatus;
  command(name: string, args: Record<string, unknown>): Promise<unknown>;
  close(): Promise<void>;
}

/** What a host reports to the demo. */
export interface HostStatus {
  name: string;
  kind: 'devices' | 'gateways';
  /** Sites (device nodes) or gateways running. */
  running: number;
  /** Gateways registered with their aggregator. */
  registered?: number;
  /** Per aggregator event id (the gateway's event id without its `.<gatewayId>` suffix): real time each gateway first held it. */
  events?: Record<string, { gateways: number; firstAt: number; lastAt: number; times: number[] }>;
  refusals?: { time: number; gatewayId: string; action: string; target?: string | undefined; reason: string }[];
  pendingDevices?: { gatewayId: string; deviceId: string; address: string; class: string; state: string }[];
}

/** Starts the device nodes of a device host. `startTime` comes from the shared clock at each start. */
export async function startDeviceHost(cfg: HostConfig, clock: Clock): Promise<RunningHost> {
  const sites: DeviceSite[] = [];
  const extra: DeviceSite[] = [];
  const start = (s: SiteConfigInput) => DeviceSite.start({ ...s, startTime: clock.now() });
  try {
    await inBatches(cfg.sites ?? [], START_BATCH, start, sites);
  } catch (err) {
    await Promise.all(sites.map((s) => s.close().catch(() => {})));
    throw err;
  }
  return {
    status: () => ({ name: cfg.name, kind: 'devices', running: sites.length + extra.length }),
    async command(name, args) {
      if (name === 'add-node') {
        // A device nobody registered appears at a site: it announces itself (INF) to the gateway.
        const site = await start({
          address: String(args.address), port: 3610, speed: Number(args.speed ?? 1), serialPrefix: String(args.serial ?? 'UNKNOWN'),
          makerCode: 0xfffffd, peers: [{ address: String(args.peer) }], battery: { capacityWh: 5000, maxChargeW: 2000, maxDischargeW: 2000 },
        });
        extra.push(site);
        return { address: site.config.address };
      }
      throw new Error(`unknown command ${name}`);
    },
    async close() {
      await Promise.all([...sites, ...extra].map((s) => s.close().catch(() => {})));
    },
  };
}

/** An audit sink that writes to the gateway's own log and remembers its refusals for the demo. */
class GatewayAuditTap implements AuditSink {
  constructor(private readonly inner: AuditLog, private readonly onRefused: (r: AuditRecordInput) => void) {}
  append(r: AuditRecordInput): void {
    this.inner.append(r);
    if (r.outcome === 'refused') this.onRefused(r);
  }
}

interface HostedGateway {
  gw: Gateway;
  log: AuditLog;
}

/** Starts the gateways of a gateway host, each from its own configuration file. */
export async function startGatewayHost(cfg: HostConfig, clock: Clock, opts: {
  trackMs?: number;
  /** What the CLI attaches to each gateway from above (detection over its audit log, `log`). */
  compose?: (config: GatewayConfig, log: AuditLog) => GatewayDeps;
} = {}): Promise<RunningHost> {
  const hosted: HostedGateway[] = [];
  const refusals: NonNullable<HostStatus['refusals']> = [];
  const events = new Map<string, { gateways: Set<string>; firstAt: number; lastAt: number; times: number[] }>();
  const startOne = async (file: string): Promise<HostedGateway> => {
    const config: GatewayConfig = loadConfig(gatewayConfigSchema, { file });
    const log = AuditLog.open({ dir: config.audit.dir, origin: config.audit.origin ?? `erab/gateway-${config.gatewayId}/audit`, clock });
    const audit = new GatewayAuditTap(log, (r) => {
      // Late ECHONET Lite answers are refused and audited too; the demo shows refused commands and devices.
      if (r.action === 'echonet.unmatched_response') return;
      refusals.push({ time: Date.now(), gatewayId: config.gatewayId, action: r.action, target: r.target, reason: r.reason ?? '' });
      if (refusals.length > 200) refusals.shift();
    });
    try {
      const gw = await Gateway.start(config, { ...opts.compose?.(config, log), clock, audit });
      return { gw, log };
    } catch (err) {
      log.close();
      throw new Error(`gateway ${config.gatewayId} (${file}) failed to start: ${describeError(err)}`, { cause: err });
    }
  };
  const closeAll = async () => {
    await Promise.all(hosted.map(async (h) => {
      await h.gw.close().catch(() => {});
      h.log.close();
    }));
  };
  try {
    await inBatches(cfg.gateways ?? [], START_BATCH, startOne, hosted);
  } catch (err) {
    await closeAll();
    throw err;
  }
  // Real time at which each gateway first held each event (engine accepted it).
  const track = (): void => {
    const now = Date.now();
    for (const { gw } of hosted) {
      const id = gw.config.gatewayId;
      for (const eventId of gw.engine.eventIds()) {
        const base = eventId.endsWith(`.${id}`) ? eventId.slice(0, -(id.length + 1)) : eventId;
        let e = events.get(base);
        if (!e) events.set(base, (e = { gateways: new Set(), firstAt: now, lastAt: now, times: [] }));
        if (!e.gateways.has(id)) {
          e.gateways.add(id);
          e.lastAt = now;
          e.times.push(now);
        }
      }
    }
  };
  const timer = setInterval(track, opts.trackMs ?? 100);
  timer.unref();
  return {
    status(): HostStatus {
      let registered = 0;
      const pendingDevices: NonNullable<HostStatus['pendingDevices']> = [];
      for (const { gw } of hosted) {
        if (gw.ven.registration) registered++;
        for (const r of gw.admission.list()) {
          if (r.state !== 'admitted') pendingDevices.push({ gatewayId: gw.config.gatewayId, deviceId: r.deviceId, address: r.address, class: r.class, state: r.state });
        }
      }
      return {
        name: cfg.name,
        kind: 'gateways',
        running: hosted.length,
        registered,
        events: Object.fromEntries([...events].map(([k, v]) => [k, { gateways: v.gateways.size, firstAt: v.firstAt, lastAt: v.lastAt, times: v.times }])),
        refusals: [...refusals],
        pendingDevices,
      };
    },
    command(name) {
      return Promise.reject(new Error(`unknown command ${name}`));
    },
    async close() {
      clearInterval(timer);
      await closeAll();
    },
  };
}
