/**
 * Retention periods per data class (src/store/classification.ts: personal, confidential,
 * operational): rows past their class's period are deleted or, where the row must stay, have
 * their personal field blanked. APPI Art. 22 (erase personal data once it is no longer needed);
 * 自家用GL 8-3 (manage data by rule). A class without a period is kept.
 *
 * The rules are data, one per table that grows with time, so a module that adds such a table
 * adds a line here; a table missing from a store (the role does not use that module) is skipped.
 * The portfolio's sites (personal data erased with crypto-shredding and an audit record per
 * site) are handled by src/roles/aggregator/portfolio/retention.ts on top of this.
 */
import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import type { DataClass } from './classification.js';
import type { StoreDialect } from './url.js';

/** Days each class is kept, counted from the row's time column; absent = kept. */
export const retentionPolicySchema = z.object({
  /** Personal data (a household's name and address, a contact's address on past deliveries). */
  personalDays: z.number().int().min(1).max(36_500).optional(),
  /** Confidential records (telemetry reports received, notices the gateways have fetched). */
  confidentialDays: z.number().int().min(1).max(36_500).optional(),
  /** Operational records (finished notice deliveries). */
  operationalDays: z.number().int().min(1).max(36_500).optional(),
  /** How often the running role applies the periods, ms (default daily). */
  intervalMs: z.number().int().min(60_000).max(7 * 86_400_000).default(86_400_000),
}).strict();
export type RetentionPolicy = z.output<typeof retentionPolicySchema>;
export type RetentionPolicyInput = z.input<typeof retentionPolicySchema>;

/** The period of `cls` in the policy, days. */
export function periodOf(policy: Partial<RetentionPolicy>, cls: DataClass): number | undefined {
  return cls === 'personal' ? policy.personalDays : cls === 'confidential' ? policy.confidentialDays : policy.operationalDays;
}

/** One table's rule: rows whose `timeColumn` is before the cutoff (and match `where`) expire. */
export interface RetentionRule {
  readonly table: string;
  readonly class: DataClass;
  readonly timeColumn: string;
  /** Further condition (SQL over the table's columns), e.g. only finished rows. */
  readonly where?: string;
  /** Blank these columns (the row stays, e.g. a delivery record) instead of deleting the row. */
  readonly blank?: Readonly<Record<string, string | null>>;
}

/** Placeholder a blanked personal field reads as. */
export const ERASED_VALUE = '(erased)';

export const RETENTION_RULES: readonly RetentionRule[] = [
  // A contact's address on a finished delivery: the record stays (who was told, when), the address goes.
  { table: 'notify_delivery', class: 'personal', timeColumn: 'last_attempt_at', where: `status <> 'pending' and address <> '${ERASED_VALUE}'`, blank: { address: ERASED_VALUE } },
  { table: 'openadr_vtn_report', class: 'confidential', timeColumn: 'received_at' },
  { table: 'notify_gateway_notice', class: 'confidential', timeColumn: 'acked_at', where: 'acked_at is not null' },
  { table: 'notify_delivery', class: 'operational', timeColumn: 'last_attempt_at', where: `status <> 'pending'` },
];

/** What one rule did. */
export interface ExpiredRows {
  table: string;
  class: DataClass;
  action: 'deleted' | 'blanked';
  rows: number;
}

const DAY_MS = 86_400_000;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

/** Through the connection's own namespace (pg: search_path), so isolated schemas never see each other. */
async function tableExists(db: AnyDb, dialect: StoreDialect, table: string): Promise<boolean> {
  return dialect === 'postgres'
    ? (await sql<{ t: string | null }>`select to_regclass(${table})::text as t`.execute(db)).rows[0]?.t != null
    : Number((await sql<{ n: number }>`select count(*) as n from sqlite_master where type = 'table' and name = ${table}`.execute(db)).rows[0]?.n) === 1;
}

/**
 * Applies `rules` (default every rule) under `policy` at `now`: deletes or blanks what expired.
 * `dryRun` counts without changing anything. Resolves to what each applicable rule matched.
 */
export async function expireRows(store: { db: AnyDb; dialect: StoreDialect }, policy: Partial<RetentionPolicy>, now: number, options: { dryRun?: boolean; rules?: readonly RetentionRule[] } = {}): Promise<ExpiredRows[]> {
  const { db, dialect } = store;
  const out: ExpiredRows[] = [];
  for (const rule of options.rules ?? RETENTION_RULES) {
    const days = periodOf(policy, rule.class);
    if (days === undefined || !(await tableExists(db, dialect, rule.table))) continue;
    const cutoff = now - days * DAY_MS;
    const cond = sql`${sql.ref(rule.timeColumn)} < ${cutoff}${rule.where ? sql` and (${sql.raw(rule.where)})` : sql``}`;
    const action = rule.blank ? 'blanked' : 'deleted';
    let rows: number;
    if (options.dryRun) {
      const r = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(rule.table)} where ${cond}`.execute(db);
      rows = Number(r.rows[0]?.n ?? 0);
    } else if (rule.blank) {
      const sets = sql.join(Object.entries(rule.blank).map(([c, v]) => sql`${sql.ref(c)} = ${v}`));
      rows = Number((await sql`update ${sql.table(rule.table)} set ${sets} where ${cond}`.execute(db)).numAffectedRows ?? 0);
    } else {
      rows = Number((await sql`delete from ${sql.table(rule.table)} where ${cond}`.execute(db)).numAffectedRows ?? 0);
    }
    out.push({ table: rule.table, class: rule.class, action, rows });
  }
  return out;
}
