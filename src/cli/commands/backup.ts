/**
 * `erab backup` and `erab restore`: a role's database, audit log and keys as one signed archive
 * (src/secops/backup). The role's configuration file says where everything is:
 *
 *   erab backup  --role aggregator --config aggregator.json --out agg-2026-12-06.erab-backup
 *   erab restore --role aggregator --config aggregator.json agg-2026-12-06.erab-backup [--check] [--replace]
 *   erab backup  --role gateway --config gateway.json --out gw-2026-12-06.erab-backup      (likewise tso)
 *
 * The passphrase that encrypts the keys comes from --passphrase-file or ERAB_BACKUP_PASSPHRASE,
 * never from the command line. `restore --check` runs every check and writes nothing.
 */
import { Option, type Command } from 'commander';
import { existsSync, linkSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { InvalidInputError, becauseOf, explain } from '../../core/errors.js';
import { loadConfig } from '../../core/config.js';
import { loadAggregatorConfig } from '../../roles/aggregator/runtime/config.js';
import { gatewayConfigSchema } from '../../roles/gateway/gateway.js';
import { loadTsoConfig } from '../../roles/tso/config.js';
import { createBackup, restoreBackup, verifyBackup, type RoleBackupSpec } from '../../secops/backup/backup.js';
import { checkPassphrase } from '../../secops/backup/secrets.js';

const ROLES = ['aggregator', 'tso', 'gateway'] as const;
type BackupRole = (typeof ROLES)[number];
/** Archives are read whole; one this large is not a role's backup. */
const MAX_ARCHIVE_BYTES = 4 * 1024 * 1024 * 1024 - 1;

/** What to back up, from the role's configuration file. */
export function roleBackupSpec(role: BackupRole, configFile: string): RoleBackupSpec {
  if (role === 'gateway') {
    // The gateway's store (admission, safe mode, queued reports, notices), its audit log and keys.
    const gw = loadConfig(gatewayConfigSchema, { file: configFile });
    return { role: 'gateway', id: gw.gatewayId, database: { url: gw.database }, auditDir: gw.audit.dir, tls: { certFile: gw.tls.certFile, keyFile: gw.tls.keyFile, caFile: gw.tls.caFile } };
  }
  const cfg = role === 'aggregator' ? loadAggregatorConfig(configFile) : loadTsoConfig(configFile);
  const r = role === 'tso' ? (cfg as ReturnType<typeof loadTsoConfig>).kind : 'aggregator';
  return { role: r, id: cfg.id, database: { url: cfg.store.url }, auditDir: cfg.audit.dir, tls: { certFile: cfg.tls.certFile, keyFile: cfg.tls.keyFile, caFile: cfg.tls.caFile } };
}

function passphrase(file: string | undefined): string {
  let p: string | undefined;
  let source = 'ERAB_BACKUP_PASSPHRASE';
  if (file !== undefined) {
    source = `passphrase file ${file}`;
    try {
      p = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new InvalidInputError(explain('cli.backup.passphraseUnreadable', { file, why: (err as NodeJS.ErrnoException).code ?? (err as Error).message }));
    }
  } else {
    p = process.env.ERAB_BACKUP_PASSPHRASE;
  }
  if (p === undefined || p === '') throw new InvalidInputError(explain('cli.backup.noPassphrase'));
  checkPassphrase(p, source);
  return p;
}

function readArchive(file: string): Buffer {
  try {
    if (statSync(file).size > MAX_ARCHIVE_BYTES) throw new InvalidInputError(explain('file.tooLarge', { max: MAX_ARCHIVE_BYTES }));
    return readFileSync(file);
  } catch (err) {
    throw new InvalidInputError(explain('cli.backup.archiveUnreadable', { file, ...becauseOf(err) }));
  }
}

const roleOption = (): Option => new Option('--role <role>', 'the role whose data this is').choices([...ROLES]).makeOptionMandatory();

export function register(program: Command): void {
  program
    .command('backup')
    .description("Write one signed archive of a role's database, audit log and keys (keys encrypted with a passphrase)")
    .addOption(roleOption())
    .requiredOption('--config <file>', "the role's configuration file (store, audit directory, certificate and key)")
    .requiredOption('--out <file>', 'archive to write (refused if it exists)')
    .option('--passphrase-file <file>', 'file holding the passphrase that encrypts the keys (else $ERAB_BACKUP_PASSPHRASE)')
    .action(async (opts: { role: BackupRole; config: string; out: string; passphraseFile?: string }) => {
      const spec = roleBackupSpec(opts.role, opts.config);
      if (existsSync(opts.out)) throw new InvalidInputError(explain('cli.backup.outExists', { file: opts.out }));
      const r = await createBackup(spec, passphrase(opts.passphraseFile));
      // Written aside, then linked into place: never a half-written archive, never over another one.
      const tmp = `${opts.out}.tmp-${process.pid}`;
      writeFileSync(tmp, r.archive, { mode: 0o600, flag: 'wx' });
      try {
        linkSync(tmp, opts.out);
      } catch (err) {
        throw new InvalidInputError(explain('cli.backup.outNotWritten', { file: opts.out, why: (err as NodeJS.ErrnoException).code ?? (err as Error).message }));
      } finally {
        rmSync(tmp, { force: true });
      }
      process.stdout.write(
        `backup of ${spec.role}:${spec.id} written to ${opts.out}: ${r.manifest.entries.length} entries, ${r.archive.length} bytes, ` +
          `${r.manifest.database.dialect} database, audit log ${r.audit.origin} of ${r.audit.treeSize} records (verified)\n`,
      );
    });

  program
    .command('restore')
    .description('Verify a backup archive (signature, every entry, the audit log) and only then restore it')
    .addOption(roleOption())
    .requiredOption('--config <file>', "the role's configuration file (where to restore; the CA that must have certified the signer)")
    .argument('<archive>', 'archive written by erab backup')
    .option('--passphrase-file <file>', 'file holding the passphrase of the keys (else $ERAB_BACKUP_PASSPHRASE)')
    .option('--check', 'verify only; write nothing')
    .option('--replace', 'overwrite a non-empty database, move an existing audit directory aside, overwrite a different key')
    .action(async (archive: string, opts: { role: BackupRole; config: string; passphraseFile?: string; check?: boolean; replace?: boolean }) => {
      const spec = roleBackupSpec(opts.role, opts.config);
      const bytes = readArchive(archive);
      const pass = passphrase(opts.passphraseFile);
      if (opts.check) {
        const v = verifyBackup(bytes, archive, spec, pass);
        process.stdout.write(`${archive}: intact; signed by ${spec.role}:${spec.id} on ${v.decoded.manifest.created}; audit log of ${v.audit.treeSize} records verifies\n`);
        return;
      }
      const r = await restoreBackup(bytes, archive, spec, pass, { replace: opts.replace ?? false });
      process.stdout.write(
        `restored ${spec.role}:${spec.id} from ${archive} (made ${r.manifest.created}): database, audit log of ${r.audit.treeSize} records (verified), ` +
          `${r.keysWritten.length} keys${r.previousAuditDir ? `; previous audit log moved to ${r.previousAuditDir}` : ''}\n`,
      );
    });
}
