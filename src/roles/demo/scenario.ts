/**
 * `erab demo`: the whole system of the ERAB guideline (§2.2, Figure 1) on one machine, as real
 * processes over real mutual TLS (R1, R2, R4) and real ECHONET Lite UDP (R5) on loopback.
 *
 *   TSO (簡易指令システム) ──R1──┐                ┌── gateways (half) ──R5── devices
 *                               ├── AGG-A, AGG-B ─┤
 *   retailer (DR)      ──R2──┘   │   (R4)       └── gateways (half) ──R5── devices
 *   coordinator COORD ◄──R3─────┘ (registration and telemetry only: see setup.ts)
 *   rogue aggregator ──R1──✗ (not contracted: refused by the TSO)
 *
 * The scenario on the shared accelerated clock: the TSO dispatches a 三次調整力② reduction over
 * two 30-minute blocks (one dispatch per contracted aggregator, each its share); the aggregators
 * allocate it to their gateways' devices, deliver and report; the retailer then requests an
 * upward DR block (上げDR: absorb surplus PV). The security act: a rogue aggregator with a valid
 * certificate of the same CA is refused by the TSO (not contracted, §3.3.1); a new ECHONET Lite
 * node appearing at a site is held pending by its gateway (自家用GL 6-2-4); a command signed with
 * a key that is not the aggregator's is refused by a gateway (§3.3, end-to-end signatures).
 *
 * Every started process is stopped on every path (success, failure, Ctrl-C).
 */
import { createServer as createTcpServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { toPkcs12 } from '../../security/pki/index.js';
import { join, resolve } from 'node:path';
import { scaledClock, type Clock } from '../../core/clock.js';
import { ErabError, describeError } from '../../core/errors.js';
import { KOMA_MS, formatJst, komaCeil } from '../../core/jst.js';
import { verifyAuditLog } from '../../security/audit/verify.js';
import { Supervisor } from '../common/supervisor.js';
import { IDS, planDemo, type DemoLayout, type DemoOptions } from './layout.js';
import {
  certKey, closedLoopFor, issueCertificates, prepareWorkFolder, siteDevices, writeAggregatorConfig, writeCoordinatorConfig, writeGatewayConfig, writeHostConfig, writeVtnConfig,
  type DemoCertificates,
} from './setup.js';
import { ForgerVtn, TcpRelay } from './forger.js';
import type { HostStatus } from './host.js';
import {
  TOLERANCE_FRACTION, formatAlertLine, formatIncidentLine, formatSummary, machine, meanDelivery, withinTolerance, type AuditResult, type DeliverySample, type DemoAlert, type DemoIncident, type DemoIncidentDesk, type DemoSummary, type EventResult, type SummaryWords,
} from './summary.js';
import { LiveView, type DemoViewState, type EventView } from './view.js';
import { runVulnScene, seedPortfolios } from './vuln-scene.js';

export class DemoError extends ErabError {
  constructor(message: string) {
    super('demo', message);
  }
}

export interface DemoRunOptions extends DemoOptions {
  headless: boolean;
  keep: boolean;
  /** Abort after this many real seconds (default: generous, from the fleet size and speed). */
  timeoutS?: number;
  out?: NodeJS.WriteStream;
  /** Aborts the run (Ctrl-C). */
  signal?: AbortSignal;
  /**
   * Called once the summary is made and every participant stopped (logs closed), before the work
   * folder may be removed: the CLI reads the compliance status of a participant here.
   */
  afterStop?: (dir: string) => Promise<void>;
  /**
   * Open AGG-A's operator console (`erab demo --console`): `opened` is told its URL and the
   * operator's PKCS#12 file to import once AGG-A is up, and the demo keeps running after its
   * scenario until `signal` aborts (Ctrl-C), so the console can be watched.
   */
  console?: { opened: (c: DemoConsole) => void };
  /** The summary's sentences in the operator's language (default English). */
  summaryWords?: SummaryWords;
  /**
   * The incident desk (the CLI's): when given, an incident is opened from the rogue aggregator's
   * alert, with the revocation of its certificate as the playbook's first step, and the forged
   * command's alert is added to it.
   */
  incidents?: DemoIncidentDesk;
}

/** What an operator needs to open the demo's console in a browser. */
export interface DemoConsole {
  url: string;
  aggregator: string;
  operator: string;
  /** PKCS#12 (certificate, key and CA) to import into the browser, mode 0600. */
  p12File: string;
  /** Its passphrase: random for this run (also in `<p12File>.pass`, 0600). */
  passphrase: string;
  caFile: string;
}

/**
 * Requested power per site, kW: reduction (三次②) and upward DR. The 上げDR falls in the early
 * afternoon, when PV has already filled part of the batteries, so it asks less per site.
 */
const REDUCE_KW_PER_SITE = 2.5;
const INCREASE_KW_PER_SITE = 1.5;

interface TsoDispatchView {
  eventId: string;
  state: string;
  venIDs: string[];
  periods: { start: number; requestedW: number; deliveredW: number | null; samples: number }[];
  deliveredNowW: number | null;
  requestedNowW: number;
}
interface TsoStatusView {
  registered: string[];
  dispatches: TsoDispatchView[];
  refusals: { time: number; who: string; action: string; reason: string }[];
}
interface AggStatusView {
  gateways: { venId: string }[];
  resources: { total: number; online: number };
  upstream: { name: string; registered: boolean }[];
  events: { key: string; eventId: string; state: string; gateways: number; targetW: number; deliveredW: number | null }[];
}

/** Real-time wait with a clear failure, checked every `everyMs`. */
async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, guard: () => void, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    guard();
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new DemoError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resolves once TCP `port` on 127.0.0.1 can be bound; otherwise names the participant. */
async function checkTcpPort(port: number, who: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolveOk, reject) => {
    const s = createTcpServer();
    s.once('error', (err: NodeJS.ErrnoException) => reject(new DemoError(`TCP port ${port} on 127.0.0.1 (${who}) is ${err.code === 'EADDRINUSE' ? 'already in use' : `not usable: ${err.code ?? err.message}`}; choose another port or stop what uses it`)));
    s.listen(port, '127.0.0.1', () => s.close(() => resolveOk()));
  });
}

