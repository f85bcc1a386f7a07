/**
 * Runs one data-layer test suite against both engines. Other modules' tests use it too:
 *
 *   describeEachEngine('portfolio', (fx) => {
 *     test('imports', async () => { const store = await (await fx.location()).open(portfolioMigrations); ... });
 *   });
 *
 * SQLite: a temp file per location. PostgreSQL (ERAB_TEST_POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/test): a fresh schema `erab_t_<random>` per location,
 * dropped at the end, so parallel runs never collide. When PostgreSQL is unreachable its tests
 * are skipped with the reason, except when CI is set: then they fail.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type OpenStoreOptions, type Store } from '../../src/store/store.js';
import type { Migration } from '../../src/store/migrations.js';
import { redactUrl, type StoreDialect } from '../../src/store/url.js';
import { describeDriverError } from '../../src/store/errors.js';

export const POSTGRES_TEST_URL = process.env.ERAB_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** One isolated database (SQLite file or PostgreSQL schema) that can be opened many times. */
export interface StoreLocationHandle {
  readonly engine: StoreDialect;
  readonly url: string;
  readonly schema: string | undefined;
  /** Opens a store here; it is closed at the end of the suite if the test did not. */
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  open<DB = {}>(migrations: readonly Migration[], extra?: Partial<OpenStoreOptions>): Promise<Store<DB>>;
  /** The options `openStore` needs to reach this location (for worker threads, CLIs). */
  readonly openOptions: { url: string; schema?: string };
}

export interface StoreFixture {
  readonly engine: StoreDialect;
  /** A new, empty, isolated location. */
  location(): Promise<StoreLocationHandle>;
}

async function probePostgres(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: describeDriverError(err) };
  } finally {
    await client.end().catch(() => {});
  }
}

const pgProbe = await probePostgres();

/** Why the test PostgreSQL cannot be reached, or undefined when it can (probed once per file). */
export const postgresUnreachable: string | undefined = pgProbe.ok ? undefined : pgProbe.reason;

/**
 * A fresh database on the test server, for what takes a URL rather than a schema (the CLI, worker
 * processes); `drop()` removes it, closing its connections.
 */
export async function freshDatabase(prefix = 'erab_db_'): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_TEST_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(POSTGRES_TEST_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_TEST_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`).catch(() => {});
      await c.end();
    },
  };
}

function makeFixture(engine: StoreDialect): StoreFixture & { cleanup(): Promise<void> } {
  const stores: Store<unknown>[] = [];
  const schemas: string[] = [];
  let dir: string | undefined;
  let n = 0;
  return {
    engine,
    async location() {
      let url: string;
      let schema: string | undefined;
      if (engine === 'sqlite') {
        dir ??= mkdtempSync(join(tmpdir(), 'erab-store-'));
        url = join(dir, `store-${++n}.db`);
      } else {
        url = POSTGRES_TEST_URL;
        schema = `erab_t_${randomBytes(6).toString('hex')}`;
        schemas.push(schema);
      }
      const openOptions = schema ? { url, schema } : { url };
      return {
        engine,
        url,
        schema,
        openOptions,
        async open(migrations, extra) {
          const store = await openStore({ ...openOptions, migrations, ...extra });
          stores.push(store as Store<unknown>);
          return store;
        },
      } as StoreLocationHandle;
    },
    async cleanup() {
      for (const s of stores) await s.close().catch(() => {});
      if (dir) rmSync(dir, { recursive: true, force: true });
      if (schemas.length > 0) {
        const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
        await client.connect();
        try {
          for (const s of schemas) await client.query(`drop schema if exists "${s}" cascade`);
        } finally {
          await client.end();
        }
      }
    },
  };
}

/** Declares `body` twice: once on SQLite, once on PostgreSQL (skipped or failed when unreachable). */
export function describeEachEngine(title: string, body: (fx: StoreFixture) => void): void {
  describe(`${title} [sqlite]`, () => {
    const fx = makeFixture('sqlite');
    after(() => fx.cleanup());
    body(fx);
  });
  const pgTitle = `${title} [postgres]`;
  if (pgProbe.ok) {
    describe(pgTitle, () => {
      const fx = makeFixture('postgres');
      after(() => fx.cleanup());
      body(fx);
    });
    return;
  }
  const why = `PostgreSQL unreachable at ${redactUrl(POSTGRES_TEST_URL)}: ${pgProbe.reason}`;
  if (process.env.CI) {
    test(pgTitle, () => {
      assert.fail(`${why} — PostgreSQL is required when CI is set (set ERAB_TEST_POSTGRES_URL)`);
    });
  } else {
    test(pgTitle, { skip: `${why} (set ERAB_TEST_POSTGRES_URL; these tests fail when CI is set)` }, () => {});
  }
}
