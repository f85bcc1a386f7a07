/**
 * The demo's verdict: requested vs delivered per event against a stated tolerance, the security
 * refusals, audit-log verification of every participant, the time from the TSO's event to the
 * last gateway holding its command, and the machine it ran on. `evaluate` is pure (tested).
 */
import { cpus, totalmem, loadavg, platform, release } from 'node:os';
import type { DispatchDirection } from '../../core/domain/direction.js';

/** Delivered counts as within tolerance when its mean is at least this share of the request. */
export const TOLERANCE_FRACTION = 0.9;

export interface DeliverySample {
  /** Simulated time, epoch ms. */
  t: number;
  requestedW: number;
  deliveredW: number | null;
}

export interface EventResult {
  id: string;
  issuer: 'tso' | 'retailer';
  product: string;
  direction: DispatchDirection;
  /** OpenADR event ids, one per aggregator. */
  dispatches: { eventId: string; aggregator: string; requestedKw: number; deliveredKw: number | null; percent: number | null; periods: { start: string; requestedKw: number; deliveredKw: number | null }[] }[];
  start: string;
  end: string;
  requestedKw: number;
  /** Mean delivered power over the evaluated window, summed over aggregators. */
  deliveredKw: number | null;
  percent: number | null;
  withinTolerance: boolean;
  /** Samples used (the evaluated window). */
  samples: number;
  /**
   * Real ms from the TSO/retailer issuing the event to the last gateway of the initial allocation
   * holding its command (gateways that held it before the event started).
   */
  issueToLastGatewayMs: number | null;
  /** Most gateways the aggregators instructed at once (closed-loop re-dispatch included). */
  gatewaysInstructed: number;
  /** Gateways that held the event at some point. */
  gatewaysWithCommand: number;
  /** Gateways that held it before the event started (the initial allocation). */
  gatewaysBeforeStart: number;
}

export interface AuditResult {
  participant: string;
  dir: string;
  ok: boolean;
  records: number;
  problems: string[];
}

/** One alert as a participant reported it (src/secops/detect through its status message). */
export interface DemoAlert {
  participant: string;
  id: number;
  ruleId: string;
  key: string;
  severity: string;
  summary: string;
  count: number;
  evidence?: string | undefined;
}

/** The incident the demo opened from its alerts (through the incident desk the CLI provides). */
export interface DemoIncident {
  id: number;
  title: string;
  status: string;
  /** The alerts in its timeline, as participant #id rule. */
  alerts: string[];
  /** Playbook steps run, each as its outcome line. */
  steps: string[];
}

/**
 * Incident response for the demo's alerts, provided from above (roles never import secops):
 * `erab demo` opens the incident desk in the work folder (src/cli/commands/demo-incidents.ts).
 */
export interface DemoIncidentDesk {
  /** Opens an incident from the alert (read from `alertsDb`, its evidence with it) and runs `contain` as its first playbook step. */
  open(req: { alert: DemoAlert; alertsDb: string; title: string; contain?: { role: 'aggregator' | 'gateway'; id: string } }): Promise<DemoIncident>;
  /** Adds another alert to the incident's timeline; returns the incident as it now stands. */
  addAlert(incidentId: number, alert: DemoAlert, alertsDb: string): Promise<DemoIncident>;
}

/** One line per incident. */
export const formatIncidentLine = (i: DemoIncident): string => `incident #${i.id} (${i.status}) "${i.title}": alerts ${i.alerts.join(', ')}; playbook: ${i.steps.join('; ') || 'no step'}`;

/** One line per alert. */
export const formatAlertLine = (a: DemoAlert): string => `${a.participant} #${a.id} ${a.severity.toUpperCase()} ${a.ruleId}${a.count > 1 ? ` ×${a.count}` : ''}: ${a.summary}`;
import type { VulnSceneResult } from './vuln-scene.js';

