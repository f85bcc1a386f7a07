/**
 * A world of separate `erab` processes for end-to-end tests: an aggregator (`erab aggregator run`,
 * SQLite store, console with an operator roles table, downstream VTN), gateways (`erab gateway run`)
 * and simulated ECHONET Lite homes with a battery (`erab device site`) on loopback 127.x addresses,
 * optionally a TSO (`erab tso run`). Each role is `node bin/erab.js ...` as an operator runs it,
 * configured from files written into the world's folder; the test sees them only from outside: the
 * console API (mutual TLS, an operator's certificate), a battery's operation mode over ECHONET Lite
 * UDP, and each role's audit log on disk.
 *
 * @example
 * const world = await erabWorld({ operators: { alice: 'operator', bob: 'approver' }, gateways: [{ id: 'GW1', admit: true }, { id: 'GW2' }] });
 * after(() => world.stop()); // SIGTERM to all; fails on any exit code other than 0, with stderr tails
 * const page = await world.api('alice', 'GET', '/api/fleet/devices?gateway=GW1&online=true');
 * await world.batteryMode(world.sites[0]!); // 'discharging', ... read over UDP from the simulator
 * world.auditRecords('aggregator').filter((r) => r.action === 'console.api.event.cancel');
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EchonetController } from '../../src/protocols/echonet/controller.js';
import { ClassCode, eoj } from '../../src/protocols/echonet/eoj.js';
import { batteryOperationMode, type BatteryOperationMode } from '../../src/protocols/echonet/objects/storage-battery.js';
import { readRecords } from '../../src/security/audit/export.js';
import type { AuditRecord } from '../../src/security/audit/record.js';
import { operatorCall, type Answer } from '../roles/common/operator-client.js';
import { ERAB_BIN } from '../repo.js';
import { pkiWorld, type PkiWorld } from './pki.js';
import { freeLoopbackPort } from './net.js';
import { waitFor } from './wait.js';

export type OperatorRole = 'viewer' | 'operator' | 'approver' | 'security officer' | 'administrator';

/** One gateway of the world and its simulated homes (one battery each). */
export interface GatewaySpec {
  id: string;
  /** Homes behind it, one `erab device site --battery` each (default 1). */
  homes?: number;
  /** Admit its homes' devices by the gateway's allow-list (default false: they wait for an operator). */
  admit?: boolean;
  /** Battery of each home as `kWh:kW` (default `10:3`). */
  battery?: string;
}

export interface ErabWorldSpec {
  /** Folder prefix under the system's temporary folder. */
  prefix?: string;
  /** Operators (certificates `operator:<id>`) and their console role. */
  operators: Record<string, OperatorRole>;
  /** The role of an operator the table does not name (default viewer). */
  defaultRole?: OperatorRole;
  gateways?: GatewaySpec[];
  /** Extra keys merged over the aggregator's configuration (e.g. `approvals`, `closedLoop`). */
  aggregator?: Record<string, unknown>;
  /** Extra keys merged over every gateway's configuration. */
  gateway?: Record<string, unknown>;
  /**
   * The portfolio imported with `erab aggregator portfolio import` before the aggregator starts
   * (default: one site and pool per gateway). `false`: none.
   */
  portfolio?: object | false;
  /** Writes the aggregator's store (`storeUrl`, SQLite) before it starts, after the portfolio import. */
  seed?: (storeUrl: string) => Promise<void>;
  /**
   * Extra `erab aggregator run` arguments, given the world's folder and the aggregator's
   * configuration file (written, not yet read): e.g. a compliance profile written there.
   */
  aggregatorArgs?: (at: { dir: string; configFile: string }) => string[];
  /** Also run `erab tso run` (TSO-TOKYO, contracted with AGG1) and give the aggregator it as upstream. */
  tso?: boolean;
  /** Milliseconds to wait for each role's ready line (default 90 s). */
  readyMs?: number;
}

/** A running role: its process, what it printed, and its ready line. */
export interface RoleProcess {
  name: string;
  proc: ChildProcess;
  out: string;
  err: string;
  /** The JSON line it printed when ready (`{"ready":...}` or a simulator's `{"address":...}`). */
  ready: Record<string, unknown>;
}

export interface AggregatorProcess extends RoleProcess { configFile: string; storeUrl: string; auditDir: string; consolePort: number; downstreamPort: number }
export interface GatewayProcess extends RoleProcess { id: string; configFile: string; auditDir: string; operatorPort: number; controller: string; homes: SiteProcess[] }
export interface SiteProcess extends RoleProcess { address: string; gatewayId: string; serialPrefix: string }
export interface TsoProcess extends RoleProcess { configFile: string; auditDir: string; apiPort: number; port: number }

