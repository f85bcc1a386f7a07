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
import type { Clock, TimerHandle } from '../../../core/clock.js';
import { describeError } from '../../../core/errors.js';
import type { AuditActor, AuditSink } from '../../../security/audit/types.js';
import { expireRows, type ExpiredRows, type RetentionPolicy as StoreRetentionPolicy } from '../../../store/retention.js';
import type { StoreDialect } from '../../../store/url.js';
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

/** What one application of the retention periods did. */
export interface RetentionRun {
  /** Sites whose personal data was erased (or is due, in a dry run). */
  sites: string[];
  /** Rows of the other tables deleted or blanked, per rule (src/store/retention.ts). */
  rows: ExpiredRows[];
}

/**
 * Applies every class's period of `policy` at `now` — the portfolio's sites (personal), then the
 * rows of src/store/retention.ts — and records one `privacy.retention` audit record with the
 * counts (no personal data: sites by id, which each erasure's own record names too).
 * @example await applyRetention(portfolio, store, { personalDays: 365, confidentialDays: 730 }, clock.now(), audit);
 */
export async function applyRetention(
  portfolio: Portfolio,
  store: { db: Kysely<PortfolioTables>; dialect: StoreDialect },
  policy: Partial<StoreRetentionPolicy>,
  now: number,
  audit?: AuditSink,
  options: { dryRun?: boolean; actor?: AuditActor } = {},
): Promise<RetentionRun> {
  const actor = options.actor ?? { kind: 'system', id: 'retention' };
  const sites = policy.personalDays === undefined ? []
    : options.dryRun ? await sitesPastRetention(store.db, { personalDays: policy.personalDays }, now)
      : await enforceRetention(portfolio, store.db, { personalDays: policy.personalDays }, now, actor);
  const rows = await expireRows(store, policy, now, { dryRun: options.dryRun ?? false });
  if (!options.dryRun) {
    audit?.append({
      actor, action: 'privacy.retention', outcome: 'success',
      details: {
        periods: { personalDays: policy.personalDays ?? null, confidentialDays: policy.confidentialDays ?? null, operationalDays: policy.operationalDays ?? null },
        sitesErased: sites.length, rows: rows.map((r) => `${r.class} ${r.table} ${r.action} ${r.rows}`),
      },
    });
  }
  return { sites, rows };
}

/**
 * Runs `apply` now and then every `policy.intervalMs` of `clock` (never overlapping itself);
 * resolves the returned stopper once a running application has finished. A failure is logged
 * and retried at the next interval.
 */
export function scheduleRetention(
  policy: Pick<StoreRetentionPolicy, 'intervalMs'>,
  clock: Clock,
  apply: (now: number) => Promise<unknown>,
  log?: (msg: string, fields: Record<string, unknown>, level?: 'warn' | 'error') => void,
): () => Promise<void> {
  let stopped = false;
  let timer: TimerHandle | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const tick = (): void => {
    if (stopped) return;
    running = apply(clock.now())
      .catch((e: unknown) => log?.('retention failed', { error: describeError(e) }, 'error'))
      .finally(() => {
        if (!stopped) timer = clock.setTimeout(tick, policy.intervalMs);
      });
  };
  timer = clock.setTimeout(tick, 0);
  return async () => {
    stopped = true;
    timer?.cancel();
    await running;
  };
}
