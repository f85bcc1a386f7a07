/**
 * A consistent snapshot of a role's database, and putting one back.
 *
 * SQLite: the online backup API (better-sqlite3 `.backup()`), which copies a consistent image
 * page by page while the role keeps writing. PostgreSQL: `pg_dump --format=custom` (one
 * repeatable-read snapshot; of the role's schema when it has one) and `pg_restore
 * --single-transaction`, so a failed restore leaves nothing half-written. The password travels
 * in PGPASSWORD, never on a command line other users can read.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { IntegrityError, InvalidInputError } from '../../core/errors.js';
import { sqliteDriver } from '../../store/sqlite.js';
import { parseStoreUrl, redactUrl, type StoreDialect } from '../../store/url.js';

const run = promisify(execFile);
const MAX_TOOL_OUTPUT = 16 * 1024 * 1024;

export interface DatabaseTarget {
  url: string;
  /** PostgreSQL: the schema the role's tables live in (default: the whole database). */
  schema?: string;
}

/** Connection for the pg_* tools: the URL without its password, and the password in the environment. */
function pgTool(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { dbname: u.toString(), env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) } };
}

async function tool(cmd: string, args: string[], env: NodeJS.ProcessEnv, what: string): Promise<void> {
  try {
    await run(cmd, args, { env, maxBuffer: MAX_TOOL_OUTPUT });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new InvalidInputError(`${what}: ${cmd} is not installed (PostgreSQL backups need the PostgreSQL client tools)`);
    throw new IntegrityError(`${what}: ${cmd} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(0, 5).join('; ')}`, { cause: err });
  }
}

/** The snapshot bytes and the engine they belong to. */
export async function snapshotDatabase(target: DatabaseTarget): Promise<{ dialect: StoreDialect; bytes: Buffer }> {
  const loc = parseStoreUrl(target.url);
  const tmp = mkdtempSync(join(tmpdir(), 'erab-backup-'));
  try {
    if (loc.dialect === 'sqlite') {
      if (!existsSync(loc.path)) throw new InvalidInputError(`database ${loc.path}: no such SQLite file`);
      const { Database } = sqliteDriver();
      const db = new Database(loc.path, { readonly: true, fileMustExist: true });
      try {
        await db.backup(join(tmp, 'snapshot.db'));
      } finally {
        db.close();
      }
      return { dialect: 'sqlite', bytes: readFileSync(join(tmp, 'snapshot.db')) };
    }
    const { dbname, env } = pgTool(loc.url);
    const out = join(tmp, 'snapshot.dump');
    await tool('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', ...(target.schema ? [`--schema=${target.schema}`] : []), `--file=${out}`, `--dbname=${dbname}`], env, `backup of ${redactUrl(loc.url)}`);
    return { dialect: 'postgres', bytes: readFileSync(out) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Tables already in the target (a restore over live data is refused unless forced). */
export async function existingTables(target: DatabaseTarget): Promise<string[]> {
  const loc = parseStoreUrl(target.url);
  if (loc.dialect === 'sqlite') {
    if (!existsSync(loc.path)) return [];
    const { Database } = sqliteDriver();
    const db = new Database(loc.path, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'").all() as { name: string }[]).map((r) => r.name);
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: loc.url });
  client.on('error', () => {});
  await client.connect();
  try {
    const r = await client.query<{ t: string }>(
      'select table_name as t from information_schema.tables where table_schema = coalesce($1, current_schema())',
      [target.schema ?? null],
    );
    return r.rows.map((x) => x.t);
  } finally {
    await client.end();
  }
}

/**
 * Puts a snapshot back. SQLite: written beside the target and renamed over it (atomic), stale
 * -wal/-shm files removed. PostgreSQL: pg_restore in one transaction (`replace`: dropping what
 * the archive recreates first).
 */
export async function restoreDatabase(target: DatabaseTarget, dialect: StoreDialect, bytes: Buffer, replace: boolean): Promise<void> {
  const loc = parseStoreUrl(target.url);
  if (loc.dialect !== dialect) throw new InvalidInputError(`the archive holds a ${dialect} database but the configured store ${loc.dialect === 'postgres' ? redactUrl(loc.url) : loc.path} is ${loc.dialect}`);
  if (loc.dialect === 'sqlite') {
    const path = resolve(loc.path);
    mkdirSync(dirname(path), { recursive: true });
    const tmpFile = join(dirname(path), `.${Date.now()}-${process.pid}.restore`);
    writeFileSync(tmpFile, bytes, { mode: 0o600 });
    for (const s of ['-wal', '-shm']) rmSync(path + s, { force: true });
    renameSync(tmpFile, path);
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'erab-restore-'));
  try {
    const file = join(tmp, 'snapshot.dump');
    writeFileSync(file, bytes, { mode: 0o600 });
    const { dbname, env } = pgTool(loc.url);
    await tool('pg_restore', ['--no-owner', '--no-privileges', '--single-transaction', '--exit-on-error', ...(replace ? ['--clean', '--if-exists'] : []), `--dbname=${dbname}`, file], env, `restore into ${redactUrl(loc.url)}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