export interface ErabWorld {
  pki: PkiWorld;
  /** The world's folder (certificates, configuration files, stores, audit logs). */
  dir: string;
  /** `127.a`: gateway i's controller is `127.a.(i+1).1`, its homes `127.a.(i+1).2`, `.3`, ... */
  net: string;
  aggregator: AggregatorProcess;
  gateways: GatewayProcess[];
  /** Every simulated home, in gateway order. */
  sites: SiteProcess[];
  tso?: TsoProcess;
  /** `https://127.0.0.1:<console port>` */
  origin: string;
  /** The console listener as {@link operatorCall} wants it. */
  consoleAt: { port: number; caPem: string; server: { role: string; id: string } };
  /** Calls the aggregator's operator API as `who` (mutual TLS with `who`'s certificate). */
  api(who: string, method: string, path: string, body?: unknown): Promise<Answer>;
  /**
   * Waits until `count` batteries behind `gatewayId` are online at the aggregator and ready for a
   * dispatch (fresh telemetry and a state of charge: no `notReady` in the console API's device
   * view, read as `who`) and resolves with their resource ids, sorted.
   */
  onlineBatteries(who: string, gatewayId: string, count?: number, timeoutMs?: number): Promise<string[]>;
  /** A simulated battery's operation mode (ECHONET Lite 0x027D01 EPC 0xDA), read over UDP from its process. */
  batteryMode(site: SiteProcess): Promise<BatteryOperationMode>;
  /** The records of a role's audit log on disk: `aggregator`, `tso` or a gateway id. */
  auditRecords(role: string): AuditRecord[];
  /** SIGTERM to every role, wait for all, remove the folder; throws naming each role that exited other than 0 (with its stderr's tail), keeping the folder. */
  stop(): Promise<void>;
}

/** The environment of a role: this one without ERAB_* overrides, quiet logs, English. */
function roleEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ERAB_')) env[k] = v;
  return { ...env, ERAB_LOG_LEVEL: 'warn', LANG: 'C.UTF-8', LC_ALL: '' };
}

/** `erab <args>` as a user runs it: bin/erab.js under this Node.js, what it prints collected. */
function spawnBin(args: string[]): { proc: ChildProcess; out: string; err: string } {
  const proc = spawn(process.execPath, [ERAB_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: roleEnv() });
  const r = { proc, out: '', err: '' };
  proc.stdout!.on('data', (c: Buffer) => { r.out += c.toString(); });
  proc.stderr!.on('data', (c: Buffer) => { r.err += c.toString(); });
  return r;
}

/** Starts `erab <args>` and waits for its JSON ready line (`{"ready"...}` or a simulator's `{"address"...}`). */
export async function startRole(name: string, args: string[], readyMs = 90_000): Promise<RoleProcess> {
  const r: RoleProcess = Object.assign(spawnBin(args), { name, ready: {} });
  const line = await waitFor(`${name} ready`, () => {
    if (r.proc.exitCode !== null || r.proc.signalCode !== null) throw new Error(`${name} exited with ${r.proc.exitCode ?? r.proc.signalCode} before it was ready: ${r.err.slice(-2000)}`);
    return /^\{"(ready|address)".*$/m.exec(r.out)?.[0];
  }, readyMs);
  r.ready = JSON.parse(line) as Record<string, unknown>;
  return r;
}

/** Runs `erab <args>` to its end and resolves with what it printed; throws with its output unless it exits 0. */
export async function runErab(args: string[]): Promise<string> {
  const r = spawnBin(args);
  const code = await new Promise<number | null>((resolve, reject) => { r.proc.on('error', reject); r.proc.on('close', resolve); });
  if (code !== 0) throw new Error(`erab ${args.join(' ')} exited with ${code}: ${r.err}${r.out}`);
  return r.out;
}

/** SIGTERM, then wait (SIGKILL after `ms`); resolves with the exit code (null when killed). */
function terminate(p: ChildProcess, ms = 20_000): Promise<number | null> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((resolve) => {
    const kill = setTimeout(() => p.kill('SIGKILL'), ms);
    p.once('exit', (code) => { clearTimeout(kill); resolve(code); });
    p.kill('SIGTERM');
  });
}

const writeJson = (file: string, value: unknown): string => {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
  return file;
};

/**
 * Brings up the world: the PKI (aggregator AGG1, gateways, operators, TSO), the portfolio import,
 * the aggregator, then each gateway's homes and the gateway. On a start-up failure what did start
 * is stopped before the error is thrown.
 */