/** Checks UDP 3610 is free on every address the demo's ECHONET Lite nodes will bind. */
async function checkUdpAddresses(entries: { address: string; who: string }[]): Promise<void> {
  const probe = (address: string, who: string) => new Promise<void>((resolveOk, reject) => {
    const s = createSocket({ type: 'udp4' });
    s.once('error', (err: NodeJS.ErrnoException) => {
      s.close();
      reject(new DemoError(`UDP port 3610 on ${address} (${who}) is ${err.code === 'EADDRINUSE' ? 'already in use — is another erab demo running? choose another --net' : `not usable: ${err.code ?? err.message}`}`));
    });
    s.bind(3610, address, () => s.close(() => resolveOk()));
  });
  for (let i = 0; i < entries.length; i += 64) {
    await Promise.all(entries.slice(i, i + 64).map((e) => probe(e.address, e.who)));
  }
}

/** Simulated start: today (JST) at 11:40, so the events run around noon when PV produces. */
function simAnchor(now = Date.now()): number {
  const jst = new Date(now + 9 * 3_600_000);
  return Date.UTC(jst.getUTCFullYear(), jst.getUTCMonth(), jst.getUTCDate(), 11, 40) - 9 * 3_600_000;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/**
 * Runs the whole demo and resolves with its summary (also printed). Throws DemoError (or the
 * work folder / participant error) when it cannot run; every started process is stopped first.
 */
/** Writes the first operator's PKCS#12 file, with a passphrase for this run, for the console. */
async function demoConsole(layout: DemoLayout, certs: DemoCertificates, aggregator: string, port: number): Promise<DemoConsole> {
  const operator = IDS.operators[0];
  const f = certs.files.get(certKey('operator', operator));
  if (!f) throw new DemoError(`no certificate issued for operator ${operator}`);
  const passphrase = randomBytes(12).toString('base64url');
  const dir = join(layout.options.dir, 'console');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const p12File = join(dir, `${operator}.p12`);
  const p12 = await toPkcs12({ certPem: readFileSync(f.certFile, 'utf8'), keyPem: readFileSync(f.keyFile, 'utf8'), chainPem: readFileSync(certs.caFile, 'utf8'), passphrase, friendlyName: `erab demo ${operator}` });
  writeFileSync(p12File, p12, { mode: 0o600 });
  writeFileSync(`${p12File}.pass`, `${passphrase}\n`, { mode: 0o600 });
  return { url: `https://127.0.0.1:${port}/`, aggregator, operator, p12File, passphrase, caFile: certs.caFile };
}

export async function runDemo(opts: DemoRunOptions): Promise<DemoSummary> {
  const out = opts.out ?? process.stdout;
  // Absolute from here on: the participants run with the work folder as their working directory,
  // and a relative path (the default ./erab-demo) would be resolved again inside it.
  const layout = planDemo({ ...opts, dir: resolve(opts.dir) });
  const view = new LiveView(out, 250, !opts.headless && Boolean(out.isTTY));
  const startedAt = Date.now();
  const log = (line: string) => {
    if (view.enabled) state.notes.push(line);
    else view.log(line);
    view.draw(state);
  };
  const state: DemoViewState = { title: `erab demo — ${opts.sites} sites`, simTime: null, speed: opts.speed, participants: [], events: [], refusals: [], notes: [] };
  const sup = new Supervisor();
  let relay: TcpRelay | undefined;
  let forger: ForgerVtn | undefined;
  let fatal: Error | undefined;
  let stopping = false;
  let incident: DemoIncident | undefined;
  let incidentError: string | undefined;
  const guard = () => {
    if (opts.signal?.aborted) throw new DemoError('interrupted');
    if (fatal) throw fatal;
  };
  const statuses = new Map<string, Record<string, unknown>>();
  const participantState = new Map<string, string>();
  const setState = (name: string, s: string) => {
    participantState.set(name, s);
    state.participants = [...participantState].map(([n, st]) => ({ name: n, state: st }));
    view.draw(state);
  };
  // Alerts the participants' detection raised (each participant's status carries its latest ones).
  const alerts = new Map<string, DemoAlert>();
  sup.on('status', (name: string, status: Record<string, unknown>) => {
    statuses.set(name, status);
    for (const a of (status.alerts as (Omit<DemoAlert, 'participant'> & { participant?: string })[] | undefined) ?? []) {
      const participant = a.participant ?? name;
      const k = `${participant}#${a.id}`;
      if (!alerts.has(k)) {
        alerts.set(k, { ...a, participant });
        log(`alert: ${formatAlertLine({ ...a, participant })}`);
      } else alerts.set(k, { ...a, participant });
    }
  });
  const alertOf = (participant: string, rule: string, about: RegExp) =>
    [...alerts.values()].find((a) => a.participant === participant && a.ruleId === rule && about.test(`${a.key} ${a.summary} ${a.evidence ?? ''}`));
  sup.on('exit', (name: string, code: unknown) => {
    if (stopping) return;
    const tail = sup.lastOutput(name).slice(-5).map((l) => `    ${l}`).join('\n');
    fatal ??= new DemoError(`participant ${name} exited unexpectedly (${String(code)})${tail ? `\n  last output:\n${tail}` : ''}`);
    setState(name, 'exited');
  });
  // Start-up (hosts start in parallel, ~3 s per site per host on a loaded machine), waits, and
  // about four simulated hours of scenario.
  const defaultTimeoutS = 240 + opts.sites * 0.6 + Math.max(...layout.hosts.map((h) => h.sites.length)) * 3 + (4 * 60 * 60_000) / opts.speed / 1000;
  const deadline = startedAt + (opts.timeoutS ?? defaultTimeoutS) * 1000;
  const left = () => Math.max(1000, deadline - Date.now());

  let dir = layout.options.dir;
  let passed = false;
  let summarized = false;
  try {
    // ---- 1. the work folder, free ports, certificates and configuration files
    dir = prepareWorkFolder(layout);
    await checkTcpPort(opts.tsoPort, 'TSO VTN, --tso-port');
    await checkUdpAddresses([
      ...layout.sites.flatMap((s) => [
        { address: s.controllerAddress, who: `${s.gatewayId}'s ECHONET Lite controller` },
        { address: s.deviceAddress, who: `site ${s.index + 1}'s device node` },
      ]),
      { address: layout.unknownDevice.address, who: 'the unknown device of the security act' },
    ]);
    log(`work folder ${dir}`);
    const certs = await issueCertificates(layout);
    log(`CA and ${certs.files.size} certificates issued in ${layout.pkiDir}`);

    // ---- 2. participants, as processes on one accelerated clock
    const realAnchor = Date.now();
    const anchor = simAnchor(realAnchor);
    const clock: Clock = scaledClock({ speed: opts.speed, realAnchor, simAnchor: anchor });
    const env = {
      ERAB_SIM_SPEED: String(opts.speed), ERAB_SIM_REAL_ANCHOR: String(realAnchor), ERAB_SIM_ANCHOR: String(anchor),
      ERAB_LOG_LEVEL: process.env.ERAB_LOG_LEVEL ?? 'warn',
    };
    const tick = setInterval(() => {
      state.simTime = clock.now();
      view.draw(state);
    }, 250);
    tick.unref();
    const start = async (name: string, args: string[], readyTimeoutMs = 60_000) => {
      setState(name, 'starting');
      guard();
      const p = await sup.start(name, args, { env, readyTimeoutMs, cwd: dir });
      setState(name, 'ready');
      return p;
    };
    const tsoFile = writeVtnConfig(layout, certs, 'tso');
    const retailerFile = writeVtnConfig(layout, certs, 'retailer');
    const coordFile = writeCoordinatorConfig(layout, certs);
    const [tso, retailer, coord] = await Promise.all([
      start('tso', ['demo', 'participant', 'tso', '--config', tsoFile, '--name', 'tso']),
      start('retailer', ['demo', 'participant', 'retailer', '--config', retailerFile, '--name', 'retailer']),
      start(IDS.coordinator, ['aggregator', 'run', '--config', coordFile, '--name', IDS.coordinator]),
    ]);
    const urls = { tso: String(tso.info.url), retailer: String(retailer.info.url), coordinator: `https://127.0.0.1:${Number(coord.info.downstreamPort)}` };
    log(`TSO ${IDS.tso} at ${urls.tso}, retailer ${IDS.retailer} at ${urls.retailer}, aggregation coordinator ${IDS.coordinator} at ${urls.coordinator}`);
    const consoleOf = IDS.aggregators[0];
    const aggFiles = [...IDS.aggregators, IDS.rogue].map((id) => writeAggregatorConfig(layout, certs, id, urls, Boolean(opts.console) && id === consoleOf));
    // Their portfolios list their sites and gateways, so their inventories (and findings) fill in.
    await seedPortfolios(layout);
    const aggs = await Promise.all([...IDS.aggregators, IDS.rogue].map((id, i) => start(id, ['aggregator', 'run', '--config', aggFiles[i]!, '--name', id])));
    const aggPort = new Map(aggs.map((p) => [p.name, Number(p.info.downstreamPort)]));
    const consolePort = aggs.find((p) => p.name === consoleOf)?.info.consolePort;
    if (opts.console && consolePort !== undefined) opts.console.opened(await demoConsole(layout, certs, consoleOf, Number(consolePort)));
    log(`aggregators ${IDS.aggregators.join(', ')} up (downstream VTNs on ${[...aggPort.values()].join(', ')}); rogue ${IDS.rogue} trying the TSO`);

    // Site 1's gateway reaches AGG-A through a relay: the path the security act hijacks.
    const victim = layout.sites[0]!;
    relay = new TcpRelay(aggPort.get(victim.aggregator)!);
    const relayPort = await relay.start();
    for (const s of layout.sites) {
      writeGatewayConfig(layout, certs, s, `https://127.0.0.1:${s === victim ? relayPort : aggPort.get(s.aggregator)!}`);
    }
    for (const h of layout.hosts) {
      const sites = h.sites.map((i) => layout.sites[i]!);
      writeHostConfig(h.configFile, h.kind === 'devices'
        ? { name: h.name, kind: 'devices', sites: sites.map((s) => siteDevices(layout, s, anchor)) }
        : { name: h.name, kind: 'gateways', gateways: sites.map((s) => join(s.dir, 'config.json')) });
    }
    // A host starts its sites in batches; on a loaded two-core machine a gateway takes up to ~2 s.
    const perHost = Math.max(...layout.hosts.map((h) => h.sites.length));
    const hostTimeout = 120_000 + perHost * 3000;
    await Promise.all(layout.hosts.filter((h) => h.kind === 'devices').map((h) => start(h.name, ['demo', 'host', '--config', h.configFile, '--name', h.name], hostTimeout)));
    log(`${opts.sites} sites' devices up (battery, PV, EV charger, water heater, smart meter each)`);
    await Promise.all(layout.hosts.filter((h) => h.kind === 'gateways').map((h) => start(h.name, ['demo', 'host', '--config', h.configFile, '--name', h.name], hostTimeout)));
    log(`${opts.sites} gateways up`);

    const tsoStatus = () => statuses.get('tso') as TsoStatusView | undefined;
    const retStatus = () => statuses.get('retailer') as TsoStatusView | undefined;
    const aggStatus = (id: string) => statuses.get(id) as AggStatusView | undefined;
    const hostStatuses = () => layout.hosts.filter((h) => h.kind === 'gateways').map((h) => statuses.get(h.name) as HostStatus | undefined);

    // ---- 3. everyone registered, every site's devices online at its aggregator
    await until('both aggregators to register with the TSO and the retailer', () =>
      IDS.aggregators.every((a) => tsoStatus()?.registered.includes(a) && retStatus()?.registered.includes(a)), left(), guard);
    await until(`both resource aggregators to register with the aggregation coordinator ${IDS.coordinator} (R3)`, () =>
      IDS.aggregators.every((a) => aggStatus(IDS.coordinator)?.gateways.some((g) => g.venId === a)), left(), guard);
    await until(`all ${opts.sites} gateways to register with their aggregators`, () => {
      const n = hostStatuses().reduce((a, s) => a + (s?.registered ?? 0), 0);
      return n === opts.sites;
    }, left(), guard);
    await until('every site\'s devices to report to its aggregator', () => IDS.aggregators.every((a) => {
      const st = aggStatus(a);
      const sites = layout.sites.filter((s) => s.aggregator === a).length;
      return st !== undefined && st.gateways.length === sites && st.resources.total >= sites * 4 && st.resources.online >= st.resources.total;
    }), left(), guard);
    log('all participants registered; devices reporting');

    // The rogue aggregator: refused by the TSO (TLS admits its CA, registration does not: not contracted).
    const rogueRefusal = await until('the TSO to refuse the rogue aggregator', () => tsoStatus()?.refusals.find((r) => r.who.includes(IDS.rogue)), left(), guard)
      .catch((e: unknown) => { if (fatal || opts.signal?.aborted) throw e; return undefined; });
    if (rogueRefusal) {
      state.refusals.push({ time: rogueRefusal.time, by: 'tso', what: IDS.rogue, reason: rogueRefusal.reason || rogueRefusal.action });
      log(`TSO refused ${IDS.rogue}: ${rogueRefusal.reason || rogueRefusal.action}`);
    }
    // The TSO's detection: a refused certificate that tries again is an alert (refused-peer-retries).
    const rogueAlert = await until('the TSO to raise an alert for the rogue aggregator', () => alertOf('tso', 'refused-peer-retries', new RegExp(IDS.rogue)), Math.min(left(), 60_000), guard)
      .catch((e: unknown) => { if (fatal || opts.signal?.aborted) throw e; return undefined; });
    // Incident response (自家用GL 10-2): an incident from the alert; its first step revokes the
    // rogue aggregator's certificate (the TSO reloads its CRL and drops the connection).
    if (rogueAlert && opts.incidents) {
      incident = await opts.incidents.open({
        alert: rogueAlert, alertsDb: layout.file('tso', 'tso.db'), title: `rogue aggregator ${IDS.rogue} at the TSO`,
        contain: { role: 'aggregator', id: IDS.rogue },
      }).catch((e: unknown) => { incidentError = describeError(e); return undefined; });
      log(incident ? formatIncidentLine(incident) : `incident not opened: ${incidentError}`);
    }

    // ---- 4. the TSO's reduction event: 2 blocks of 三次調整力②, one dispatch per aggregator
    const share = (a: string, kwPerSite: number) => round1(layout.sites.filter((s) => s.aggregator === a).length * kwPerSite);
    const leadMs = Math.max(5 * 60_000, 4 * layout.timings.gatewayPollMs + 2 * layout.timings.upstreamPollMs);
    const tsoStart = komaCeil(clock.now() + leadMs);
    const tsoEnd = tsoStart + 2 * KOMA_MS;
    // The retailer's block is fixed once the TSO event is over (see section 6).
    let retStart = Number.POSITIVE_INFINITY;
    let retEnd = Number.POSITIVE_INFINITY;
    const issued: { issuer: 'tso' | 'retailer'; id: string; eventId: string; aggregator: string; realAt: number; requestedKw: number }[] = [];
    const tsoIssuedAt = Date.now();
    for (const a of IDS.aggregators) {
      const eventId = `TSO-E1-${a}`;
      await sup.request('tso', 'dispatch', { product: 'tertiary2', direction: 'reduce', quantityKw: share(a, REDUCE_KW_PER_SITE), start: tsoStart, periods: 2, to: [a], eventId, ignoreLeadTime: true });
      issued.push({ issuer: 'tso', id: 'TSO-E1', eventId, aggregator: a, realAt: tsoIssuedAt, requestedKw: share(a, REDUCE_KW_PER_SITE) });
    }
    log(`TSO dispatched 三次調整力② reduce ${round1(opts.sites * REDUCE_KW_PER_SITE)} kW, ${iso(tsoStart)} for 2 blocks`);

    // Delivery samples from the TSO's and the retailer's own view (their aggregators' reports).
    const samples = new Map<string, DeliverySample[]>();
    const sampler = setInterval(() => {
      const now = clock.now();
      for (const st of [tsoStatus(), retStatus()]) {
        for (const d of st?.dispatches ?? []) {
          if (!issued.some((i) => i.eventId === d.eventId)) continue;
          let list = samples.get(d.eventId);
          if (!list) samples.set(d.eventId, (list = []));
          if (d.requestedNowW > 0) list.push({ t: now, requestedW: d.requestedNowW, deliveredW: d.deliveredNowW });
        }
      }
      state.events = issued.map((i): EventView => {
        const list = samples.get(i.eventId) ?? [];
        const begin = i.issuer === 'tso' ? tsoStart : retStart;
        const end = i.issuer === 'tso' ? tsoEnd : retEnd;
        const phase = now < begin ? 'far' : now < end ? 'active' : 'completed';
        return {
          id: i.eventId, issuer: i.issuer, state: phase,
          title: `${i.issuer === 'tso' ? '三次② reduce' : '上げDR increase'} ${i.requestedKw} kW → ${i.aggregator}`,
          samples: list.map((s) => ({ t: s.t, targetW: s.requestedW, deliveredW: s.deliveredW })),
        };
      });
      for (const h of hostStatuses()) {
        for (const r of h?.refusals ?? []) {
          if (!state.refusals.some((x) => x.time === r.time && x.what === `${r.gatewayId} ${r.target ?? ''}`)) {
            state.refusals.push({ time: r.time, by: r.gatewayId, what: `${r.gatewayId} ${r.target ?? ''}`, reason: r.reason });
          }
        }
      }
      // The run's timeline in the work folder (kept with --keep): what the TSO/retailer and the aggregators saw.
      timeline.push(JSON.stringify({
        t: iso(now),
        vtn: [tsoStatus(), retStatus()].flatMap((st) => (st?.dispatches ?? []).map((d) => ({ id: d.eventId, requestedNowW: d.requestedNowW, deliveredNowW: d.deliveredNowW }))),
        aggregators: IDS.aggregators.map((id) => ({ id, online: aggStatus(id)?.resources.online, events: (aggStatus(id)?.events ?? []).map((e) => ({ ...e, samples: undefined })) })),
      }));
      view.draw(state);
    }, 500);
    sampler.unref();
    const timeline: string[] = [];

    /** Gateways holding an event, and the real time the last of them first held it before `byReal`. */
    const gatewaysHolding = (eventId: string, byReal: number) => {
      let count = 0;
      let before = 0;
      let last = 0;
      for (const h of hostStatuses()) {
        for (const [k, v] of Object.entries(h?.events ?? {})) {
          if (!k.includes(eventId)) continue;
          count += v.gateways;
          for (const t of v.times) {
            if (t <= byReal) {
              before++;
              last = Math.max(last, t);
            }
          }
        }
      }
      return { count, before, last };
    };
    // Most gateways an aggregator instructed at once for each event (its allocation, re-dispatch included).
    const instructedMax = new Map<string, number>();
    const noteInstructed = () => {
      for (const id of IDS.aggregators) {
        for (const e of aggStatus(id)?.events ?? []) instructedMax.set(e.eventId, Math.max(instructedMax.get(e.eventId) ?? 0, e.gateways));
      }
    };
    const watcher = setInterval(noteInstructed, 500);
    watcher.unref();
    /** Real time at which the shared clock reaches `simT`. */
    const realAt = (simT: number) => realAnchor + (simT - anchor) / opts.speed;

    // ---- 5. the security act during the TSO event: an unknown device appears at site 1
    await until(`the TSO event to start (${iso(tsoStart)})`, () => clock.now() >= tsoStart, left(), guard);
    log('TSO event active');
    const unknown = layout.unknownDevice;
    const devHost = layout.hosts.find((h) => h.kind === 'devices' && h.sites.includes(unknown.site))!;
    const gwHost = layout.hosts.find((h) => h.kind === 'gateways' && h.sites.includes(unknown.site))!;
    await sup.request(devHost.name, 'add-node', { address: unknown.address, serial: unknown.serial, peer: layout.sites[unknown.site]!.controllerAddress, speed: opts.speed });
    log(`an unknown ECHONET Lite node appeared at ${unknown.address} (site 1)`);
    const pending = await until('the gateway to hold the unknown device pending', () =>
      (statuses.get(gwHost.name) as HostStatus | undefined)?.pendingDevices?.find((d) => d.address === unknown.address), left(), guard)
      .catch((e: unknown) => { if (fatal || opts.signal?.aborted) throw e; return undefined; });
    if (pending) {
      state.refusals.push({ time: Date.now(), by: pending.gatewayId, what: `device ${pending.deviceId}`, reason: `${pending.state}: not on the allow-list, awaiting the operator` });
      log(`${pending.gatewayId} holds ${pending.deviceId} (${pending.class}) ${pending.state}`);
    }

    // ---- 6. after the TSO event, the forged command: site 1's path hijacked to an endpoint with a
    // certificate in AGG-A's name but not AGG-A's signing key
    await until(`the TSO event to end (${iso(tsoEnd)})`, () => clock.now() >= tsoEnd + layout.timings.upstreamReportMs, left(), guard, 250);
    log('TSO event completed');
    const ca = await certs.pki.authority();
    const fake = await ca.issue({ role: 'aggregator', id: victim.aggregator });
    forger = new ForgerVtn({
      aggregatorId: victim.aggregator, gatewayId: victim.gatewayId, certPem: fake.certPem, keyPem: fake.keyPem, caPem: ca.certPem,
      clock,
    });
    const forgerPort = await forger.start();
    const actStart = Date.now();
    relay.redirect(forgerPort);
    log(`site 1's network path now leads to a forger holding a certificate in ${victim.aggregator}'s name (not its signing key)`);
    const forged = await until('the gateway to refuse the forged command', () =>
      ((statuses.get(gwHost.name) as HostStatus | undefined)?.refusals ?? []).find((r) => r.time >= actStart && r.gatewayId === victim.gatewayId && r.action === 'gateway.command'),
    Math.min(left(), 60_000 + 30 * layout.timings.gatewayPollMs / opts.speed), guard)
      .catch((e: unknown) => { if (fatal || opts.signal?.aborted) throw e; return undefined; });
    relay.redirect(aggPort.get(victim.aggregator)!);
    if (forged) log(`${victim.gatewayId} refused the forged command: ${forged.reason}`);
    // The gateway's detection: a command refused by policy is an alert (command-refused-by-policy).
    const forgedAlert = !forged ? undefined : await until(`${victim.gatewayId} to raise an alert for the forged command`, () => alertOf(victim.gatewayId, 'command-refused-by-policy', /./), Math.min(left(), 60_000), guard)
      .catch((e: unknown) => { if (fatal || opts.signal?.aborted) throw e; return undefined; });
    if (forgedAlert && incident && opts.incidents) {
      const open = incident;
      incident = await opts.incidents.addAlert(open.id, forgedAlert, join(victim.dir, 'gateway.db'))
        .catch((e: unknown) => { incidentError = describeError(e); return open; });
      log(formatIncidentLine(incident));
    }

    // ---- 7. the retailer's 上げDR block, requested once the TSO event and its recovery time are over.
    // (The aggregator keeps a resource's pre-event baseline through that recovery time; an event
    // offered while another still holds a resource currently starts without that resource's
    // baseline — see the report of this change — so the demo does not overlap them.)
    const loop = closedLoopFor(layout);
    const recoveryMs = loop.graceMs + loop.telemetryMaxAgeMs;
    await until(`the TSO event to end and its devices to recover (${iso(tsoEnd + recoveryMs)})`, () => clock.now() >= tsoEnd + recoveryMs + 60_000, left(), guard, 250);
    retStart = komaCeil(clock.now() + leadMs);
    retEnd = retStart + KOMA_MS;
    const retIssuedAt = Date.now();
    for (const a of IDS.aggregators) {
      const eventId = `RET-E1-${a}`;
      await sup.request('retailer', 'dispatch', { product: 'dr', direction: 'increase', quantityKw: share(a, INCREASE_KW_PER_SITE), start: retStart, periods: 1, to: [a], eventId, ignoreLeadTime: true });
      issued.push({ issuer: 'retailer', id: 'RET-E1', eventId, aggregator: a, realAt: retIssuedAt, requestedKw: share(a, INCREASE_KW_PER_SITE) });
    }
    log(`retailer requested 上げDR +${round1(opts.sites * INCREASE_KW_PER_SITE)} kW, ${iso(retStart)} for 1 block`);
    await until(`the retailer's event to end (${iso(retEnd)})`, () => clock.now() >= retEnd + layout.timings.upstreamReportMs, left(), guard, 250);
    log('events completed');

    // ---- 7b. the vulnerability scene: advisory → findings → everyone told at once → signed update → patched
    const vulnerability = await runVulnScene({
      layout, sup, certs, dir, log, deadline: clock.now() + 14 * 86_400_000,
      until: (what, fn) => until(what, fn, Math.min(left(), 120_000), guard, 250),
    }).catch((e: unknown) => {
      if (fatal || opts.signal?.aborted) throw e;
      log(`vulnerability scene failed: ${describeError(e)}`);
      return undefined;
    });

    // ---- 8. results
    const tsoFinal = await sup.request<TsoStatusView>('tso', 'status');
    const retFinal = await sup.request<TsoStatusView>('retailer', 'status');
    noteInstructed();
    clearInterval(sampler);
    writeFileSync(join(dir, 'timeline.jsonl'), `${timeline.join('\n')}\n`);
    // When each gateway first held each event (real time), for the reach figures.
    writeFileSync(join(dir, 'gateway-events.json'), `${JSON.stringify(hostStatuses().map((h) => ({ host: h?.name, events: h?.events })), null, 1)}\n`);
    clearInterval(watcher);
    clearInterval(tick);
    const events: EventResult[] = [];
    const skip = layout.timings.upstreamReportMs + layout.timings.gatewayReportMs;
    for (const [issuer, id, begin, end, final] of [['tso', 'TSO-E1', tsoStart, tsoEnd, tsoFinal], ['retailer', 'RET-E1', retStart, retEnd, retFinal]] as const) {
      const mine = issued.filter((i) => i.id === id);
      const dispatches = mine.map((i) => {
        const m = meanDelivery(samples.get(i.eventId) ?? [], begin + skip, end);
        const v = final.dispatches.find((d) => d.eventId === i.eventId);
        return {
          eventId: i.eventId, aggregator: i.aggregator, requestedKw: i.requestedKw,
          deliveredKw: m.deliveredW === null ? null : round1(m.deliveredW / 1000),
          percent: m.deliveredW === null ? null : round1((m.deliveredW / (i.requestedKw * 1000)) * 100),
          periods: (v?.periods ?? []).map((p) => ({ start: iso(p.start), requestedKw: p.requestedW / 1000, deliveredKw: p.deliveredW === null ? null : round1(p.deliveredW / 1000) })),
          count: m.count, deliveredW: m.deliveredW,
        };
      });
      const requestedKw = round1(mine.reduce((a, i) => a + i.requestedKw, 0));
      const deliveredW = dispatches.some((d) => d.deliveredW === null) ? null : dispatches.reduce((a, d) => a + d.deliveredW!, 0);
      // The initial allocation: gateways that held their command before the event started.
      const reach = mine.map((i) => gatewaysHolding(i.eventId, realAt(begin)));
      const holding = reach.reduce((a, r) => a + r.count, 0);
      const beforeStart = reach.reduce((a, r) => a + r.before, 0);
      const inst = mine.reduce((a, i) => a + (instructedMax.get(i.eventId) ?? 0), 0);
      const lastAt = Math.max(0, ...reach.map((r) => r.last));
      events.push({
        id, issuer, product: issuer === 'tso' ? 'tertiary2 (三次調整力②)' : 'dr (上げDR)', direction: issuer === 'tso' ? 'reduce' : 'increase',
        dispatches: dispatches.map(({ count: _c, deliveredW: _d, ...rest }) => rest),
        start: iso(begin), end: iso(end), requestedKw,
        deliveredKw: deliveredW === null ? null : round1(deliveredW / 1000),
        percent: deliveredW === null ? null : round1((deliveredW / (requestedKw * 1000)) * 100),
        withinTolerance: withinTolerance(requestedKw * 1000, deliveredW),
        samples: dispatches.reduce((a, d) => a + d.count, 0),
        issueToLastGatewayMs: beforeStart > 0 && lastAt > 0 ? lastAt - mine[0]!.realAt : null,
        gatewaysInstructed: inst,
        gatewaysWithCommand: holding,
        gatewaysBeforeStart: beforeStart,
      });
    }

    // ---- 9. (with --console: keep running until Ctrl-C) stop everyone, then verify every participant's audit log
    if (opts.console && opts.signal && !opts.signal.aborted) {
      log('scenario played; the console stays open until Ctrl-C');
      await new Promise<void>((done) => opts.signal!.addEventListener('abort', () => { stopping = true; done(); }, { once: true }));
    }
    stopping = true;
    await forger.close();
    forger = undefined;
    await relay.close();
    relay = undefined;
    await sup.stopAll(15_000);
    log('all participants stopped; verifying audit logs');
    const audits = verifyAll(layout);
    const failures: string[] = [];
    const tsoEvent = events.find((e) => e.id === 'TSO-E1')!;
    for (const e of events) if (!e.withinTolerance) failures.push(`${e.issuer} event ${e.id}: delivered ${e.deliveredKw ?? '-'} kW of ${e.requestedKw} kW requested (< ${TOLERANCE_FRACTION * 100} %)`);
    if (!rogueRefusal) failures.push('the TSO did not refuse the rogue aggregator');
    if (!forged) failures.push('no gateway refused the forged command');
    if (!pending) failures.push('the unknown device was not held pending');
    if (!rogueAlert) failures.push('the TSO raised no alert for the rogue aggregator');
    if (!forgedAlert) failures.push(`${victim.gatewayId} raised no alert for the forged command`);
    if (opts.incidents) {
      if (!incident) failures.push(`no incident opened from the alerts${incidentError ? `: ${incidentError}` : ''}`);
      else if (incidentError) failures.push(`incident #${incident.id}: ${incidentError}`);
    }
    const auditFailures = audits.filter((a) => !a.ok);
    if (auditFailures.length > 0) failures.push(`${auditFailures.length} audit log(s) do not verify`);
    if (!vulnerability) failures.push('the vulnerability scene did not complete (advisory, notice, signed update, patched)');
    else if (vulnerability.patched < vulnerability.findings) failures.push(`vulnerability: ${vulnerability.patched} of ${vulnerability.findings} findings patched`);
    const summary: DemoSummary = {
      ok: failures.length === 0,
      startedAt: new Date(startedAt).toISOString(),
      durationS: (Date.now() - startedAt) / 1000,
      sites: opts.sites,
      speed: opts.speed,
      workFolder: dir,
      topology: [
        `${IDS.tso} (TSO) and ${IDS.retailer} (retailer) → ${IDS.aggregators.join(', ')} (R1, R2: OpenADR 2.0b over mutual TLS); each aggregator contracted directly`,
        `${IDS.coordinator} (aggregation coordinator) ← ${IDS.aggregators.join(', ')} registered over R3; the demo's dispatch does not pass through it (the TSO and the retailer contract the resource aggregators directly)`,
        `${IDS.aggregators.join(', ')} → ${opts.sites} gateways, half each (R4: OpenADR pull, mutual TLS, signed events) → one device node per site (R5: ECHONET Lite over UDP 3610)`,
        `processes: TSO, retailer, coordinator, 2 aggregators, rogue aggregator, ${layout.hosts.filter((h) => h.kind === 'devices').length} device host(s), ${layout.hosts.filter((h) => h.kind === 'gateways').length} gateway host(s)`,
      ],
      tolerance: `mean delivered ≥ ${TOLERANCE_FRACTION * 100} % of requested, per event, over the event after its first ${skip / 60_000} simulated minutes (first gateway telemetry interval + first report to the TSO/retailer); delivered as the TSO/retailer received it from the aggregators' TELEMETRY_USAGE reports, sampled every 0.5 s`,
      events,
      security: {
        rogueAggregatorRefused: rogueRefusal !== undefined,
        rogueRefusal: rogueRefusal ? `${rogueRefusal.action}: ${rogueRefusal.reason}` : undefined,
        forgedCommandRefused: forged !== undefined,
        forgedRefusal: forged ? `${forged.gatewayId}: ${forged.reason}` : undefined,
        unknownDevicePending: pending !== undefined,
        unknownDevice: pending ? `${pending.gatewayId} ${pending.deviceId} at ${pending.address}: ${pending.state}` : undefined,
        rogueAggregatorAlert: rogueAlert ? formatAlertLine(rogueAlert) : undefined,
        forgedCommandAlert: forgedAlert ? formatAlertLine(forgedAlert) : undefined,
        incident: incident ? formatIncidentLine(incident) : undefined,
      },
      alerts: [...alerts.values()],
      incidents: incident ? [incident] : [],
      vulnerability: vulnerability ?? null,
      audit: { ok: auditFailures.length === 0, participants: audits.length, verified: audits.length - auditFailures.length, failures: auditFailures, byParticipant: audits },
      tsoEventToLastGatewayMs: tsoEvent.issueToLastGatewayMs,
      machine: machine(),
      failures,
    };
    view.draw(state, true);
    out.write(`\n${formatSummary(summary, opts.summaryWords)}\n`);
    passed = summary.ok;
    summarized = true;
    return summary;
  } finally {
    stopping = true;
    await forger?.close().catch(() => {});
    await relay?.close().catch(() => {});
    await sup.stopAll(10_000);
    if (summarized && opts.afterStop) await opts.afterStop(dir);
    if (!opts.keep && passed && existsSync(layout.markerFile)) {
      // Audit logs were verified; the folder is kept on request (--keep) or when anything failed.
      rmSync(dir, { recursive: true, force: true });
    } else if (existsSync(layout.markerFile)) {
      out.write(`work folder kept: ${dir}\n`);
    }
  }
}

/** Times in the summary are read by operators: JST, ISO 8601 with +09:00. */
function iso(t: number): string {
  return formatJst(t);
}

/** Verifies the audit log of every participant (after they stopped: every log closed with a checkpoint). */
export function verifyAll(layout: DemoLayout): AuditResult[] {
  const dirs: { participant: string; dir: string }[] = [
    { participant: 'tso', dir: layout.file('tso', 'audit') },
    { participant: 'retailer', dir: layout.file('retailer', 'audit') },
    ...[IDS.coordinator, ...IDS.aggregators, IDS.rogue].map((id) => ({ participant: id, dir: layout.file(id, 'audit') })),
    ...layout.sites.map((s) => ({ participant: s.gatewayId, dir: join(s.dir, 'audit') })),
  ];
  return dirs.map(({ participant, dir }) => {
    if (!existsSync(dir)) return { participant, dir, ok: false, records: 0, problems: ['no audit log'] };
    try {
      const r = verifyAuditLog(dir);
      return { participant, dir, ok: r.ok, records: r.treeSize, problems: r.problems.map((p) => p.message) };
    } catch (err) {
      return { participant, dir, ok: false, records: 0, problems: [describeError(err)] };
    }
  });
}

export { formatSummary, certKey, type DemoCertificates };
