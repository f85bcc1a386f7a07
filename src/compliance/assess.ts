/**
 * One assessment: run the checks the applicable controls need, join them with the recorded
 * decisions, and give each control a status. Statuses:
 *   satisfied / not-satisfied / not-applicable  — from the automatic checks;
 *   implemented-by-process / not-adopted / compensating-control — from a decision;
 *   needs-decision — nothing decides it yet (or the decision's review date has passed).
 * A decision never turns a failing 勧告 check into a pass: a compensating control is shown beside it.
 */
import { loadAggregatorConfig } from '../roles/aggregator/runtime/config.js';
import { loadTsoConfig } from '../roles/tso/config.js';
import { gatewayConfigSchema } from '../roles/gateway/gateway.js';
import { loadConfig } from '../core/config.js';
import { existsSync } from 'node:fs';
import { openStore, type Store } from '../store/store.js';
import { parseStoreUrl } from '../store/url.js';
import { TLS_PROFILES, type TlsProfile } from '../security/tls/profiles.js';
import { applicableControls, type ComplianceProfile, type ScopedControl } from './profile.js';
import { StoreAbsentError, type CheckContext, type CheckRegistry, type CheckResult, type RoleConfigs } from './registry.js';
import { checksFor, needsDecision } from './mapping.js';
import type { Decision } from './store.js';

export type ControlStatus = 'satisfied' | 'not-satisfied' | 'not-applicable' | 'implemented-by-process' | 'not-adopted' | 'compensating-control' | 'needs-decision';

export interface ControlAssessment {
  control: ScopedControl;
  status: ControlStatus;
  checks: { id: string; result: CheckResult }[];
  decision: Decision | undefined;
  /** Why the status is what it is, in one line. */
  note: string;
}

export interface Assessment { at: number; controls: ControlAssessment[]; checks: Map<string, CheckResult> }

const CONFIG_ROLE: Record<keyof RoleConfigs, string> = { aggregator: 'aggregator', tso: 'tso', retailer: 'retailer', gateway: 'ems' };

/** Builds the context checks read through; `close` releases the stores it opened. */
export function checkContext(profile: ComplianceProfile, opts: { now: number; tlsProfiles?: Record<string, TlsProfile> }): CheckContext & { close(): Promise<void> } {
  const cache = new Map<string, unknown>();
  const stores = new Map<string, Promise<Store>>();
  const loaders: { [K in keyof RoleConfigs]: (file: string) => RoleConfigs[K] } = {
    aggregator: (f) => loadAggregatorConfig(f, {}),
    tso: (f) => loadTsoConfig(f, {}),
    retailer: (f) => loadTsoConfig(f, {}),
    gateway: (f) => loadConfig(gatewayConfigSchema, { file: f, env: {} }),
  };
  return {
    profile, now: opts.now, tlsProfiles: opts.tlsProfiles ?? TLS_PROFILES,
    config(role) {
      const file = profile.configs[role];
      if (!file || !profile.roles.includes(CONFIG_ROLE[role] as never)) return undefined;
      if (!cache.has(role)) cache.set(role, loaders[role](file));
      return cache.get(role) as never;
    },
    configFile: (role) => profile.configs[role],
    store(url) {
      let s = stores.get(url);
      if (!s) {
        // Reading must not create a role's database: a missing SQLite file is "no store yet".
        const loc = parseStoreUrl(url);
        s = loc.dialect === 'sqlite' && loc.path !== ':memory:' && !existsSync(loc.path)
          ? Promise.reject(new StoreAbsentError(url))
          : openStore({ url, migrations: [], ignoreUnknownMigrations: true });
        s.catch(() => {}); // the check that asked reports it; the cached rejection must not be unhandled
        stores.set(url, s);
      }
      return s;
    },
    async close() { for (const s of stores.values()) await s.then((x) => x.close(), () => undefined); },
  };
}

export function judge(control: ScopedControl, checks: { id: string; result: CheckResult }[], decision: Decision | undefined, now: number): { status: ControlStatus; note: string } {
  const live = decision && decision.reviewAt > now ? decision : undefined;
  const expired = decision && !live ? `decision ${decision.id} passed its review date ${new Date(decision.reviewAt).toISOString().slice(0, 10)}` : '';
  if (checks.length > 0) {
    const relevant = checks.filter((c) => c.result.status !== 'not-applicable');
    if (relevant.length === 0) return live ? { status: live.kind, note: 'checks not applicable; decision recorded' } : { status: 'not-applicable', note: 'no declared role is concerned' };
    const failing = relevant.filter((c) => c.result.status === 'not-satisfied');
    if (failing.length === 0) {
      // An organisational item needs its decision even when every supporting check holds: the checks show part of it only.
      if (!needsDecision(control.id)) return { status: 'satisfied', note: `${relevant.length} check(s) satisfied` };
      return live ? { status: live.kind, note: `decided by ${live.approver}; ${relevant.length} supporting check(s) satisfied` }
        : { status: 'needs-decision', note: `${relevant.length} supporting check(s) satisfied; ${expired || 'no decision recorded'}` };
    }
    const names = failing.map((c) => c.id).join(', ');
    const kankoku = control.appliedLevel === '勧告';
    // An organisational item is judged by its decision; its checks only support it (and are shown).
    if (live && needsDecision(control.id) && !(kankoku && live.kind === 'not-adopted')) return { status: live.kind, note: `decided by ${live.approver}; supporting checks failing: ${names}` };
    // A technical item: a failing check stands, except that a 推奨 item may be compensated or not adopted.
    if (live && !kankoku && (live.kind === 'compensating-control' || live.kind === 'not-adopted')) return { status: live.kind, note: `failing: ${names}; decided by ${live.approver}` };
    return { status: 'not-satisfied', note: `failing: ${names}${live ? ` (decision ${live.kind} recorded)` : ''}` };
  }
  if (live && control.appliedLevel === '勧告' && live.kind === 'not-adopted') return { status: 'not-satisfied', note: `a 勧告 item cannot be not adopted (decision ${live.id} by ${live.approver})` };
  if (live) return { status: live.kind, note: `decided by ${live.approver}` };
  return { status: 'needs-decision', note: expired || 'no automatic check; no decision recorded' };
}

export async function assess(profile: ComplianceProfile, registry: CheckRegistry, decisions: Map<string, Decision>, opts: { now: number; tlsProfiles?: Record<string, TlsProfile> }): Promise<Assessment> {
  const controls = applicableControls(profile);
  const ctx = checkContext(profile, opts);
  const results = new Map<string, CheckResult>();
  try {
    const ids = new Set(controls.flatMap((c) => checksFor(c.id)));
    for (const id of ids) results.set(id, await registry.run(id, ctx));
  } finally {
    await ctx.close();
  }
  const out = controls.map((control) => {
    const checks = checksFor(control.id).map((id) => ({ id, result: results.get(id)! }));
    const decision = decisions.get(control.id);
    const { status, note } = judge(control, checks, decision, opts.now);
    return { control, status, checks, decision, note };
  });
  return { at: opts.now, controls: out, checks: results };
}