export interface DemoSummary {
  ok: boolean;
  startedAt: string;
  durationS: number;
  sites: number;
  speed: number;
  workFolder: string;
  /** Who talked to whom, as run. */
  topology: string[];
  tolerance: string;
  events: EventResult[];
  security: {
    rogueAggregatorRefused: boolean;
    rogueRefusal?: string | undefined;
    forgedCommandRefused: boolean;
    forgedRefusal?: string | undefined;
    unknownDevicePending: boolean;
    unknownDevice?: string | undefined;
    /** The alert the TSO's detection raised for the rogue aggregator. */
    rogueAggregatorAlert?: string | undefined;
    /** The alert the victim gateway's detection raised for the forged command. */
    forgedCommandAlert?: string | undefined;
    /** The incident opened from those alerts, with its playbook step (formatIncidentLine). */
    incident?: string | undefined;
  };
  /** Incidents the demo opened from its alerts (when run with an incident desk). */
  incidents: DemoIncident[];
  /** Every alert the participants' detection raised (from their status messages). */
  alerts: DemoAlert[];
  /** The vulnerability scene (./vuln-scene.ts), null when it did not complete. */
  vulnerability: VulnSceneResult | null;
  audit: { ok: boolean; participants: number; verified: number; failures: AuditResult[]; byParticipant: AuditResult[] };
  /** The TSO event's figure (see EventResult.issueToLastGatewayMs). */
  tsoEventToLastGatewayMs: number | null;
  machine: { cpus: number; cpuModel: string; memoryGb: number; platform: string; node: string; loadAverage: number[] };
  failures: string[];
}

/**
 * Mean requested and delivered over the samples at or after `from` (simulated ms) and before
 * `to`. Missing delivered samples count as zero delivered: a silent aggregator delivers nothing.
 */
export function meanDelivery(samples: readonly DeliverySample[], from: number, to: number): { requestedW: number; deliveredW: number | null; count: number } {
  const window = samples.filter((s) => s.t >= from && s.t < to && s.requestedW > 0);
  if (window.length === 0) return { requestedW: 0, deliveredW: null, count: 0 };
  const req = window.reduce((a, s) => a + s.requestedW, 0) / window.length;
  const del = window.reduce((a, s) => a + (s.deliveredW ?? 0), 0) / window.length;
  return { requestedW: req, deliveredW: del, count: window.length };
}

/** True when delivered reaches the tolerance share of requested. */
export function withinTolerance(requestedW: number, deliveredW: number | null): boolean {
  return requestedW > 0 && deliveredW !== null && deliveredW >= TOLERANCE_FRACTION * requestedW;
}

