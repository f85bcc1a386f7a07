/**
 * `erab privacy ...`: the key-encryption key of personal data at rest (src/store/vault.ts).
 *
 *   erab privacy new-kek --out kek.key                  a new 32-byte key file (0600)
 *   erab privacy rotate-key --db URL --kek-file NEW --previous-kek-file OLD
 *                                                       re-wrap every data key under NEW, online
 *   erab privacy key-status --db URL                    data keys per key-encryption key
 *   erab privacy access-report --subject SITE --audit-dir DIR [--db URL] [--json]
 *   erab privacy retention --db URL [--config F] [--personal-days N] [--confidential-days N] [--operational-days N] --audit-dir DIR [--dry-run]
 *                                                       erase personal data past its retention (run from a timer)
 *                                                       who read or exported a site's data, why, when
 *
 * Commands that read or write personal fields take the key from --kek-file or
 * ERAB_PRIVACY_KEK_FILE, and earlier keys (during a rotation) from --previous-kek-file or
 * ERAB_PRIVACY_PREVIOUS_KEK_FILES (comma-separated).
 */
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { InvalidInputError, explain } from '../../core/errors.js';
import { FileKeyring, newKekText } from '../../security/privacy/keyring.js';
import { openStore } from '../../store/store.js';
import { PersonalDataVault, vaultFromEnvironment, vaultMigrations } from '../../store/vault.js';
import { accessReport } from '../../security/privacy/access.js';
import { sql, type Kysely } from 'kysely';
import { Portfolio } from '../../roles/aggregator/portfolio/portfolio.js';
import { portfolioMigrations, type PortfolioTables } from '../../roles/aggregator/portfolio/tables.js';
import { applyRetention } from '../../roles/aggregator/portfolio/retention.js';
import { loadAggregatorConfig } from '../../roles/aggregator/runtime/config.js';
import { openAudit } from './aggregator-portfolio.js';