export async function erabWorld(spec: ErabWorldSpec): Promise<ErabWorld> {
  const gws = spec.gateways ?? [];
  const names: Record<string, `${'aggregator' | 'gateway' | 'operator' | 'tso'}:${string}`> = { agg: 'aggregator:AGG1' };
  for (const g of gws) names[g.id] = `gateway:${g.id}`;
  for (const o of Object.keys(spec.operators)) names[o] = `operator:${o}`;
  if (spec.tso) names.tso = 'tso:TSO-TOKYO';
  const pki = await pkiWorld(names, { prefix: spec.prefix ?? 'erab-world-' });
  const dir = pki.dir;
  const net = `127.${100 + Math.floor(Math.random() * 100)}`;
  const roles = { default: spec.defaultRole ?? 'viewer', operators: spec.operators };
  const started: RoleProcess[] = [];
  let reader: EchonetController | undefined;
  const readyMs = spec.readyMs ?? 90_000;

  const stop = async (): Promise<void> => {
    await reader?.close();
    reader = undefined;
    const codes = await Promise.all(started.map(async (r) => ({ r, code: await terminate(r.proc) })));
    const bad = codes.filter((c) => c.code !== 0);
    if (bad.length) throw new Error(`${bad.map(({ r, code }) => `${r.name} stopped with ${code ?? r.proc.signalCode}:\n${r.err.slice(-1500)}`).join('\n')}\n(the world's files are kept in ${dir})`);
    pki.close();
  };

  try {
    let tso: TsoProcess | undefined;
    if (spec.tso) {
      const port = await freeLoopbackPort();
      const apiPort = await freeLoopbackPort();
      const auditDir = join(dir, 'tso-audit');
      const configFile = writeJson(join(dir, 'tso.json'), {
        id: 'TSO-TOKYO', kind: 'tso', area: 'tokyo', tls: pki.tlsFiles('tso'),
        listen: { host: '127.0.0.1', port }, api: { host: '127.0.0.1', port: apiPort, operators: Object.keys(spec.operators) },
        store: { url: join(dir, 'tso.db') }, audit: { dir: auditDir },
        contractedAggregators: [{ id: 'AGG1', contractedKw: 500 }], pollIntervalMs: 1000,
      });
      const r = await startRole('tso', ['tso', 'run', '--config', configFile], readyMs);
      started.push(r);
      tso = Object.assign(r, { configFile, auditDir, apiPort, port });
    }

    const storeUrl = join(dir, 'aggregator.db');
    const portfolio = spec.portfolio ?? (gws.length ? {
      format: 'erab-portfolio/1',
      pools: [{ id: 'tokyo-t2', tsoArea: 'tokyo', product: 'tertiary2', program: 'TSO1' }],
      sites: gws.map((g, i) => ({ id: `site-${i + 1}`, name: `Home ${i + 1}`, tsoArea: 'tokyo', poolId: 'tokyo-t2' })),
      gateways: gws.map((g, i) => ({ id: g.id, siteId: `site-${i + 1}`, venId: g.id })),
    } : false);
    if (portfolio) {
      const file = writeJson(join(dir, 'portfolio.json'), portfolio);
      await runErab(['aggregator', 'portfolio', 'import', file, '--db', storeUrl, '--operator', 'setup']);
    }
    await spec.seed?.(storeUrl);

    const aggAudit = join(dir, 'aggregator-audit');
    const aggConfig = writeJson(join(dir, 'aggregator.json'), {
      id: 'AGG1', tls: pki.tlsFiles('agg'), store: { url: storeUrl }, audit: { dir: aggAudit },
      downstream: { host: '127.0.0.1', port: 0, allowList: { participants: gws.map((g) => `gateway:${g.id}`) }, pollIntervalMs: 200, reportIntervalMs: 1000 },
      console: { host: '127.0.0.1', port: 0, roles },
      closedLoop: { intervalMs: 500, telemetryMaxAgeMs: 5000 },
      ...(tso ? { upstream: [{ name: 'tso-tokyo', kind: 'tso', vtnUrl: `https://127.0.0.1:${tso.port}`, expect: { role: 'tso', id: 'TSO-TOKYO' } }] } : {}),
      ...spec.aggregator,
    });
    const a = await startRole('aggregator', ['aggregator', 'run', '--config', aggConfig, ...(spec.aggregatorArgs?.({ dir, configFile: aggConfig }) ?? [])], readyMs);
    started.push(a);
    const aggregator: AggregatorProcess = Object.assign(a, {
      configFile: aggConfig, storeUrl, auditDir: aggAudit, consolePort: Number(a.ready.consolePort), downstreamPort: Number(a.ready.downstreamPort),
    });

    const gateways: GatewayProcess[] = [];
    const sites: SiteProcess[] = [];
    for (const [i, g] of gws.entries()) {
      const block = `${net}.${i + 1}`;
      const controller = `${block}.1`;
      const homes: SiteProcess[] = [];
      for (let h = 0; h < (g.homes ?? 1); h++) {
        const address = `${block}.${h + 2}`;
        const serialPrefix = `${g.id}H${h}`;
        const r = await startRole(`${g.id} home ${address}`, ['device', 'site', '--address', address, '--peer', controller, '--battery', g.battery ?? '10:3', '--speed', '1', '--tick-ms', '100', '--serial-prefix', serialPrefix], readyMs);
        started.push(r);
        homes.push(Object.assign(r, { address, gatewayId: g.id, serialPrefix }));
      }
      const operatorPort = await freeLoopbackPort();
      const auditDir = join(dir, `${g.id}-audit`);
      const configFile = writeJson(join(dir, `${g.id}.json`), {
        gatewayId: g.id, database: join(dir, `${g.id}.db`), audit: { dir: auditDir }, tls: pki.tlsFiles(g.id),
        aggregator: { id: 'AGG1', vtnUrl: `https://127.0.0.1:${aggregator.downstreamPort}`, certificateFile: pki.get('agg').files.certFile },
        echonet: { address: controller, devices: homes.map((s) => s.address), pollMs: 500, timeoutMs: 2000, retries: 1 },
        telemetry: { minPeriodMs: 1000 }, engine: { tickMs: 200 },
        admission: { allowList: g.admit ? homes.map((s) => ({ serialNumber: s.serialPrefix })) : [] },
        operator: { host: '127.0.0.1', port: operatorPort, roles },
        ...spec.gateway,
      });
      const r = await startRole(g.id, ['gateway', 'run', '--config', configFile], readyMs);
      started.push(r);
      gateways.push(Object.assign(r, { id: g.id, configFile, auditDir, operatorPort, controller, homes }));
      sites.push(...homes);
    }

    const consoleAt = { port: aggregator.consolePort, caPem: pki.caPem, server: { role: 'aggregator', id: 'AGG1' } };
    const auditDirs = new Map<string, string>([['aggregator', aggAudit], ...gateways.map((g) => [g.id, g.auditDir] as [string, string]), ...(tso ? [['tso', tso.auditDir] as [string, string]] : [])]);
    return {
      pki, dir, net, aggregator, gateways, sites, ...(tso ? { tso } : {}),
      origin: `https://127.0.0.1:${aggregator.consolePort}`,
      consoleAt,
      api: (who, method, path, body) => operatorCall(consoleAt, pki.get(who), method, path, body),
      onlineBatteries: (who, gatewayId, count = 1, timeoutMs = 60_000) => waitFor(`${count} batteries behind ${gatewayId} online at the aggregator`, async () => {
        const r = await operatorCall(consoleAt, pki.get(who), 'GET', `/api/fleet/devices?gateway=${encodeURIComponent(gatewayId)}&online=true&limit=500`);
        // Online and ready: a battery's first power reading makes it online, but a dispatch also
        // needs its state of charge (a later report); until then a command on it comes back short.
        const ids = r.status === 200 ? (r.json.items as { id: string; resourceClass: string; notReady?: string }[]).filter((d) => d.resourceClass === 'battery' && d.notReady === undefined).map((d) => d.id).sort() : [];
        return ids.length >= count ? ids : undefined;
      }, timeoutMs),
      batteryMode: async (site) => {
        reader ??= await EchonetController.start({ address: `${net}.0.250`, timeoutMs: 2000, retries: 2, multicast: false, autoIdentify: false });
        const [p] = await reader.getProperties(site.address, eoj(ClassCode.storageBattery, 1), [0xda]);
        if (!p?.ok) throw new Error(`${site.address} refused to tell its battery's operation mode`);
        return batteryOperationMode.decode(p.edt);
      },
      auditRecords: (role) => {
        const d = auditDirs.get(role);
        if (!d) throw new Error(`no audit log for "${role}" (have: ${[...auditDirs.keys()].join(', ')})`);
        return [...readRecords(d)].flatMap((l) => (l.record ? [l.record] : []));
      },
      stop,
    };
  } catch (err) {
    await stop().catch((e: Error) => { (err as Error).message += `\n${e.message}`; });
    throw err;
  }
}
