/**
 * Monitoring from the role configurations: detection rules on (ERAB §3.5 検知, Table 2 運用監視 /
 * セキュリティ監視), security events streamed to a syslog collector (ERAB §4.1.3 logs analysed,
 * 自家用GL 8-1(4), Table 2 cross-system log analysis), and a health/metrics listener for the
 * operators (Table 2: performance, liveness, events).
 */
import { loadRules } from '../../secops/detect/rules.js';
import type { Check, CheckContext, CheckResult, Evidence } from '../registry.js';
import { aggregatorConfigOr, isResult } from './aggregator-config.js';

/** One declared role's configuration, as the checks below read it. */
interface RoleView {
  owner: string;
  file: string | undefined;
  syslog: { host: string; port: number; records: string } | undefined;
  /** Where /healthz, /readyz and /metrics are served, or why not. */
  health: { served: boolean; where: string };
}

/** The configurations of the declared roles (a role whose configuration is not named is left out: profile.scope fails it). */
export function roleViews(ctx: CheckContext): RoleView[] {
  const out: RoleView[] = [];
  const r = ctx.profile.roles;
  if (r.includes('aggregator')) {
    const a = ctx.config('aggregator');
    if (a) out.push({ owner: `aggregator ${a.id}`, file: ctx.configFile('aggregator'), syslog: a.syslog,
      health: a.console ? { served: true, where: `console ${a.console.host}:${a.console.port} (operator certificates)` } : { served: false, where: 'no console: health and metrics are not served' } });
  }
  for (const k of ['tso', 'retailer'] as const) {
    if (!r.includes(k)) continue;
    const t = ctx.config(k);
    // The TSO's operator API always runs and serves health and metrics beside it (src/roles/tso/tso.ts).
    if (t) out.push({ owner: `${t.kind} ${t.id}`, file: ctx.configFile(k), syslog: t.syslog, health: { served: true, where: `operator API ${t.api.host}:${t.api.port} (operator certificates)` } });
  }
  if (r.includes('ems')) {
    const g = ctx.config('gateway');
    if (g) out.push({ owner: `gateway ${g.gatewayId}`, file: ctx.configFile('gateway'), syslog: g.syslog,
      health: g.operator ? { served: true, where: `operator listener ${g.operator.host}:${g.operator.port} (operator certificates)` } : { served: false, where: 'no operator listener: health and metrics are not served' } });
  }
  return out;
}

/** Satisfied when every declared role passes `judge`. */
function everyRole(ctx: CheckContext, judge: (v: RoleView) => { ok: boolean; field: string; observed: string }): CheckResult {
  const views = roleViews(ctx);
  if (views.length === 0) return { status: 'not-applicable', evidence: [{ source: 'role configs', observed: 'no role configuration named', at: ctx.now }] };
  const evidence: Evidence[] = [];
  let ok = true;
  for (const v of views) {
    const j = judge(v);
    if (!j.ok) ok = false;
    evidence.push({ source: `${v.file}#${j.field}`, observed: `${v.owner}: ${j.observed}`, at: ctx.now });
  }
  return { status: ok ? 'satisfied' : 'not-satisfied', evidence };
}

export const syslogStreamCheck: Check = {
  id: 'audit.syslog',
  title: 'Security events are streamed to a syslog collector (RFC 5425, mutual TLS)',
  reads: "each role's syslog setting",
  async run(ctx) {
    return everyRole(ctx, (v) => ({
      ok: v.syslog !== undefined, field: 'syslog',
      observed: v.syslog ? `streams ${v.syslog.records === 'all' ? 'every record' : 'security events'} to ${v.syslog.host}:${v.syslog.port}` : 'NOT streamed (no syslog collector configured)',
    }));
  },
};

export const healthListenerCheck: Check = {
  id: 'monitoring.health',
  title: 'Health and metrics are served to operators (liveness, readiness, performance)',
  reads: "each role's operator listener (aggregator console, TSO API, gateway operator)",
  async run(ctx) {
    return everyRole(ctx, (v) => ({ ok: v.health.served, field: 'operator', observed: v.health.served ? `/healthz, /readyz, /metrics on the ${v.health.where}` : v.health.where }));
  },
};

export const detectionRulesCheck: Check = {
  id: 'secops.detection-rules',
  title: 'Detection rules are enabled',
  reads: 'aggregator detection.enabled, detection.rulesFile (or the shipped rules) and detection.overrides',
  async run(ctx) {
    const a = aggregatorConfigOr(ctx, "detection runs in the aggregator (over its audit log and the gateways' telemetry)");
    if (isResult(a)) return a;
    const source = `${ctx.configFile('aggregator')}#detection`;
    if (!a.detection.enabled) return { status: 'not-satisfied', evidence: [{ source, observed: 'detection is switched OFF (detection.enabled false)', at: ctx.now }] };
    const rules = loadRules({ ...(a.detection.rulesFile ? { file: a.detection.rulesFile } : {}), overrides: a.detection.overrides });
    const off = rules.filter((r) => !r.enabled).map((r) => r.id);
    const from = a.detection.rulesFile ?? 'the shipped rules';
    return { status: off.length === 0 ? 'satisfied' : 'not-satisfied', evidence: [{ source, observed: `detection on, ${rules.length - off.length}/${rules.length} rules of ${from} enabled${off.length ? `; DISABLED: ${off.join(', ')}` : ''}`, at: ctx.now }] };
  },
};
