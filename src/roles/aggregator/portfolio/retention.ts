/**
 * Retention of personal data in the portfolio (APPI Art. 22: erase personal data once it is no
 * longer needed). A site's name and address are needed while it takes part: once none of its
 * resources has been present for `personalDays` (the contract ended, the devices left), its
 * personal data is erased (Portfolio.eraseSite: blanked and crypto-shredded, audited). The site
 * and its resources stay as pseudonymous records; the audit log keeps verifying.
 *
 * Run it on a schedule (`erab privacy retention`, from cron or a systemd timer).
 */
import { sql, type Kysely } from 'kysely';
import type { AuditActor } from '../../../security/audit/types.js';
import { ERASED, type Portfolio } from './portfolio.js';
import type { PortfolioTables } from './tables.js';

export interface RetentionPolicy {
  /** Days a site's personal data is kept after its last present resource was last seen. */
  personalDays: number;
}

const DAY_MS = 86_400_000;

/** Sites due for erasure at `now`: no present resource, nothing updated within the period, not yet erased. */
export async function sitesPastRetention(db: Kysely<PortfolioTables>, policy: RetentionPolicy, now: number): Promise<string[]> {
  const cutoff = now - policy.personalDays * DAY_MS;
  const rows = await sql<{ id: string }>`
    select s.id from portfolio_site s
    where s.name <> ${ERASED} and s.updated_at < ${cutoff}
      and not exists (select 1 from portfolio_resource r where r.site_id = s.id and (r.present = 1 or r.updated_at >= ${cutoff}))
    order by s.id`.execute(db);
  return rows.rows.map((r) => r.id);
}

/** Erases every site past its retention period; resolves to the ids erased. */
export async function enforceRetention(portfolio: Portfolio, db: Kysely<PortfolioTables>, policy: RetentionPolicy, now: number, actor: AuditActor = { kind: 'system', id: 'retention' }): Promise<string[]> {
  const due = await sitesPastRetention(db, policy, now);
  for (const id of due) await portfolio.eraseSite(id, actor, `retention: no present resource for ${policy.personalDays} days`);
  return due;
}
