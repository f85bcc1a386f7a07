import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { sqliteDriver } from '../../src/store/sqlite.js';

const major = Number(process.versions.node.split('.')[0]);
const installed = (name: string): boolean => {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
};

test('the SQLite driver fits the running Node.js: 13 where npm installed it (Node >= 22), 12 on Node 20', () => {
  const d = sqliteDriver();
  if (major < 22) {
    assert.equal(d.name, 'better-sqlite3');
    assert.equal(installed('better-sqlite3-13'), false, 'npm skips better-sqlite3-13 on Node 20 (engines >= 22)');
  } else {
    assert.equal(d.name, installed('better-sqlite3-13') ? 'better-sqlite3-13' : 'better-sqlite3');
  }
  // better-sqlite3 12 aborts on Node >= 24.19: there the suite must run on 13.
  const [maj, min] = process.versions.node.split('.').map(Number) as [number, number];
  if (maj > 24 || (maj === 24 && min >= 19)) assert.equal(d.name, 'better-sqlite3-13');
  const db = new d.Database(':memory:');
  assert.deepEqual(db.prepare('select 40 + 2 as answer').get(), { answer: 42 });
  db.close();
});
