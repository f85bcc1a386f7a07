/**
 * The incident desk's store and audit log, shared by `erab incident` and `erab drill`: its own
 * store (`--db`, default $ERAB_INCIDENT_DB or ./incidents.db) and its own audit log (`--audit-dir`,
 * default $ERAB_INCIDENT_AUDIT_DIR or ./incidents-audit), created at first use.
 */
import type { Command } from 'commander';
import { becauseOf, explain } from '../../core/errors.js';
import { AuditLog } from '../../security/audit/log.js';
import { readStoredVerifierKey } from '../../security/audit/store.js';
import { openStore, type Store } from '../../store/store.js';
import { incidentMigrations, leakMigrations } from '../../secops/incidents/index.js';
import { composeMigrations } from '../../store/migrations.js';
import { UsageError } from '../usage.js';

export interface DeskOpts { db?: string; auditDir?: string }

export const DESK_ORIGIN = 'erab-incidents';

export function deskOptions(cmd: Command): Command {
  return cmd
    .option('--db <url>', 'incident desk store: SQLite file or postgres:// URL (default $ERAB_INCIDENT_DB or ./incidents.db)')
    .option('--audit-dir <dir>', "the desk's audit log (default $ERAB_INCIDENT_AUDIT_DIR or ./incidents-audit)");
}

/** Runs `fn` with the desk's store and audit log open, closing both afterwards. */
export async function withDesk<T>(o: DeskOpts, fn: (store: Store, audit: AuditLog) => Promise<T>): Promise<T> {
  const dir = o.auditDir ?? (process.env.ERAB_INCIDENT_AUDIT_DIR || 'incidents-audit');
  let audit: AuditLog;
  try {
    audit = AuditLog.open({ dir, origin: tryOrigin(dir) });
  } catch (err) {
    throw new UsageError(explain('cli.audit.cannotOpen', { dir, ...becauseOf(err) }));
  }
  try {
    const store = await openStore({ url: o.db ?? (process.env.ERAB_INCIDENT_DB || 'incidents.db'), migrations: composeMigrations(incidentMigrations, leakMigrations), ignoreUnknownMigrations: true });
    try {
      return await fn(store, audit);
    } finally {
      await store.close();
    }
  } finally {
    audit.close();
  }
}

/** The log's own name when it exists, else the desk's. */
function tryOrigin(dir: string): string {
  try {
    return readStoredVerifierKey(dir).name;
  } catch {
    return DESK_ORIGIN;
  }
}