export function machine(): DemoSummary['machine'] {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: `${platform()} ${release()}`,
    node: process.version,
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

const pct = (p: number | null): string => (p === null ? '-' : `${p.toFixed(1)} %`);
const kw = (k: number | null): string => (k === null ? '-' : `${k.toFixed(1)} kW`);
const secs = (ms: number | null): string => (ms === null ? '-' : `${(ms / 1000).toFixed(2)} s`);

/**
 * The summary's sentences in English, `{{name}}` for the figures. A caller that speaks another
 * language (the CLI, through i18next) passes its own `SummaryWords` with the same keys.
 */
export const SUMMARY_EN = {
  result: 'erab demo: {{verdict}} — {{sites}} sites, x{{speed}}, {{seconds}} s',
  passed: 'PASSED',
  failed: 'FAILED',
  topology: 'topology: {{line}}',
  tolerance: 'tolerance: {{rule}}',
  event: '{{issuer}} {{id}} ({{product}}, {{direction}}) {{start}} → {{end}}: requested {{requested}}, delivered {{delivered}} ({{percent}})',
  dispatch: '{{aggregator}}: requested {{requested}}, delivered {{delivered}} ({{percent}})  [{{eventId}}]',
  reach: 'command held by {{before}} gateways before the start ({{all}} in all, closed-loop re-dispatch included); issue → last of them {{time}}',
  rogueRefused: 'rogue aggregator refused by the TSO',
  forgedRefused: 'forged command refused by the gateway',
  unknownPending: 'unknown device held pending',
  rogueAlert: 'rogue aggregator raised as an alert',
  forgedAlert: 'forged command raised as an alert',
  incidentOpened: 'incident opened from the alerts',
  alerts: 'alerts raised: {{count}}',
  vulnerability: 'vulnerability {{advisory}}: {{findings}} findings on {{sites}} sites affected',
  notice: '{{aggregator}} notified {{recipients}} recipients at once at {{at}} ({{delivered}}/{{deliveries}} delivered to the sites\' gateways)',
  patched: 'signed firmware update applied by the gateways: {{patched}} findings patched on {{sites}} sites',
  noVulnerability: 'vulnerability scene did not complete',
  audit: 'audit logs verified: {{verified}}/{{participants}}',
  reachTso: 'TSO event → last gateway holding its command: {{time}}',
  machine: 'machine: {{cpus}} × {{model}}, {{memory}} GB, {{platform}}, node {{node}}',
  workFolder: 'work folder: {{dir}}',
} as const;

/** One sentence of the summary with its figures filled in. */
export type SummaryWords = (key: keyof typeof SUMMARY_EN, vars?: Record<string, string | number>) => string;

const english: SummaryWords = (key, vars = {}) => SUMMARY_EN[key].replace(/\{\{(\w+)\}\}/g, (_m, k: string) => String(vars[k] ?? ''));

/** The summary as text for the terminal, in English unless `words` speaks another language. */
export function formatSummary(s: DemoSummary, words: SummaryWords = english): string {
  const w = words;
  const mark = (ok: boolean): string => (ok ? '✓' : '✗');
  const lines: string[] = [];
  lines.push(w('result', { verdict: w(s.ok ? 'passed' : 'failed'), sites: s.sites, speed: s.speed, seconds: s.durationS.toFixed(0) }));
  for (const t of s.topology) lines.push(w('topology', { line: t }));
  lines.push(w('tolerance', { rule: s.tolerance }));
  for (const e of s.events) {
    lines.push(`  ${mark(e.withinTolerance)} ${w('event', { issuer: e.issuer, id: e.id, product: e.product, direction: e.direction, start: e.start, end: e.end, requested: kw(e.requestedKw), delivered: kw(e.deliveredKw), percent: pct(e.percent) })}`);
    for (const d of e.dispatches) lines.push(`      ${w('dispatch', { aggregator: d.aggregator, requested: kw(d.requestedKw), delivered: kw(d.deliveredKw), percent: pct(d.percent), eventId: d.eventId })}`);
    lines.push(`      ${w('reach', { before: e.gatewaysBeforeStart, all: e.gatewaysWithCommand, time: secs(e.issueToLastGatewayMs) })}`);
  }
  const sec = s.security;
  const check = (ok: boolean, key: keyof typeof SUMMARY_EN, detail: string | undefined): string => `  ${mark(ok)} ${w(key)}${detail ? `: ${detail}` : ''}`;
  lines.push(check(sec.rogueAggregatorRefused, 'rogueRefused', sec.rogueRefusal));
  lines.push(check(sec.forgedCommandRefused, 'forgedRefused', sec.forgedRefusal));
  lines.push(check(sec.unknownDevicePending, 'unknownPending', sec.unknownDevice));
  lines.push(check(Boolean(sec.rogueAggregatorAlert), 'rogueAlert', sec.rogueAggregatorAlert));
  lines.push(check(Boolean(sec.forgedCommandAlert), 'forgedAlert', sec.forgedCommandAlert));
  if (s.incidents.length > 0 || sec.incident !== undefined) lines.push(check(sec.incident !== undefined, 'incidentOpened', sec.incident));
  lines.push(`  ${w('alerts', { count: s.alerts.length })}`);
  for (const a of s.alerts.slice(0, 20)) lines.push(`      ${formatAlertLine(a)}`);
  const v = s.vulnerability;
  if (v) {
    lines.push(`  ${mark(v.patched === v.findings)} ${w('vulnerability', { advisory: v.advisory, findings: v.findings, sites: v.sitesAffected })}`);
    for (const n of v.notices) lines.push(`      ${w('notice', { aggregator: n.aggregator, recipients: n.recipients, at: n.issuedAt, delivered: n.delivered, deliveries: n.deliveries })}`);
    lines.push(`      ${w('patched', { patched: v.patched, sites: v.patchedSites })}`);
  } else {
    lines.push(`  ✗ ${w('noVulnerability')}`);
  }
  lines.push(`  ${mark(s.audit.ok)} ${w('audit', { verified: s.audit.verified, participants: s.audit.participants })}`);
  for (const f of s.audit.failures.slice(0, 5)) lines.push(`      ${f.participant}: ${f.problems.slice(0, 2).join('; ')}`);
  lines.push(`  ${w('reachTso', { time: secs(s.tsoEventToLastGatewayMs) })}`);
  lines.push(`  ${w('machine', { cpus: s.machine.cpus, model: s.machine.cpuModel, memory: s.machine.memoryGb, platform: s.machine.platform, node: s.machine.node })}`);
  for (const f of s.failures) lines.push(`  ✗ ${f}`);
  lines.push(`  ${w('workFolder', { dir: s.workFolder })}`);
  return lines.join('\n');
}