export interface KekOptions {
  kekFile?: string;
  previousKekFile?: string[];
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/** Adds --kek-file and --previous-kek-file to a command that touches personal fields. */
export function kekOptions(cmd: Command): Command {
  return cmd
    .option('--kek-file <file>', 'key-encryption key of personal data (else $ERAB_PRIVACY_KEK_FILE; none: stored in clear)')
    .option('--previous-kek-file <file>', 'an earlier key-encryption key, still unwrapping during a rotation (repeatable)', collect);
}

/**
 * Adds --kek-file alone, for a command that erases sealed data (re-sealing the rest of a batch);
 * during a rotation the previous keys come from $ERAB_PRIVACY_PREVIOUS_KEK_FILES.
 */
export function kekFileOption(cmd: Command): Command {
  return cmd.option('--kek-file <file>', 'key-encryption key of personal data (else $ERAB_PRIVACY_KEK_FILE)');
}

/** The vault for these options, or undefined when no key-encryption key is configured. */
export function vaultFrom(opts: KekOptions, env: NodeJS.ProcessEnv = process.env): PersonalDataVault | undefined {
  if (opts.kekFile === undefined && opts.previousKekFile === undefined) return vaultFromEnvironment(env);
  const current = opts.kekFile ?? (env.ERAB_PRIVACY_KEK_FILE || undefined);
  if (current === undefined) throw new InvalidInputError(explain('cli.privacy.previousNeedsCurrent'));
  const previous = opts.previousKekFile ?? (env.ERAB_PRIVACY_PREVIOUS_KEK_FILES ? env.ERAB_PRIVACY_PREVIOUS_KEK_FILES.split(',').filter(Boolean) : []);
  return new PersonalDataVault(FileKeyring.fromFiles(current, previous));
}

export function register(program: Command): void {
  const privacy = program.command('privacy').description('Personal data at rest: key-encryption keys, rotation, access reports');

  privacy
    .command('new-kek')
    .description('Write a new random key-encryption key (32 bytes, hex) to a file with mode 0600')
    .requiredOption('--out <file>', 'key file to create (refused if it exists)')
    .action((opts: { out: string }) => {
      try {
        writeFileSync(opts.out, newKekText(), { mode: 0o600, flag: 'wx' });
      } catch (err) {
        throw new InvalidInputError(explain('cli.privacy.outNotCreated', { file: opts.out, why: (err as NodeJS.ErrnoException).code ?? (err as Error).message }));
      }
      process.stdout.write(`key-encryption key written to ${opts.out} (id ${FileKeyring.fromFiles(opts.out).currentKeyId})\n`);
    });

  kekOptions(
    privacy
      .command('rotate-key')
      .description('Re-wrap every data key under the current key-encryption key while the role keeps running')
      .requiredOption('--db <url>', "the role's store: SQLite file or postgres:// URL"),
  ).action(async (opts: KekOptions & { db: string }) => {
    const vault = vaultFrom(opts);
    if (!vault) throw new InvalidInputError(explain('cli.privacy.rotateNeedsKeys'));
    const store = await openStore({ url: opts.db, migrations: vaultMigrations, ignoreUnknownMigrations: true });
    try {
      const n = await vault.rotate(store.db);
      const left = await PersonalDataVault.keysByKek(store.db);
      process.stdout.write(`${n} data keys re-wrapped; data keys per key-encryption key: ${JSON.stringify(left)}\n`);
    } finally {
      await store.close();
    }
  });

  privacy
    .command('access-report')
    .description("Every recorded read or export of a data subject's personal data (for the subject's request): who, what, why, when")
    .requiredOption('--subject <site>', 'the site id')
    .option('--audit-dir <dir>', 'the role\'s audit log (default $ERAB_AGGREGATOR_AUDIT_DIR)')
    .option('--db <url>', 'the store, to tell whether pool-wide exports covered the site')
    .option('--json', 'print as JSON')
    .action(async (opts: { subject: string; auditDir?: string; db?: string; json?: boolean }) => {
      const auditDir = opts.auditDir ?? (process.env.ERAB_AGGREGATOR_AUDIT_DIR || undefined);
      if (auditDir === undefined) throw new InvalidInputError(explain('cli.privacy.noAuditDir'));
      let pools = new Set<string>();
      if (opts.db !== undefined) {
        const store = await openStore({ url: opts.db, migrations: [], ignoreUnknownMigrations: true });
        try {
          const rows = await sql<{ pool_id: string | null }>`select distinct pool_id from portfolio_resource where site_id = ${opts.subject}`.execute(store.db);
          pools = new Set(rows.rows.map((r) => r.pool_id).filter((x): x is string => x !== null));
        } finally {
          await store.close();
        }
      }
      const entries = accessReport(auditDir, opts.subject, (scope) => scope === 'all' || (scope.startsWith('pool:') && pools.has(scope.slice(5))));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ subject: opts.subject, entries }, null, 2)}\n`);
        return;
      }
      for (const e of entries) {
        process.stdout.write(`${e.time}  #${e.index}  ${e.operator}  ${e.action}  ${e.outcome}  purpose: ${e.purpose}  via: ${e.via}${e.match === 'scope' ? `  (bulk: ${e.scope})` : ''}${e.reason ? `  reason: ${e.reason}` : ''}\n`);
      }
      process.stdout.write(`${entries.length} recorded accesses to ${opts.subject}\n`);
    });

  // The key re-seals the rest of an erased site's sealed batch without it (src/store/vault.ts, shred).
  kekFileOption(privacy
    .command('retention')
    .description('Apply the retention period of each data class: erase the personal data of sites with no present resource for longer, delete or blank expired records (audited; run it from a timer)')
    .requiredOption('--db <url>', "the aggregator's store")
    .option('--config <file>', "the aggregator's configuration: its privacy.retention periods (the options below override them)")
    .option('--personal-days <n>', "days personal data is kept (a site's after its last present resource)")
    .option('--confidential-days <n>', 'days confidential records are kept (telemetry reports, fetched gateway notices)')
    .option('--operational-days <n>', 'days operational records are kept (finished notice deliveries)')
    .option('--audit-dir <dir>', 'audit log the erasures are recorded in (default $ERAB_AGGREGATOR_AUDIT_DIR)')
    .option('--dry-run', 'count what is due, change nothing'))
    .action(async (opts: KekOptions & { db: string; config?: string; personalDays?: string; confidentialDays?: string; operationalDays?: string; auditDir?: string; dryRun?: boolean }) => {
      const fromConfig = opts.config !== undefined ? loadAggregatorConfig(opts.config).privacy?.retention ?? {} : {};
      const days = (flag: string, v: string | undefined): number | undefined => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 36_500) throw new InvalidInputError(explain('cli.privacy.badDays', { flag, value: v }));
        return n;
      };
      const policy = {
        ...fromConfig,
        ...defined({ personalDays: days('personal-days', opts.personalDays), confidentialDays: days('confidential-days', opts.confidentialDays), operationalDays: days('operational-days', opts.operationalDays) }),
      };
      if (policy.personalDays === undefined && policy.confidentialDays === undefined && policy.operationalDays === undefined) {
        throw new InvalidInputError(explain('cli.privacy.noRetention'));
      }
      const auditDir = opts.auditDir ?? (process.env.ERAB_AGGREGATOR_AUDIT_DIR || undefined);
      if (auditDir === undefined && !opts.dryRun) throw new InvalidInputError(explain('cli.privacy.erasureNeedsAudit'));
      const store = await openStore({ url: opts.db, migrations: portfolioMigrations, ignoreUnknownMigrations: true });
      const audit = auditDir !== undefined && !opts.dryRun ? openAudit(auditDir) : undefined;
      try {
        const vault = vaultFrom(opts);
        const run = await applyRetention(new Portfolio(store, { ...(audit ? { audit } : {}), ...(vault ? { vault } : {}) }), store as unknown as { db: Kysely<PortfolioTables>; dialect: typeof store.dialect }, policy, Date.now(), audit, { dryRun: opts.dryRun ?? false });
        const verb = opts.dryRun ? 'due for erasure' : 'erased';
        process.stdout.write(`${run.sites.length} sites ${verb}${run.sites.length ? `: ${run.sites.join(', ')}` : ''}\n`);
        for (const r of run.rows) process.stdout.write(`${r.class} ${r.table}: ${r.rows} rows ${opts.dryRun ? `due to be ${r.action}` : r.action}\n`);
      } finally {
        audit?.close();
        await store.close();
      }
    });

  privacy
    .command('key-status')
    .description('Data keys per key-encryption key id (a rotation is done when only the new id is left)')
    .requiredOption('--db <url>', "the role's store")
    .action(async (opts: { db: string }) => {
      const store = await openStore({ url: opts.db, migrations: vaultMigrations, ignoreUnknownMigrations: true });
      try {
        process.stdout.write(`${JSON.stringify(await PersonalDataVault.keysByKek(store.db))}\n`);
      } finally {
        await store.close();
      }
    });
}

/** `o` without its undefined entries, so they do not override what the configuration gives. */
function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
