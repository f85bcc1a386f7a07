/**
 * A small VPP in one process for tests of operator actions: an aggregator AGG1 with its operator
 * console (mutual TLS, a roles table whose default is viewer), one gateway GW1 over real OpenADR
 * R4 with TLS, and one simulated home (DeviceSite) with a storage battery (and a PV inverter when
 * asked) on loopback UDP. Operators are named with their roles; each gets an operator certificate.
 * Tests keep what they check visible: the admission allow-list, the approvals threshold.
 *
 * @example
 * const vpp = await homeVpp({ prefix: 'erab-x-', operators: { alice: 'operator', carol: 'security officer' }, serialPrefix: 'X0', allowList: [{ serialNumber: 'X0' }] });
 * after(() => vpp.close());
 */
import { join } from 'node:path';
import { systemClock } from '../../src/core/clock.js';
import { MemoryAuditSink } from '../../src/security/audit/types.js';
import { openStore } from '../../src/store/store.js';
import { Portfolio } from '../../src/roles/aggregator/portfolio/portfolio.js';
import { aggregatorMigrations } from '../../src/roles/aggregator/runtime/r4-workers.js';
import { parseAggregatorConfig } from '../../src/roles/aggregator/runtime/config.js';
import { startAggregator, type RunningAggregator } from '../../src/roles/aggregator/runtime/aggregator.js';
import type { OperatorRole } from '../../src/roles/common/operator-roles.js';
import { DeviceSite } from '../../src/roles/device/site.js';
import { StorageBattery } from '../../src/protocols/echonet/objects/storage-battery.js';
import type { AllowListEntry } from '../../src/roles/gateway/admission.js';
import { Gateway, gatewayConfigSchema } from '../../src/roles/gateway/gateway.js';
import { pkiWorld, type PkiWorld } from './pki.js';

export interface HomeVppOptions<N extends string> {
  /** The temporary folder's prefix. */
  prefix: string;
  /** Operator name → role (a viewer is the table's default). */
  operators: Record<N, OperatorRole>;
  /** The home's serial-number prefix (its node profile's serial). */
  serialPrefix: string;
  /** The gateway's admission allow-list. */
  allowList: AllowListEntry[];
  /** A PV inverter beside the battery. */
  pv?: boolean;
  /** The share of the fleet one operator may command alone, % (default 100: only fleet-wide commands wait). */
  maxSingleOperatorFleetPercent?: number;
  /** The console page to serve at `/`. */
  consolePage?: { html: string; csp: string };
}

export interface HomeVpp<N extends string> {
  pki: PkiWorld<N | 'agg' | 'gw1'>;
  agg: RunningAggregator;
  gw: Gateway;
  site: DeviceSite;
  /** The aggregator's and the gateway's audit records. */
  audit: MemoryAuditSink;
  gwAudit: MemoryAuditSink;
  /** How operatorCall (test/roles/common/operator-client.ts) reaches the console. */
  console(): { port: number; caPem: string; server: { role: string; id: string } };
  /** The battery's operation mode on the simulated site (e.g. discharging). */
  batteryMode(): string;
  close(): Promise<void>;
}

/**
 * Writes the portfolio of one home into an aggregator's SQLite store: pool `tokyo-t2`, site
 * `site-1`, gateway `GW1` (its devices come from the gateway's inventory when it registers).
 */
export async function importOneHome(dbFile: string, source: string): Promise<void> {
  const pstore = await openStore({ url: dbFile, migrations: aggregatorMigrations });
  try {
    await new Portfolio(pstore).importText(JSON.stringify({
      format: 'erab-portfolio/1',
      pools: [{ id: 'tokyo-t2', tsoArea: 'tokyo', product: 'tertiary2', program: 'TSO1' }],
      sites: [{ id: 'site-1', name: 'Home 1', tsoArea: 'tokyo', poolId: 'tokyo-t2' }],
      gateways: [{ id: 'GW1', siteId: 'site-1', venId: 'GW1' }],
    }), 'json', source, { kind: 'operator', id: 'setup' });
  } finally {
    await pstore.close();
  }
}

/** Starts the world (see header); close() stops it in reverse order. */
export async function homeVpp<N extends string>(o: HomeVppOptions<N>): Promise<HomeVpp<N>> {
  const names = Object.keys(o.operators) as N[];
  const pki = await pkiWorld({
    agg: 'aggregator:AGG1', gw1: 'gateway:GW1', ...Object.fromEntries(names.map((n) => [n, `operator:${n}`])),
  } as Record<N | 'agg' | 'gw1', `${'aggregator' | 'gateway' | 'operator'}:${string}`>, { prefix: o.prefix });
  const closers: (() => Promise<void>)[] = [async () => pki.close()];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    const dbFile = join(pki.dir, 'aggregator.db');
    await importOneHome(dbFile, 'portfolio.json');
    const audit = new MemoryAuditSink();
    const gwAudit = new MemoryAuditSink();
    const operators = Object.fromEntries(names.filter((n) => o.operators[n] !== 'viewer').map((n) => [n, o.operators[n]]));
    const agg = await startAggregator(parseAggregatorConfig({
      id: 'AGG1', tls: pki.tlsFiles('agg'), store: { url: dbFile },
      downstream: { host: '127.0.0.1', port: 0, allowList: { participants: ['gateway:GW1'] }, pollIntervalMs: 200, reportIntervalMs: 1000 },
      console: { port: 0, roles: { default: 'viewer', operators } },
      approvals: { maxSingleOperatorFleetPercent: o.maxSingleOperatorFleetPercent ?? 100 },
      closedLoop: { intervalMs: 500, telemetryMaxAgeMs: 5000 },
      statusIntervalMs: 200,
    }), { audit, clock: systemClock, ...(o.consolePage ? { consolePage: o.consolePage } : {}) });
    closers.push(() => agg.stop());
    const net = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
    const site = await DeviceSite.start({
      address: `${net}.2`, speed: 1, tickMs: 100, serialPrefix: o.serialPrefix,
      battery: { capacityWh: 10_000, maxChargeW: 3000, maxDischargeW: 3000, initialSocPercent: 80 }, ...(o.pv ? { pv: { ratedW: 4000 } } : {}),
    });
    closers.push(() => site.close());
    const gw = await Gateway.start(gatewayConfigSchema.parse({
      gatewayId: 'GW1', database: join(pki.dir, 'gw1.db'), tls: pki.tlsFiles('gw1'),
      aggregator: { id: 'AGG1', vtnUrl: `https://127.0.0.1:${agg.downstreamPort}`, certificateFile: pki.get('agg').files.certFile },
      echonet: { address: `${net}.1`, devices: [`${net}.2`], pollMs: 500, timeoutMs: 2000, retries: 1 },
      telemetry: { minPeriodMs: 1000 }, engine: { tickMs: 200 },
      admission: { allowList: o.allowList },
    }), { clock: systemClock, audit: gwAudit });
    closers.push(() => gw.close());
    return {
      pki, agg, gw, site, audit, gwAudit, close,
      console: () => ({ port: agg.consolePort!, caPem: pki.caPem, server: { role: 'aggregator', id: 'AGG1' } }),
      batteryMode: () => site.battery!.object.get(StorageBattery.props.operationMode) as string,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
