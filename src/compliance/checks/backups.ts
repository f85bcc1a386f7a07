/**
 * Backups recent and restorable (ERAB §3.5 (iv) 事業継続; docs/backup.md). `erab backup` writes
 * each role's database, audit log and keys as one signed archive into a folder the operator
 * chooses; the profile names that folder (`backups.dir`). For every declared role that `erab
 * backup` covers (aggregator, TSO, retailer), the newest archive of that participant must verify
 * exactly as `erab restore --check` verifies it (signer certified by the role's CA, signature,
 * every entry's hash, the keys' passphrase, the audit log) and must have been made within
 * `backups.maxAgeHours`. The time judged is the archive's signed `created`, not the file's mtime.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { BACKUP_MAGIC, decodeBackup, type BackupManifest } from '../../secops/backup/container.js';
import { verifyBackup, type RoleBackupSpec } from '../../secops/backup/backup.js';
import type { Check, CheckContext, Evidence } from '../registry.js';

const HOUR = 3_600_000;
/** Archives read in one run at most (each is read whole): a folder of years of dailies is not re-read each run. */
const MAX_ARCHIVES_READ = 20;
/** A role's archives tried, newest first, until one verifies. */
const MAX_VERIFY_PER_ROLE = 3;

/** What `erab backup --role R --config F` covers, from the role's configuration (as the CLI builds it). */
function roleSpecs(ctx: CheckContext): RoleBackupSpec[] {
  const specs: RoleBackupSpec[] = [];
  const a = ctx.config('aggregator');
  if (a) specs.push({ role: 'aggregator', id: a.id, database: { url: a.store.url }, auditDir: a.audit.dir, tls: a.tls });
  for (const k of ['tso', 'retailer'] as const) {
    const t = ctx.config(k);
    if (t) specs.push({ role: t.kind, id: t.id, database: { url: t.store.url }, auditDir: t.audit.dir, tls: t.tls });
  }
  return specs;
}

/**
 * Archives verified in this process, by file identity (inode, size, ctime: any write or touch
 * changes ctime) and what they were verified under (the CA file, the passphrase): a scheduled run
 * does not re-read and re-hash tens of megabytes that have not changed since the last run.
 */
const verifiedArchives = new Map<string, { manifest: BackupManifest; records: number }>();
/** Whose archive a file is (`role:id`), by file identity: another role's archive is not read again. */
const archiveOwners = new Map<string, string>();
const MAX_REMEMBERED = 1000;
const fileKey = (file: string, st: Stats): string => `${file}\0${st.ino}\0${st.size}\0${st.ctimeMs}`;
function verifiedKey(file: string, st: Stats, spec: RoleBackupSpec, passphrase: string): string {
  const ca = statSync(spec.tls.caFile);
  const secret = createHash('sha256').update(passphrase).digest('hex');
  return `${fileKey(file, st)}\0${spec.role}:${spec.id}\0${spec.tls.caFile}\0${ca.ino}\0${ca.ctimeMs}\0${secret}`;
}

const ago = (ms: number): string => (ms < 2 * HOUR ? `${Math.round(ms / 60_000)} min` : `${(ms / HOUR).toFixed(1)} h`);

