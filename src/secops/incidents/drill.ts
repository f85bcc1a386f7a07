/**
 * Drills (ERAB §4.1.3 訓練, 自家用GL 10-4): a scripted attack played against a running
 * deployment, marked as a drill (the attacker's identities say DRILL), then checked: did the
 * expected detection rule fire, did its alert reach the channels, did the playbook run (an
 * incident opened from it, marked drill). The record — every step with its time — is the
 * evidence that the drill took place and what it showed.
 *
 * Scenarios:
 * - `rogue-peer`      a certificate from another CA (the drill's own, made for the run) connects
 *                     repeatedly to the participant's listener (an aggregator's R4 or a TSO's R1).
 * - `revoked-gateway` a gateway certificate of the deployment's own CA, issued for the drill and
 *                     revoked at once (CRL rewritten), connects repeatedly.
 * - `flood`           the rogue certificate opens `attempts` connections at once (default 200): the
 *                     listener must refuse them all, stay up (one more connection is still
 *                     handled afterwards) and the flood must raise the alert.
 * - `forged-command`  a `DRILL-FORGER` certificate of the deployment's own CA (revoked when the
 *                     drill ends) sends signed requests whose XML signature is forged: the
 *                     signature check must refuse each (./drill-forged.ts).
 * - `aggregator-outage` a fault, not an attack: the running aggregator process (`outage.pid`) is
 *                     paused (SIGSTOP) for `outage.outageMs` and resumed (SIGCONT) whatever happens
 *                     (./drill-outage.ts). The target is its upstream TSO/retailer, whose detection
 *                     must raise `gateway-silent` for the aggregator's VEN and deliver it; after the
 *                     resume the aggregator must report again (recovery).
 */
import { existsSync } from 'node:fs';
import * as tls from 'node:tls';
import { describeError, explain, InvalidInputError } from '../../core/errors.js';
import { CertificateAuthority } from '../../security/pki/authority.js';
import { openPki } from '../../security/pki/store.js';
import { openStore } from '../../store/store.js';
import { AlertBook, type Alert } from '../detect/alerts.js';
import { forgedPayload, issueForger, sendForged } from './drill-forged.js';
import { aggregatorProcess, lastReport, pauseProcess, processState, shortCause } from './drill-outage.js';

export const DRILL_SCENARIOS = ['rogue-peer', 'revoked-gateway', 'flood', 'forged-command', 'aggregator-outage'] as const;
export type DrillScenario = (typeof DRILL_SCENARIOS)[number];

export interface DrillTarget {
  /** Participant under test, e.g. "aggregator:AGG-A". */
  participant: string;
  /** Its listener the attack goes to: https://host:port (loopback only). */
  url: string;
  /** Its store, where its detection keeps alerts (SQLite file or postgres:// URL). */
  alertsDb: string;
  /** revoked-gateway, forged-command: the deployment's PKI folder (a drill certificate is issued and revoked there). */
  pkiDir?: string | undefined;
  pkiPassphrase?: string | undefined;
  /** aggregator-outage: the aggregator process paused, its VEN id at the target (default: its config's id), how long. */
  outage?: { pid: number; ven?: string | undefined; outageMs: number } | undefined;
}

export interface DrillCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DrillRecord {
  format: 'erab-drill-record';
  version: 1;
  drill: true;
  scenario: DrillScenario;
  target: { participant: string; url: string; alertsDb: string };
  startedAt: string;
  finishedAt: string;
  passed: boolean;
  checks: DrillCheck[];
  timeline: { at: string; what: string; details?: Record<string, unknown> | undefined }[];
  /** The alert that answered the drill, with its evidence. */
  alert?: Alert | undefined;
  incidentId?: number | undefined;
}

export interface DrillOptions {
  /** Connections the attacker makes (default 10). */
  attempts?: number;
  /** How long to wait for the alert, ms (default 30 s). */
  waitMs?: number;
  /** Opens an incident (marked drill) from the alert: the playbook's first step. */
  openIncident?: ((alert: Alert, record: DrillRecord) => Promise<number>) | undefined;
}

