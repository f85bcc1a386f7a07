/**
 * Every column that any module's migrations create carries a data class in
 * src/store/classification.ts. The migration lists are found by reading the sources (every
 * `export const x: Migration[]`), so a new module's tables are covered without touching this test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { REPO_ROOT } from '../repo.js';
import { openStore } from '../../src/store/store.js';
import { composeMigrations, type Migration } from '../../src/store/migrations.js';
import { COLUMN_CLASSES, DATA_CLASSES } from '../../src/store/classification.js';

/** Every exported migration list in src, as [module path without extension, export name]. */
function migrationLists(): [string, string][] {
  const out: [string, string][] = [];
  const src = join(REPO_ROOT, 'src');
  for (const rel of readdirSync(src, { recursive: true }) as string[]) {
    if (!rel.endsWith('.ts')) continue;
    for (const m of readFileSync(join(src, rel), 'utf8').matchAll(/export const (\w+): (?:readonly )?Migration\[\]/g)) out.push([rel.replace(/\.ts$/, ''), m[1]!]);
  }
  return out;
}

test('every column of every migration has a data class, and no class names a column that does not exist', async () => {
  const lists = migrationLists();
  assert.ok(lists.length >= 10, `found only ${lists.length} migration lists: the pattern no longer matches the sources`);
  const all: (readonly Migration[])[] = [];
  for (const [mod, name] of lists) {
    const m = (await import(new URL(`../../src/${mod}.js`, import.meta.url).href)) as Record<string, readonly Migration[]>;
    assert.ok(Array.isArray(m[name]), `${mod}.${name} is not an array`);
    all.push(m[name]!);
  }
  const dir = mkdtempSync(join(tmpdir(), 'erab-classes-'));
  const store = await openStore({ url: join(dir, 'all.db'), migrations: composeMigrations(...all) });
  try {
    const tables = (await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`.execute(store.db)).rows;
    const untagged: string[] = [];
    const seen = new Set<string>();
    for (const { name: table } of tables) {
      const cols = (await sql<{ name: string }>`select name from pragma_table_info(${table})`.execute(store.db)).rows;
      for (const { name: col } of cols) {
        seen.add(`${table}.${col}`);
        const cls = COLUMN_CLASSES[table]?.[col];
        if (cls === undefined || !DATA_CLASSES.includes(cls)) untagged.push(`${table}.${col}`);
      }
    }
    assert.deepEqual(untagged, [], `columns without a data class (add them to src/store/classification.ts): ${untagged.join(', ')}`);
    const stale = Object.entries(COLUMN_CLASSES).flatMap(([t, cols]) => Object.keys(cols).map((c) => `${t}.${c}`)).filter((x) => !seen.has(x));
    assert.deepEqual(stale, [], `classified columns that no migration creates: ${stale.join(', ')}`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the household data of the portfolio and the contacts is personal', () => {
  for (const [t, c] of [['portfolio_site', 'name'], ['portfolio_site', 'address'], ['notify_contact', 'email'], ['notify_delivery', 'address']] as const) {
    assert.equal(COLUMN_CLASSES[t]?.[c], 'personal', `${t}.${c}`);
  }
  assert.equal(COLUMN_CLASSES.notify_contact?.webhook_secret, 'confidential');
});
