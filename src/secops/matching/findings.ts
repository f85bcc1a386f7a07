/**
 * Findings: the result of matching, and their life.
 *
 *   open → notified → mitigated | patched | risk_accepted (reason, approver, expiry) → closed
 *
 * - `evaluateFindings` re-runs the match over the whole inventory and every advisory (call it
 *   after a feed import or an inventory change: either side changing re-evaluates). A new match
 *   opens a finding; one that no longer matches is `patched` when the asset's version changed
 *   (the inventory reported the fix), otherwise `closed`; one the matcher resolved and that
 *   matches again (a downgrade) is reopened. Operator decisions are never undone by the matcher
 *   except an expired risk acceptance, which reopens the finding.
 * - Every change of status goes to the audit log (action `vuln.finding.<status>`), with the
 *   actor, the reason, and for a risk acceptance the approver and expiry.
 * A finding's id is derived from (asset, advisory), so re-matching never duplicates one.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditActor, AuditRecordInput, AuditSink } from '../../core/audit-port.js';
import { type Clock, systemClock } from '../../core/clock.js';
import { InvalidInputError, PolicyRefusedError } from '../../core/errors.js';
import { normalizeName } from '../cpe.js';
import { splitPurl } from '../feeds/csaf.js';
import type { AffectedProduct } from '../feeds/model.js';
import { cpeKeysOf, namesOf } from '../inventory/identifiers.js';
import type { SecopsTables } from '../tables.js';
import { AdvisoryIndex, type MatchAsset } from './engine.js';

export const FINDING_STATUSES = ['open', 'notified', 'mitigated', 'patched', 'risk_accepted', 'closed'] as const;
export type FindingStatus = (typeof FINDING_STATUSES)[number];

/** Which status may follow which (operator actions; the matcher's own moves are listed in the module comment). */
const NEXT: Record<FindingStatus, readonly FindingStatus[]> = {
  open: ['notified', 'mitigated', 'patched', 'risk_accepted', 'closed'],
  notified: ['mitigated', 'patched', 'risk_accepted', 'closed'],
  mitigated: ['patched', 'risk_accepted', 'closed', 'open'],
  patched: ['closed', 'open'],
  risk_accepted: ['mitigated', 'patched', 'closed', 'open'],
  closed: ['open'],
};

const MATCHER: AuditActor = { kind: 'system', id: 'secops.matching' };

export const findingId = (assetId: string, advisoryUid: string): string =>
  `F-${createHash('sha256').update(`${assetId}\n${advisoryUid}`).digest('hex').slice(0, 20)}`;

export interface EvaluateResult {
  assets: number;
  advisories: number;
  matches: number;
  opened: number;
  reopened: number;
  updated: number;
  patched: number;
  closed: number;
  expired: number;
}

export interface FindingOptions {
  clock?: Clock;
  audit?: AuditSink;
}

/** The assets as the matcher sees them (present ones only). */
type AssetFacts = Pick<SecopsTables['secops_asset'], 'id' | 'kind' | 'version' | 'cpe' | 'purl' | 'product_code' | 'maker_code' | 'site_id' | 'gateway_id'>;

async function matchAssets(db: Kysely<SecopsTables>): Promise<{ list: MatchAsset[]; byId: Map<string, AssetFacts> }> {
  const makers = new Map((await db.selectFrom('secops_maker').selectAll().execute()).map((m) => [m.maker_code.toUpperCase(), normalizeName(m.name)]));
  // Only what matching and findings need: 100 000 rows are read on every evaluation.
  const rows = await db.selectFrom('secops_asset').select(['id', 'kind', 'version', 'cpe', 'purl', 'product_code', 'maker_code', 'site_id', 'gateway_id']).where('present', '=', 1).execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  const list = rows.filter((r) => r.kind === 'device' || r.kind === 'software' || r.kind === 'gateway').map((r) => ({
    id: r.id,
    version: r.version,
    cpeKeys: cpeKeysOf(r.cpe),
    purl: r.purl ? splitPurl(r.purl)?.base : undefined,
    // Software is recognised by its purl or CPE only: npm package names are too generic for a name match.
    names: r.kind === 'device' ? namesOf(r.product_code) : [],
    vendor: r.maker_code ? makers.get(r.maker_code.toUpperCase()) || undefined : undefined,
  }));
  return { list, byId };
}

/**
 * Matches the whole inventory against every advisory and brings the findings up to date.
 * @example await importFeed(db, ...); await evaluateFindings(db, { audit });
 */