const EXPECTED_RULES: Record<DrillScenario, readonly string[]> = {
  'rogue-peer': ['mtls-refusals-from-source', 'refused-peer-retries'],
  'revoked-gateway': ['refused-peer-retries', 'mtls-refusals-from-source'],
  flood: ['mtls-refusals-from-source', 'refused-peer-retries'],
  'forged-command': ['forged-signature'],
  // The silence rule keyed by VEN: at a TSO or retailer its VENs are the aggregators.
  'aggregator-outage': ['gateway-silent'],
};

function loopbackUrl(url: string): { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidInputError(explain('drill.notUrl', { url: url.slice(0, 200) }));
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  // Drills are played on our own deployment over loopback, never at another network.
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) && host !== '::1' && host !== 'localhost') {
    throw new InvalidInputError(explain('drill.notLoopback', { url: url.slice(0, 200) }));
  }
  if (u.protocol !== 'https:' || !u.port) throw new InvalidInputError(explain('drill.notHttps', { url: url.slice(0, 200) }));
  return { host, port: Number(u.port) };
}

/**
 * One connection as the attacker: TLS with its certificate, then a request. Resolves to what
 * the listener did: `refused` (handshake failed or the connection was closed without an
 * answer), or `answered <status>` — a listener that answers a rogue peer failed the drill.
 */
function knock(host: string, port: number, cert: { certPem: string; keyPem: string }): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    let settled = false;
    const done = (what: string): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(what);
    };
    const socket = tls.connect({ host, port, cert: cert.certPem, key: cert.keyPem, rejectUnauthorized: false, servername: host === '::1' || /^\d/.test(host) ? undefined : host });
    let reached = false;
    socket.once('connect', () => { reached = true; });
    socket.setTimeout(5000, () => done('refused (timeout)'));
    socket.on('secureConnect', () => {
      socket.write('POST /OpenADR2/Simple/2.0b/EiRegisterParty HTTP/1.1\r\nHost: drill\r\nContent-Type: application/xml\r\nContent-Length: 0\r\n\r\n');
    });
    socket.on('data', (b: Buffer) => {
      data += b.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      if (m) done(m[1]!.startsWith('2') ? `answered ${m[1]}` : `refused (HTTP ${m[1]})`);
    });
    // No TCP connection at all: nothing listens there, the drill did not reach its target.
    socket.on('error', (e) => done(reached ? `refused (${e.message.slice(0, 80)})` : `unreachable (${e.message.slice(0, 80)})`));
    socket.on('close', () => done('refused (closed)'));
  });
}

async function attackerCertificate(scenario: DrillScenario, target: DrillTarget, log: (what: string, details?: Record<string, unknown>) => void): Promise<{ certPem: string; keyPem: string }> {
  if (scenario === 'rogue-peer' || scenario === 'flood') {
    const ca = await CertificateAuthority.create({ commonName: 'erab DRILL rogue CA', days: 2 });
    const c = await ca.issue({ role: 'gateway', id: 'DRILL-ROGUE', days: 1 });
    log('attacker certificate made by a CA the deployment does not trust', { participant: 'gateway:DRILL-ROGUE', serial: c.serial });
    return c;
  }
  if (!target.pkiDir) throw new InvalidInputError(explain('drill.revokedNeedsPki'));
  const pki = await openPki({ dir: target.pkiDir, ...(target.pkiPassphrase !== undefined ? { passphrase: target.pkiPassphrase } : {}) });
  const id = `DRILL-REVOKED-${Date.now().toString(36).toUpperCase()}`;
  const c = await pki.issue({ role: 'gateway', id, days: 1 });
  const serials = await pki.revoke({ role: 'gateway', id }, 'keyCompromise');
  log('drill gateway certificate issued by the deployment\'s CA and revoked (CRL rewritten)', { participant: `gateway:${id}`, serials });
  return c;
}

/**
 * The participant's alerts, read without changing its store: opened with no migrations of ours (a
 * store whose role runs no detection has no alert table, and the drill must not create one there).
 */
