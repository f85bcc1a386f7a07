/**
 * Reading findings with their asset and advisory: for `erab vuln findings`, the console, and the
 * notification module, which groups the recipients of one advisory by site and gateway.
 */
import type { Kysely } from 'kysely';
import type { SecopsTables } from '../tables.js';
import type { Confidence, MatchKind } from './engine.js';
import type { FindingStatus } from './findings.js';

export interface FindingView {
  id: string;
  status: FindingStatus;
  confidence: Confidence;
  matchKind: MatchKind;
  asset: { id: string; kind: string; name: string; managementNo: string; siteId: string | null; gatewayId: string | null; version: string | null; makerCode: string | null; productCode: string | null };
  advisory: { uid: string; id: string; source: string; title: string; aliases: string[] };
  matchedVersion: string | null;
  affectedRange: string;
  cvssVector: string | null;
  cvssScore: number | null;
  knownExploited: boolean;
  fix: string | null;
  acceptance: { reason: string; approver: string; until: number } | null;
  statusReason: string | null;
  statusBy: string | null;
  firstFound: number;
  updatedAt: number;
}

/** Statuses that still need action (everything but patched and closed). */
export const ACTIVE_STATUSES: readonly FindingStatus[] = ['open', 'notified', 'mitigated', 'risk_accepted'];

export interface FindingQuery {
  status?: readonly FindingStatus[];
  /**
   * An advisory uid (`nvd:CVE-2026-0001`), id (`CVE-2026-0001`, `JVNDB-2026-000201`, any source),
   * or a CVE id that JVN or CSAF advisories carry as an alias (one CVE, every source's findings).
   */
  advisory?: string;
  assetId?: string;
  siteId?: string;
  gatewayId?: string;
  limit?: number;
  /** `id` orders by finding id, for paging with `afterId` (the operator API); default highest CVSS first. */
  order?: 'cvss' | 'id';
  afterId?: string;
}

/** Findings with asset and advisory, highest CVSS first (or by id, see {@link FindingQuery.order}). */
export async function listFindings(db: Kysely<SecopsTables>, q: FindingQuery = {}): Promise<FindingView[]> {
  let sel = db.selectFrom('secops_finding as f')
    .innerJoin('secops_asset as a', 'a.id', 'f.asset_id')
    .innerJoin('secops_advisory as v', 'v.uid', 'f.advisory_uid')
    .selectAll('f')
    .select(['a.kind', 'a.name', 'a.management_no', 'a.version', 'a.maker_code', 'a.product_code', 'v.advisory_id', 'v.source', 'v.title', 'v.aliases']);
  if (q.status && q.status.length > 0) sel = sel.where('f.status', 'in', [...q.status]);
  if (q.advisory !== undefined) {
    const adv = q.advisory;
    const alias = /^CVE-\d{4}-\d{4,}$/.test(adv) ? [`%"${adv}"%`] : [];
    sel = sel.where((eb) => eb.or([eb('f.advisory_uid', '=', adv), eb('v.advisory_id', '=', adv), ...alias.map((a) => eb('v.aliases', 'like', a))]));
  }
  if (q.assetId !== undefined) sel = sel.where('f.asset_id', '=', q.assetId);
  if (q.siteId !== undefined) sel = sel.where('f.site_id', '=', q.siteId);
  if (q.gatewayId !== undefined) sel = sel.where('f.gateway_id', '=', q.gatewayId);
  if (q.afterId !== undefined) sel = sel.where('f.id', '>', q.afterId);
  const ordered = q.order === 'id' ? sel.orderBy('f.id') : sel.orderBy('f.cvss_score', 'desc').orderBy('f.id');
  const rows = await ordered.limit(q.limit ?? 100_000).execute();
  return rows.map((r) => ({
    id: r.id, status: r.status as FindingStatus, confidence: r.confidence as Confidence, matchKind: r.match_kind as MatchKind,
    asset: { id: r.asset_id, kind: r.kind, name: r.name, managementNo: r.management_no, siteId: r.site_id, gatewayId: r.gateway_id, version: r.version, makerCode: r.maker_code, productCode: r.product_code },
    advisory: { uid: r.advisory_uid, id: r.advisory_id, source: r.source, title: r.title, aliases: JSON.parse(r.aliases) as string[] },
    matchedVersion: r.matched_version, affectedRange: r.affected_range, cvssVector: r.cvss_vector, cvssScore: r.cvss_score === null ? null : Number(r.cvss_score),
    knownExploited: Number(r.known_exploited) === 1, fix: r.fix,
    acceptance: r.accepted_until === null ? null : { reason: r.accepted_reason ?? '', approver: r.accepted_by ?? '', until: Number(r.accepted_until) },
    statusReason: r.status_reason, statusBy: r.status_by, firstFound: Number(r.first_found), updatedAt: Number(r.updated_at),
  }));
}

export interface SiteGroup {
  siteId: string | null;
  gateways: { gatewayId: string | null; findings: FindingView[] }[];
}

/**
 * The active findings of one advisory grouped by site, then gateway: who has to be told.
 * @example for (const site of await findingsByAdvisory(db, 'JVNDB-2026-000101')) notify(site.siteId, ...)
 */
export async function findingsByAdvisory(db: Kysely<SecopsTables>, advisory: string, opts: { status?: readonly FindingStatus[] } = {}): Promise<SiteGroup[]> {
  const list = await listFindings(db, { advisory, status: opts.status ?? ACTIVE_STATUSES });
  const sites = new Map<string | null, Map<string | null, FindingView[]>>();
  for (const f of list) {
    let gws = sites.get(f.asset.siteId);
    if (!gws) sites.set(f.asset.siteId, (gws = new Map()));
    const l = gws.get(f.asset.gatewayId);
    if (l) l.push(f);
    else gws.set(f.asset.gatewayId, [f]);
  }
  return [...sites].map(([siteId, gws]) => ({ siteId, gateways: [...gws].map(([gatewayId, findings]) => ({ gatewayId, findings })) }));
}