export async function evaluateFindings(db: Kysely<SecopsTables>, opts: FindingOptions = {}): Promise<EvaluateResult> {
  const now = (opts.clock ?? systemClock).now();
  const audits: AuditRecordInput[] = [];
  const result = await db.transaction().execute(async (trx) => {
    const expired = await expireWithin(trx, now, audits);
    const { list, byId } = await matchAssets(trx);
    const advRows = await trx.selectFrom('secops_advisory').select(['uid', 'affected', 'cvss_vector', 'cvss_score', 'known_exploited', 'fix']).execute();
    const adv = new Map(advRows.map((a) => [a.uid, a]));
    const index = new AdvisoryIndex(advRows.map((a) => ({ uid: a.uid, affected: JSON.parse(a.affected) as AffectedProduct[] })));
    const existing = new Map((await trx.selectFrom('secops_finding').selectAll().execute()).map((f) => [f.id, f]));
    const r: EvaluateResult = { assets: list.length, advisories: index.size, matches: 0, opened: 0, reopened: 0, updated: 0, patched: 0, closed: 0, expired };
    const inserts: SecopsTables['secops_finding'][] = [];
    const matched = new Set<string>();
    for (const asset of list) {
      for (const m of index.match(asset)) {
        r.matches++;
        const id = findingId(m.assetId, m.advisoryUid);
        matched.add(id);
        const a = adv.get(m.advisoryUid)!;
        const row = byId.get(m.assetId)!;
        const facts = {
          confidence: m.confidence, match_kind: m.kind, matched_version: row.version, affected_range: m.range,
          cvss_vector: a.cvss_vector, cvss_score: a.cvss_score === null ? null : Number(a.cvss_score), known_exploited: Number(a.known_exploited) ? 1 : 0,
          fix: a.fix, site_id: row.site_id, gateway_id: row.gateway_id,
        };
        const old = existing.get(id);
        if (!old) {
          inserts.push({ id, asset_id: m.assetId, advisory_uid: m.advisoryUid, status: 'open', ...facts, accepted_reason: null, accepted_by: null, accepted_until: null, status_reason: 'matched', status_by: MATCHER.id, first_found: now, updated_at: now });
          audits.push({ actor: MATCHER, action: 'vuln.finding.open', target: id, outcome: 'success', details: { asset: m.assetId, advisory: m.advisoryUid, confidence: m.confidence, version: row.version, range: m.range } });
          r.opened++;
          continue;
        }
        const resolvedByMatcher = (old.status === 'closed' || old.status === 'patched') && old.status_by === MATCHER.id;
        const changed = (Object.keys(facts) as (keyof typeof facts)[]).some((k) => String(old[k] ?? '') !== String(facts[k] ?? ''));
        if (resolvedByMatcher) {
          const reason = `affected again (version ${row.version ?? 'unknown'} in ${m.range})`;
          await trx.updateTable('secops_finding').set({ ...facts, status: 'open', status_reason: reason, status_by: MATCHER.id, updated_at: now }).where('id', '=', id).execute();
          audits.push({ actor: MATCHER, action: 'vuln.finding.open', target: id, outcome: 'success', reason, details: { from: old.status } });
          r.reopened++;
        } else if (changed) {
          await trx.updateTable('secops_finding').set({ ...facts, updated_at: now }).where('id', '=', id).execute();
          r.updated++;
        }
      }
    }
    for (let i = 0; i < inserts.length; i += 200) await trx.insertInto('secops_finding').values(inserts.slice(i, i + 200)).execute();
    for (const old of existing.values()) {
      if (matched.has(old.id) || old.status === 'closed' || (old.status === 'patched' && old.status_by === MATCHER.id)) continue;
      const asset = byId.get(old.asset_id);
      const versionChanged = asset !== undefined && String(asset.version ?? '') !== String(old.matched_version ?? '');
      const to: FindingStatus = versionChanged ? 'patched' : 'closed';
      const reason = !asset ? 'asset no longer in the inventory' : versionChanged ? `asset now at version ${asset.version ?? 'unknown'}, outside ${old.affected_range}` : 'advisory no longer affects the asset';
      await trx.updateTable('secops_finding').set({ status: to, status_reason: reason, status_by: MATCHER.id, updated_at: now }).where('id', '=', old.id).execute();
      audits.push({ actor: MATCHER, action: `vuln.finding.${to}`, target: old.id, outcome: 'success', reason, details: { from: old.status } });
      if (to === 'patched') r.patched++;
      else r.closed++;
    }
    return r;
  });
  for (const a of audits) opts.audit?.append(a);
  return result;
}

