import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/store.js';
import { StoreUnavailableError } from '../../src/store/errors.js';
import { parseStoreUrl, redactUrl } from '../../src/store/url.js';
import { testMigrations } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'erab-store-err-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('URLs select the engine', () => {
  assert.deepEqual(parseStoreUrl('postgres://u@h/db'), { dialect: 'postgres', url: 'postgres://u@h/db' });
  assert.deepEqual(parseStoreUrl('postgresql://u@h/db'), { dialect: 'postgres', url: 'postgresql://u@h/db' });
  assert.deepEqual(parseStoreUrl('/var/lib/erab/a.db'), { dialect: 'sqlite', path: '/var/lib/erab/a.db' });
  assert.deepEqual(parseStoreUrl('sqlite:rel.db'), { dialect: 'sqlite', path: 'rel.db' });
  assert.deepEqual(parseStoreUrl('./C:/odd but legal.db'), { dialect: 'sqlite', path: './C:/odd but legal.db' });
});

test('passwords never appear in a displayed URL', () => {
  assert.equal(redactUrl('postgres://erab:s3cret@db:5432/x'), 'postgres://erab:***@db:5432/x');
  assert.equal(redactUrl('postgres://erab@db/x?password=s3cret'), 'postgres://erab@db/x?password=***');
  assert.doesNotMatch(redactUrl('postgres://erab:s3c ret@db:5432/x'), /s3c/);
});

test('an unsupported scheme or an empty URL is refused by name', async () => {
  await assert.rejects(openStore({ url: 'mysql://root:hunter2@localhost/x', migrations: [] }), (err: unknown) => {
    assert.ok(err instanceof StoreUnavailableError);
    assert.match(err.message, /unsupported scheme/);
    assert.match(err.message, /mysql:\/\/root:\*\*\*@localhost/);
    assert.doesNotMatch(err.message, /hunter2/);
    return true;
  });
  await assert.rejects(openStore({ url: '', migrations: [] }), /empty/);
});

test('an unreachable PostgreSQL server names the URL without the password and the cause', async () => {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  await assert.rejects(openStore({ url: 'postgres://erab:topsecret@127.0.0.1:1/erab', migrations: [] }), (err: unknown) => {
    assert.ok(err instanceof StoreUnavailableError);
    assert.match(err.message, /127\.0\.0\.1:1/);
    assert.match(err.message, /ECONNREFUSED/);
    assert.doesNotMatch(err.message, /topsecret/);
    return true;
  });
});

test('a file that is not a database is refused by path', async () => {
  const file = join(dir, 'garbage.db');
  writeFileSync(file, Buffer.alloc(8192, 0x41));
  await assert.rejects(openStore({ url: file, migrations: testMigrations }), (err: unknown) => {
    assert.ok(err instanceof StoreUnavailableError);
    assert.ok(err.message.includes(file));
    assert.match(err.message, /not a database/);
    return true;
  });
});

test('a path in a missing directory or naming a directory is refused by path', async () => {
  const missing = join(dir, 'no', 'such', 'dir', 'x.db');
  await assert.rejects(openStore({ url: missing, migrations: [] }), (err: unknown) => {
    assert.ok(err instanceof StoreUnavailableError);
    assert.ok(err.message.includes(missing));
    assert.match(err.message, /directory does not exist/);
    return true;
  });
  const d = join(dir, 'adir');
  mkdirSync(d);
  await assert.rejects(openStore({ url: d, migrations: [] }), (err: unknown) => err instanceof StoreUnavailableError && err.message.includes(d));
});

test('an invalid PostgreSQL schema name is refused before connecting', async () => {
  await assert.rejects(openStore({ url: 'postgres://u@127.0.0.1:1/x', schema: 'x"; drop', migrations: [] }), /schema name/);
});