export const backupsRecentCheck: Check = {
  id: 'secops.backups-recent',
  title: 'Each role has a verified backup younger than the allowed age',
  reads: 'profile backups.dir: the newest erab-backup archive per declared aggregator/TSO/retailer, verified as `erab restore --check` does; its signed creation time',
  async run(ctx) {
    const specs = roleSpecs(ctx);
    if (specs.length === 0) return { status: 'not-applicable', evidence: [{ source: 'profile configs', observed: 'no aggregator, TSO or retailer configuration named (erab backup covers those roles)', at: ctx.now }] };
    const b = ctx.profile.backups;
    if (!b) return { status: 'not-satisfied', evidence: [{ source: 'profile backups', observed: 'no backup folder declared (backups.dir): nothing shows a backup is taken', at: ctx.now }] };
    if (!b.passphraseFile) return { status: 'not-satisfied', evidence: [{ source: 'profile backups.passphraseFile', observed: 'not given: an archive cannot be verified (its keys are encrypted with the backup passphrase)', at: ctx.now }] };
    const passphrase = readFileSync(b.passphraseFile, 'utf8').replace(/\r?\n$/, '');

    // Newest files first; each read once and matched to the roles still waiting for a verified archive.
    const files = readdirSync(b.dir, { withFileTypes: true })
      .filter((e) => e.isFile() && !/\.tmp-\d+$/.test(e.name))
      .map((e) => ({ file: join(b.dir, e.name), st: statSync(join(b.dir, e.name)) }))
      .sort((x, y) => y.st.mtimeMs - x.st.mtimeMs);
    const pending = new Map(specs.map((s) => [`${s.role}:${s.id}`, s]));
    const found = new Map<string, { file: string; manifest: BackupManifest; records: number }>();
    const failures = new Map<string, string[]>();
    /** Files that begin as an archive but cannot be decoded (truncated, say): whose they are is unknown. */
    const unreadable: string[] = [];
    let read = 0;
    for (const { file, st } of files) {
      if (pending.size === 0 || read >= MAX_ARCHIVES_READ) break;
      const known = [...pending.values()].map((spec) => [spec, verifiedKey(file, st, spec, passphrase)] as const).find(([, k]) => verifiedArchives.has(k));
      if (known) {
        const [spec, k] = known;
        found.set(`${spec.role}:${spec.id}`, { file, ...verifiedArchives.get(k)! });
        pending.delete(`${spec.role}:${spec.id}`);
        continue;
      }
      const owner = archiveOwners.get(fileKey(file, st));
      if (owner !== undefined && !pending.has(owner)) continue;
      read += 1;
      const bytes = readFileSync(file);
      let who: string;
      try {
        const m = decodeBackup(bytes, file).manifest;
        who = `${m.role}:${m.id}`;
        if (archiveOwners.size >= MAX_REMEMBERED) archiveOwners.clear();
        archiveOwners.set(fileKey(file, st), who);
      } catch (err) {
        if (bytes.subarray(0, BACKUP_MAGIC.length).toString('latin1') === BACKUP_MAGIC) unreadable.push((err as Error).message);
        continue; // else not an erab archive (another file in the folder)
      }
      const spec = pending.get(who);
      if (!spec) continue;
      const tried = failures.get(who) ?? [];
      try {
        const v = verifyBackup(bytes, file, spec, passphrase);
        found.set(who, { file, manifest: v.decoded.manifest, records: v.audit.treeSize });
        if (verifiedArchives.size >= MAX_REMEMBERED) verifiedArchives.clear();
        verifiedArchives.set(verifiedKey(file, st, spec, passphrase), { manifest: v.decoded.manifest, records: v.audit.treeSize });
        pending.delete(who);
      } catch (err) {
        tried.push(`${file}: ${(err as Error).message}`);
        failures.set(who, tried);
        if (tried.length >= MAX_VERIFY_PER_ROLE) pending.delete(who);
      }
    }

    const evidence: Evidence[] = [];
    let ok = true;
    for (const s of specs) {
      const who = `${s.role}:${s.id}`;
      const f = found.get(who);
      const broken = failures.get(who) ?? [];
      const brokenNote = broken.length ? `; newer archive(s) that do NOT verify: ${broken.join('; ')}` : '';
      if (!f) {
        ok = false;
        evidence.push({ source: `${b.dir} (${who})`, observed: `no verified backup of ${who}${read >= MAX_ARCHIVES_READ ? ` among the newest ${MAX_ARCHIVES_READ} files` : ''}${brokenNote}`, at: ctx.now });
        continue;
      }
      const age = ctx.now - Date.parse(f.manifest.created);
      const fresh = age <= b.maxAgeHours * HOUR;
      if (!fresh) ok = false;
      evidence.push({
        source: f.file,
        observed: `${who}: newest verified backup made ${f.manifest.created}, ${ago(Math.max(0, age))} ago (${fresh ? 'within' : 'OLDER than'} ${b.maxAgeHours} h); ` +
          `signature, ${f.manifest.entries.length} entries, key passphrase and audit log of ${f.records} records verify${brokenNote}`,
        at: ctx.now,
      });
    }
    if (unreadable.length) evidence.push({ source: b.dir, observed: `archives that cannot be decoded: ${unreadable.join('; ')}`, at: ctx.now });
    return { status: ok ? 'satisfied' : 'not-satisfied', evidence };
  },
};