async function expireWithin(db: Kysely<SecopsTables>, now: number, audits: AuditRecordInput[]): Promise<number> {
  const due = await db.selectFrom('secops_finding').select(['id', 'accepted_until', 'accepted_by']).where('status', '=', 'risk_accepted').where('accepted_until', '<=', now).execute();
  for (const f of due) {
    const reason = `risk acceptance by ${f.accepted_by ?? '?'} expired at ${new Date(Number(f.accepted_until)).toISOString()}`;
    await db.updateTable('secops_finding').set({ status: 'open', status_reason: reason, status_by: MATCHER.id, updated_at: now }).where('id', '=', f.id).execute();
    audits.push({ actor: MATCHER, action: 'vuln.finding.open', target: f.id, outcome: 'success', reason, details: { from: 'risk_accepted' } });
  }
  return due.length;
}

/** Reopens every finding whose risk acceptance has expired; resolves to how many. */
export async function expireRiskAcceptances(db: Kysely<SecopsTables>, opts: FindingOptions = {}): Promise<number> {
  const audits: AuditRecordInput[] = [];
  const n = await db.transaction().execute((trx) => expireWithin(trx, (opts.clock ?? systemClock).now(), audits));
  for (const a of audits) opts.audit?.append(a);
  return n;
}

export interface StatusChange {
  actor: AuditActor;
  /** Why (required for closed, risk_accepted and reopening). */
  reason?: string | undefined;
  /** risk_accepted: who approved the residual risk (自家用GL 8-4). */
  approver?: string | undefined;
  /** risk_accepted: until when (epoch ms, in the future). */
  expires?: number | undefined;
}

/**
 * Moves findings to `to`, audited; refuses a move the lifecycle does not allow (naming both
 * statuses) and a risk acceptance without reason, approver and a future expiry.
 * @throws InvalidInputError unknown finding or missing field; PolicyRefusedError a forbidden move
 */
export async function setFindingStatus(db: Kysely<SecopsTables>, ids: readonly string[], to: FindingStatus, change: StatusChange, opts: FindingOptions = {}): Promise<void> {
  const now = (opts.clock ?? systemClock).now();
  if (!FINDING_STATUSES.includes(to)) throw new InvalidInputError(`finding status "${String(to)}" is not one of ${FINDING_STATUSES.join(', ')}`);
  if ((to === 'closed' || to === 'risk_accepted' || to === 'open') && !change.reason?.trim()) throw new InvalidInputError(`moving a finding to ${to} needs a reason`);
  if (to === 'risk_accepted') {
    if (!change.approver?.trim()) throw new InvalidInputError('a risk acceptance needs an approver');
    if (change.expires === undefined || !Number.isFinite(change.expires) || change.expires <= now) throw new InvalidInputError('a risk acceptance needs an expiry in the future');
  }
  const audits: AuditRecordInput[] = [];
  await db.transaction().execute(async (trx) => {
    for (const id of ids) {
      const f = await trx.selectFrom('secops_finding').select(['id', 'status']).where('id', '=', id).executeTakeFirst();
      if (!f) throw new InvalidInputError(`finding "${id}" does not exist`);
      const from = f.status as FindingStatus;
      if (!NEXT[from].includes(to)) throw new PolicyRefusedError(`finding ${id} is ${from}: it cannot move to ${to} (allowed: ${NEXT[from].join(', ') || 'none'})`, { code: 'finding_transition' });
      await trx.updateTable('secops_finding').set({
        status: to, status_reason: change.reason ?? null, status_by: change.actor.id, updated_at: now,
        ...(to === 'risk_accepted' ? { accepted_reason: change.reason!, accepted_by: change.approver!, accepted_until: change.expires! } : {}),
      }).where('id', '=', id).execute();
      audits.push({
        actor: change.actor, action: `vuln.finding.${to}`, target: id, outcome: 'success', reason: change.reason,
        details: { from, ...(to === 'risk_accepted' ? { approver: change.approver, expires: new Date(change.expires!).toISOString() } : {}) },
      });
    }
  });
  for (const a of audits) opts.audit?.append(a);
}

/** Accepts the residual risk of findings until `expires` (shorthand for setFindingStatus). */
export function acceptRisk(db: Kysely<SecopsTables>, ids: readonly string[], a: { actor: AuditActor; reason: string; approver: string; expires: number }, opts: FindingOptions = {}): Promise<void> {
  return setFindingStatus(db, ids, 'risk_accepted', a, opts);
}

/** Marks open findings notified (the notification module calls this after a notice went out). */
export async function markNotified(db: Kysely<SecopsTables>, ids: readonly string[], actor: AuditActor, opts: FindingOptions = {}): Promise<void> {
  const open: string[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    for (const f of await db.selectFrom('secops_finding').select('id').where('status', '=', 'open').where('id', 'in', ids.slice(i, i + 500)).execute()) open.push(f.id);
  }
  if (open.length > 0) await setFindingStatus(db, open, 'notified', { actor, reason: 'notice sent' }, opts);
}