async function readAlerts(db: string, limit: number): Promise<Alert[]> {
  if (!/^postgres(ql)?:\/\//.test(db) && !existsSync(db)) throw new InvalidInputError(explain('drill.noStore', { db }));
  const store = await openStore({ url: db, migrations: [], ignoreUnknownMigrations: true });
  try {
    return await new AlertBook(store).list({ limit });
  } catch (e) {
    throw new InvalidInputError(explain('drill.noAlertsTable', { db, ...shortCause(e) }));
  } finally {
    await store.close();
  }
}

/** Every alert's firing count now: the baseline the drill's own alert is told apart from. */
async function alertCounts(db: string): Promise<Map<number, number>> {
  return new Map((await readAlerts(db, 10_000)).map((a) => [a.id, a.count]));
}

/**
 * An alert of an expected rule that is new since `baseline` or counts more firings. Compared by
 * id and count, not by time: a deployment may run on a simulated clock (the demo does).
 */
async function findAlert(db: string, rules: readonly string[], baseline: Map<number, number>): Promise<Alert | undefined> {
  return (await readAlerts(db, 200)).find((a) => rules.includes(a.ruleId) && a.count > (baseline.get(a.id) ?? 0));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Plays `scenario` against `target` and checks the response.
 * @example const record = await runDrill('rogue-peer', { participant: 'aggregator:AGG-A', url, alertsDb });
 */
export async function runDrill(scenario: DrillScenario, target: DrillTarget, o: DrillOptions = {}): Promise<DrillRecord> {
  if (!DRILL_SCENARIOS.includes(scenario)) throw new InvalidInputError(explain('drill.badScenario', { value: String(scenario), scenarios: DRILL_SCENARIOS.join(', ') }));
  if (scenario === 'aggregator-outage') return runOutage(target, o);
  const attempts = o.attempts ?? (scenario === 'flood' ? 200 : scenario === 'forged-command' ? 3 : 10);
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 1000) throw new InvalidInputError(explain('drill.badAttempts', { value: attempts }));
  const { host, port } = loopbackUrl(target.url);
  const startedAt = Date.now();
  const timeline: DrillRecord['timeline'] = [];
  const log = (what: string, details?: Record<string, unknown>): void => {
    timeline.push({ at: new Date().toISOString(), what, ...(details ? { details } : {}) });
  };
  const checks: DrillCheck[] = [];
  log(`drill ${scenario} started against ${target.participant} at ${target.url}`);
  const forger = scenario === 'forged-command' ? await issueForger(target.participant, target.pkiDir, target.pkiPassphrase) : undefined;
  if (forger) log('forger certificate issued by the deployment\'s CA; its payloads are signed with another key', { participant: forger.participant, serial: forger.serial });
  const cert = forger ?? await attackerCertificate(scenario, target, log);

  const baseline = await alertCounts(target.alertsDb);
  log(`${baseline.size} alert(s) in ${target.participant}'s store before the attack`);
  const outcomes: string[] = [];
  let forgedRefusedBy: 'signature' | 'tls' | undefined;
  if (forger) {
    try {
      for (let i = 0; i < attempts; i++) outcomes.push(await sendForged(host, port, forger, forgedPayload(forger, i)));
    } finally {
      // The forger's certificate exists only during the drill.
      const serials = await forger.revoke();
      log('forger certificate revoked (CRL rewritten)', { serials });
    }
    const bySignature = outcomes.filter((x) => x.startsWith('signature refused')).length;
    const atTls = outcomes.filter((x) => /^refused \((?!HTTP|OpenADR)/.test(x)).length;
    // Refused at the signature check (the forger was admitted at TLS), or before it at TLS (the
    // target does not admit the forger's identity at all): either defence refused the command.
    forgedRefusedBy = bySignature === attempts ? 'signature' : atTls === attempts ? 'tls' : undefined;
    checks.push({
      name: 'forged command refused', ok: forgedRefusedBy !== undefined,
      detail: forgedRefusedBy === 'signature' ? `all ${attempts} by the signature check: ${outcomes[0]}`
        : forgedRefusedBy === 'tls' ? `all ${attempts} at TLS before the signature check (${outcomes[0]}): the target does not admit ${forger.participant}`
          : `${outcomes.filter((x) => !x.startsWith('signature refused')).length} of ${attempts} not refused by the signature check: ${outcomes.find((x) => !x.startsWith('signature refused'))}`,
    });
  } else if (scenario === 'flood') {
    outcomes.push(...await Promise.all(Array.from({ length: attempts }, () => knock(host, port, cert))));
    // Still up after the flood: one more connection reaches the listener.
    const after = await knock(host, port, cert);
    checks.push({ name: 'listener survived the flood', ok: !after.startsWith('unreachable'), detail: `a connection after the flood: ${after}` });
  } else {
    for (let i = 0; i < attempts; i++) outcomes.push(await knock(host, port, cert));
  }
  const answered = outcomes.filter((x) => x.startsWith('answered'));
  const unreachable = outcomes.filter((x) => x.startsWith('unreachable'));
  log(`attacker connected ${attempts} time(s)`, { outcomes: [...new Set(outcomes)] });
  checks.push({ name: 'target reached', ok: unreachable.length === 0, detail: unreachable.length === 0 ? `${target.url} accepted TCP connections` : `${unreachable.length} of ${attempts} connection(s): ${unreachable[0]}` });
  checks.push({ name: 'listener refused the attacker', ok: answered.length === 0, detail: answered.length === 0 ? `all ${attempts} connections refused` : `${answered.length} connection(s) answered: ${answered[0]}` });

  const rules = forgedRefusedBy === 'tls' ? EXPECTED_RULES['rogue-peer'] : EXPECTED_RULES[scenario];
  const deadline = Date.now() + (o.waitMs ?? 30_000);
  let alert: Alert | undefined;
  // Wait for the alert, then for its delivery to the channels (the detection's next pass).
  for (;;) {
    alert = await findAlert(target.alertsDb, rules, baseline);
    if ((alert && alert.delivery !== 'pending') || Date.now() > deadline) break;
    await sleep(250);
  }
  checks.push({ name: 'detection rule fired', ok: alert !== undefined, detail: alert ? `alert #${alert.id} ${alert.ruleId} (${alert.key}), ${alert.count} firing(s)` : `no alert of ${rules.join(' or ')} within ${(o.waitMs ?? 30_000) / 1000} s` });
  return conclude(scenario, target, startedAt, { checks, timeline, log }, alert, o);
}

type Log = (what: string, details?: Record<string, unknown>) => void;

/** The common end of every drill: the alert's delivery, the record, the playbook's incident, the verdict. */
async function conclude(scenario: DrillScenario, target: DrillTarget, startedAt: number, r: { checks: DrillCheck[]; timeline: DrillRecord['timeline']; log: Log }, alert: Alert | undefined, o: DrillOptions, after: DrillCheck[] = []): Promise<DrillRecord> {
  const { checks, timeline, log } = r;
  if (alert) {
    log(`alert #${alert.id} ${alert.ruleId} raised`, { key: alert.key, raisedAt: new Date(alert.raisedAt).toISOString(), evidence: alert.evidence.length });
    const delivered = alert.delivery === 'sent' || alert.deliveries.some((d) => d.ok);
    checks.push({ name: 'alert arrived', ok: delivered, detail: `delivery ${alert.delivery}${alert.deliveries.length ? ` via ${alert.deliveries.map((d) => `${d.channel}${d.ok ? '' : ' (failed)'}`).join(', ')}` : ''}` });
  }
  checks.push(...after);
  const record: DrillRecord = {
    format: 'erab-drill-record', version: 1, drill: true, scenario,
    target: { participant: target.participant, url: target.url, alertsDb: target.alertsDb },
    startedAt: new Date(startedAt).toISOString(), finishedAt: '', passed: false, checks, timeline, ...(alert ? { alert } : {}),
  };
  if (alert && o.openIncident) {
    const incidentId = await o.openIncident(alert, record);
    record.incidentId = incidentId;
    log(`playbook: incident #${incidentId} opened from alert #${alert.id} (marked drill)`);
    checks.push({ name: 'playbook ran', ok: true, detail: `incident #${incidentId}` });
  }
  record.finishedAt = new Date().toISOString();
  record.passed = checks.every((c) => c.ok) && checks.some((c) => c.name === 'detection rule fired');
  log(`drill ${record.passed ? 'passed' : 'FAILED'}`);
  return record;
}

/**
 * aggregator-outage: pause the aggregator for the outage, wait for the upstream's silence alert
 * for its VEN (during the outage or just after), resume it, then wait for the alert's delivery
 * and for the aggregator's next report at the upstream (recovery).
 */
async function runOutage(target: DrillTarget, o: DrillOptions): Promise<DrillRecord> {
  const outage = target.outage;
  if (!outage) throw new InvalidInputError(explain('drill.outage.pidNeeded'));
  if (!Number.isInteger(outage.outageMs) || outage.outageMs < 100 || outage.outageMs > 3_600_000) throw new InvalidInputError(explain('drill.outage.badLength', { value: outage.outageMs / 1000 }));
  const proc = aggregatorProcess(outage.pid);
  const ven = outage.ven ?? proc.id;
  if (!ven) throw new InvalidInputError(explain('drill.outage.noVen', { pid: outage.pid, participant: target.participant }));
  const startedAt = Date.now();
  const timeline: DrillRecord['timeline'] = [];
  const log: Log = (what, details) => { timeline.push({ at: new Date().toISOString(), what, ...(details ? { details } : {}) }); };
  const checks: DrillCheck[] = [];
  const rules = EXPECTED_RULES['aggregator-outage'];
  log(`drill aggregator-outage started: aggregator process ${outage.pid} (VEN ${ven}) silent for ${outage.outageMs / 1000} s, watched by ${target.participant}`, { process: proc.args });
  const before = await lastReport(target.alertsDb, ven);
  checks.push({ name: 'aggregator reporting before the outage', ok: before !== undefined, detail: before ? `last report #${before.id} received ${new Date(before.receivedAt).toISOString()}` : `${target.participant} holds no report from VEN ${ven}` });
  const baseline = await alertCounts(target.alertsDb);
  log(`${baseline.size} alert(s) in ${target.participant}'s store before the outage`);
  const ours = async (): Promise<Alert | undefined> => {
    const a = await findAlert(target.alertsDb, rules, baseline);
    return a?.key === ven ? a : undefined;
  };
  let alert: Alert | undefined;
  const resume = pauseProcess(outage.pid);
  let stoppedState = processState(outage.pid);
  let resumedAt: number;
  try {
    // SIGSTOP takes effect asynchronously: look for the stopped state (T) for up to a second.
    for (let i = 0; i < 20 && stoppedState !== 'T'; i++) {
      await sleep(50);
      stoppedState = processState(outage.pid);
    }
    log(`aggregator paused (SIGSTOP), process state ${stoppedState}`);
    const end = Date.now() + outage.outageMs;
    while (Date.now() < end) {
      alert ??= await ours();
      await sleep(Math.min(250, Math.max(0, end - Date.now())));
    }
  } finally {
    // Resumed whatever happened while it was paused (an interrupted drill resumes it at exit too).
    resume();
    resumedAt = Date.now();
    log(`aggregator resumed (SIGCONT) after ${(resumedAt - startedAt) / 1000} s, process state ${processState(outage.pid)}`);
  }
  checks.push({ name: 'aggregator paused', ok: stoppedState === 'T', detail: `process ${outage.pid} state ${stoppedState} during the outage (T: stopped)` });
  const atResume = await lastReport(target.alertsDb, ven);
  const deadline = Date.now() + (o.waitMs ?? 30_000);
  let recovered: Awaited<ReturnType<typeof lastReport>>;
  for (;;) {
    alert = (await ours()) ?? alert;
    const last = await lastReport(target.alertsDb, ven);
    if (last && last.id > (atResume?.id ?? 0)) recovered ??= last;
    if ((alert && alert.delivery !== 'pending' && recovered) || Date.now() > deadline) break;
    await sleep(250);
  }
  if (recovered) log(`aggregator reported again: report #${recovered.id} received ${new Date(recovered.receivedAt).toISOString()}, ${(recovered.receivedAt - resumedAt) / 1000} s after the resume`);
  checks.push({ name: 'detection rule fired', ok: alert !== undefined, detail: alert ? `alert #${alert.id} ${alert.ruleId} (${alert.key}), ${alert.count} firing(s)` : `no alert of ${rules.join(' or ')} for VEN ${ven} within the outage and ${(o.waitMs ?? 30_000) / 1000} s after` });
  const recovery: DrillCheck = {
    name: 'aggregator recovered', ok: recovered !== undefined,
    detail: recovered ? `report #${recovered.id} from VEN ${ven} at ${target.participant} after the resume` : `no report from VEN ${ven} at ${target.participant} within ${(o.waitMs ?? 30_000) / 1000} s of the resume`,
  };
  return conclude('aggregator-outage', target, startedAt, { checks, timeline, log }, alert, o, [recovery]);
}
