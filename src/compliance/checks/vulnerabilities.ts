/**
 * Vulnerability management as src/secops keeps it in the aggregator's store (docs/vuln.md):
 * no finding is older than its deadline (ERAB §3.6 "update at once", 自家用GL 8-4(1)(3)), and the
 * advisory feeds are imported regularly (自家用GL 8-4(1), ERAB §4.1.3 share vulnerability
 * information). The deadline is the profile's: days after first found, by severity.
 */
import { sql } from 'kysely';
import type { Check, CheckContext, CheckResult } from '../registry.js';
import { aggregatorConfigOr, isResult } from './aggregator-config.js';
import { rowsOrNone } from './peers.js';
import { redactUrl } from '../../store/url.js';

const DAY = 86_400_000;
/** Statuses still waiting for a fix or a decision (mitigated/patched/closed are handled). */
const WAITING = ['open', 'notified'];

/** The aggregator's store url, or the result to answer when there is none to read. */
function aggregatorStore(ctx: CheckContext, what: string): string | CheckResult {
  const a = aggregatorConfigOr(ctx, `${what} is kept by the aggregator (its inventory)`);
  return isResult(a) ? a : a.store.url;
}

export const findingsOverdueCheck: Check = {
  id: 'secops.findings-overdue',
  title: 'No vulnerability finding is older than its deadline',
  reads: 'aggregator store secops_finding (open/notified by severity and first found; expired risk acceptances), one SQL count',
  async run(ctx) {
    const url = aggregatorStore(ctx, 'vulnerability management');
    if (typeof url !== 'string') return url;
    const v = ctx.profile.vulnerabilities;
    const critical = sql<boolean>`(known_exploited = 1 or cvss_score >= 9)`;
    const high = sql<boolean>`(known_exploited = 0 and cvss_score >= 7 and cvss_score < 9)`;
    const other = sql<boolean>`(known_exploited = 0 and (cvss_score is null or cvss_score < 7))`;
    const overdue = sql<boolean>`(status in (${sql.join(WAITING)}) and (
      (${critical} and first_found < ${ctx.now - v.criticalDays * DAY}) or
      (${high} and first_found < ${ctx.now - v.highDays * DAY}) or
      (${other} and first_found < ${ctx.now - v.otherDays * DAY})))
      or (status = 'risk_accepted' and accepted_until <= ${ctx.now})`;
    const source = `${redactUrl(url)} secops_finding`;
    const row = await rowsOrNone(ctx, url, (db) => db.selectFrom('secops_finding')
      .select([sql<number>`count(*)`.as('n'), sql<number>`sum(case when status in (${sql.join(WAITING)}) then 1 else 0 end)`.as('waiting'),
        sql<number>`sum(case when ${overdue} then 1 else 0 end)`.as('late')]).executeTakeFirst());
    if (!row) return { status: 'not-satisfied', evidence: [{ source, observed: 'no findings table: vulnerability management (src/secops) is not set up in this store', at: ctx.now }] };
    const late = Number(row.late ?? 0);
    const rule = `deadline ${v.criticalDays} d critical (CVSS >= 9 or known exploited), ${v.highDays} d high (CVSS >= 7), ${v.otherDays} d other`;
    let observed = `${Number(row.n)} findings, ${Number(row.waiting ?? 0)} open or notified, ${late} past their deadline or with an expired risk acceptance (${rule})`;
    if (late > 0) {
      const oldest = await rowsOrNone(ctx, url, (db) => db.selectFrom('secops_finding').select(['id', 'advisory_uid', 'asset_id', 'status']).where(overdue).orderBy('first_found').limit(3).execute());
      observed += `; oldest: ${(oldest ?? []).map((f) => `${f.id} (${f.advisory_uid} on ${f.asset_id}, ${f.status})`).join(', ')}`;
    }
    return { status: late === 0 ? 'satisfied' : 'not-satisfied', evidence: [{ source, observed, at: ctx.now }] };
  },
};

export const feedsRecentCheck: Check = {
  id: 'secops.feeds-recent',
  title: 'Vulnerability information is collected regularly (advisory feeds imported recently)',
  reads: 'aggregator store secops_feed_import: the newest import',
  async run(ctx) {
    const url = aggregatorStore(ctx, 'the advisory feed history');
    if (typeof url !== 'string') return url;
    const source = `${redactUrl(url)} secops_feed_import`;
    const rows = await rowsOrNone(ctx, url, (db) => db.selectFrom('secops_feed_import').select(['format', 'source', 'imported_at']).orderBy('imported_at', 'desc').limit(1).execute());
    if (!rows) return { status: 'not-satisfied', evidence: [{ source, observed: 'no feed import table: vulnerability management (src/secops) is not set up in this store', at: ctx.now }] };
    const last = rows[0];
    const maxDays = ctx.profile.vulnerabilities.feedMaxAgeDays;
    if (!last) return { status: 'not-satisfied', evidence: [{ source, observed: 'no advisory feed was ever imported (erab vuln import)', at: ctx.now }] };
    const ageDays = (ctx.now - Number(last.imported_at)) / DAY;
    const ok = ageDays <= maxDays;
    return { status: ok ? 'satisfied' : 'not-satisfied', evidence: [{ source, observed: `last import ${new Date(Number(last.imported_at)).toISOString()} (${ageDays.toFixed(1)} d ago, ${last.format} from ${redactUrl(last.source)}); ${ok ? 'recent' : `OLDER than ${maxDays} d`}`, at: ctx.now }] };
  },
};
