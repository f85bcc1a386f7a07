/**
 * `erab alerts list|ack|rules`: the operator's view of the alerts raised by detection
 * (src/secops/detect) in a role's store (`--db`, default $ERAB_AGGREGATOR_DB or ./aggregator.db).
 * An acknowledgement is attributed to `--operator` and audited: in `--audit-dir` when this
 * command can open that log, else (the running role holds it) by the running role's detection
 * service at its next pass.
 */
import { Option, type Command } from 'commander';
import { ErabError, becauseOf, explain } from '../../core/errors.js';
import { openStore } from '../../store/store.js';
import { AuditLog } from '../../security/audit/log.js';
import { readStoredVerifierKey } from '../../security/audit/store.js';
import { AlertBook, detectMigrations, type AlertStatus } from '../../secops/detect/alerts.js';
import { loadRules } from '../../secops/detect/rules.js';
import { UsageError } from '../usage.js';
import { formatTable } from '../table.js';
import { currentLanguage, jstTime, t } from '../i18n.js';

const DEFAULT_DB = (): string => process.env.ERAB_AGGREGATOR_DB ?? 'aggregator.db';

async function withAlerts<T>(db: string, fn: (book: AlertBook) => Promise<T>): Promise<T> {
  const store = await openStore({ url: db, migrations: detectMigrations, ignoreUnknownMigrations: true });
  try {
    return await fn(new AlertBook(store));
  } finally {
    await store.close();
  }
}

/** The role's audit log when no other process holds it; undefined when the running role does. */
function tryOpenAudit(dir: string): AuditLog | undefined {
  try {
    return AuditLog.open({ dir, origin: readStoredVerifierKey(dir).name });
  } catch (err) {
    if (err instanceof ErabError && err.code === 'audit_locked') return undefined;
    throw new UsageError(explain('cli.audit.cannotOpen', { dir, ...becauseOf(err) }));
  }
}

export function register(program: Command): void {
  const alerts = program.command('alerts').description('Alerts raised by the detection rules: list, acknowledge, show the rules');

  alerts
    .command('list')
    .description('List alerts, newest first')
    .option('--db <url>', 'role store: SQLite file or postgres:// URL (default $ERAB_AGGREGATOR_DB or ./aggregator.db)')
    .addOption(new Option('--status <status>', 'which alerts').choices(['open', 'acknowledged', 'all']).default('open'))
    .option('--rule <id>', 'only alerts of this rule')
    .option('--limit <n>', 'at most this many, 1..10000', '100')
    .addOption(new Option('--lang <lang>', 'language of the table and descriptions (default: ja when LANG=ja_JP*, else en)').choices(['ja', 'en']))
    .option('--json', 'print the alerts as JSON (with their evidence)')
    .action(async (opts: { db?: string; status: AlertStatus | 'all'; rule?: string; limit: string; lang?: 'ja' | 'en'; json?: boolean }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError(explain('cli.alerts.badLimit', { value: opts.limit }));
      const list = await withAlerts(opts.db ?? DEFAULT_DB(), (b) => b.list({ limit, ...(opts.status !== 'all' ? { status: opts.status } : {}), ...(opts.rule ? { ruleId: opts.rule } : {}) }));
      if (opts.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      else process.stdout.write(formatTable(
        ['id', 'raised', 'severity', 'rule', 'status', 'source', 'summary'].map((k) => ({ header: t(`alerts.col.${k}`) })),
        list.map((a) => [`#${a.id}`, jstTime(a.lastAt), a.severity, a.ruleId, a.status + (a.ackedBy ? ` (${a.ackedBy})` : ''), a.key + (a.count > 1 ? ` ×${a.count}` : ''), `${a.description[opts.lang ?? currentLanguage()]} — ${a.summary}`]),
        t('alerts.none'),
      ));
    });

  alerts
    .command('ack')
    .description('Acknowledge an alert (attributed to --operator, audited)')
    .argument('<id>', 'alert number (from erab alerts list)')
    .requiredOption('--operator <id>', 'the operator acknowledging it')
    .option('--note <text>', 'why (kept with the alert and in the audit record)')
    .option('--db <url>', 'role store (default $ERAB_AGGREGATOR_DB or ./aggregator.db)')
    .option('--audit-dir <dir>', "the role's audit log (default $ERAB_AGGREGATOR_AUDIT_DIR)")
    .action(async (idText: string, opts: { operator: string; note?: string; db?: string; auditDir?: string }) => {
      const id = Number(idText);
      if (!Number.isSafeInteger(id) || id < 1) throw new UsageError(explain('cli.alerts.badId', { value: idText }));
      const auditDir = opts.auditDir ?? (process.env.ERAB_AGGREGATOR_AUDIT_DIR || undefined);
      const audit = auditDir !== undefined ? tryOpenAudit(auditDir) : undefined;
      try {
        const a = await withAlerts(opts.db ?? DEFAULT_DB(), (b) => b.acknowledge(id, opts.operator, opts.note, audit));
        const where = audit ? t('alerts.auditedIn', { dir: auditDir! }) : t('alerts.auditedLater');
        process.stdout.write(`${t('alerts.acknowledged', { id: a.id, rule: a.ruleId, key: a.key, operator: opts.operator, where })}\n`);
      } finally {
        audit?.close();
      }
    });

  alerts
    .command('rules')
    .description('Show the detection rules shipped with erab')
    .option('--json', 'print them as JSON')
    .addOption(new Option('--lang <lang>', 'language of the table and descriptions (default: ja when LANG=ja_JP*, else en)').choices(['ja', 'en']))
    .action((opts: { json?: boolean; lang?: 'ja' | 'en' }) => {
      const rules = loadRules();
      if (opts.json) process.stdout.write(`${JSON.stringify(rules, null, 2)}\n`);
      else process.stdout.write(formatTable(
        ['id', 'kind', 'severity', 'description', 'guideline'].map((k) => ({ header: t(`alerts.rulesCol.${k}`) })),
        rules.map((r) => [r.id, r.kind, r.severity, r.description[opts.lang ?? currentLanguage()], r.guideline.join(', ')]),
      ));
    });
}
