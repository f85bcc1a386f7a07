/**
 * The layers import downwards only: core imports nothing of erab outside core, and the protocol
 * stacks import core (and each other's files) but never security/, roles/, store/ or cli/ — a
 * protocol that needs the audit log or a TLS hook takes the port from core.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { REPO_ROOT } from '../repo.js';

const SRC = join(REPO_ROOT, 'src');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every relative import / export-from / dynamic import of `file`, resolved to a path under src. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)) {
    out.push(relative(SRC, resolve(dirname(file), m[1]!)));
  }
  return out;
}

function violations(layer: string, allowed: (target: string) => boolean): string[] {
  const bad: string[] = [];
  for (const f of tsFiles(join(SRC, layer))) {
    for (const target of importsOf(f)) if (!allowed(target)) bad.push(`${relative(SRC, f)} imports ${target}`);
  }
  return bad;
}

test('core imports nothing of erab outside src/core', () => {
  assert.deepEqual(violations('core', (t) => t.startsWith('core/')), []);
});

test('protocols import only core and protocols (no security, roles, store or cli, not even for a type)', () => {
  assert.deepEqual(violations('protocols', (t) => t.startsWith('core/') || t.startsWith('protocols/')), []);
});

test('the import scan sees imports at all (a scan that finds nothing would pass vacuously)', () => {
  const found = tsFiles(join(SRC, 'protocols')).flatMap(importsOf);
  assert.ok(found.some((t) => t.startsWith('core/')), 'protocols import core somewhere');
  assert.ok(found.length > 50, `found ${found.length} imports`);
});

test('secops imports only core, protocols, endpoints, security, store and roles (never api, web or cli)', () => {
  // endpoints (the one OpenADR endpoint layer) sits below roles, so secops may use it as roles do.
  const allowed = ['core/', 'protocols/', 'endpoints/', 'security/', 'store/', 'roles/', 'secops/'];
  assert.deepEqual(violations('secops', (t) => allowed.some((p) => t.startsWith(p))), []);
});

test('roles never import secops, compliance, api, web or cli (they are composed from above: src/roles/common/composition.ts)', () => {
  const above = ['secops/', 'compliance/', 'api/', 'web/', 'cli/'];
  assert.deepEqual(violations('roles', (t) => !above.some((p) => t.startsWith(p))), []);
  // The scan sees the roles' imports (it would pass vacuously otherwise).
  assert.ok(tsFiles(join(SRC, 'roles')).flatMap(importsOf).some((t) => t.startsWith('roles/common/composition')), 'roles import their composition hook');
});

test('security imports only core; store only core and security (docs/architecture.md §2)', () => {
  assert.deepEqual(violations('security', (t) => t.startsWith('core/') || t.startsWith('security/')), []);
  // The vault seals personal fields with the key-encryption keys of src/security/privacy.
  assert.deepEqual(violations('store', (t) => t.startsWith('core/') || t.startsWith('store/') || t.startsWith('security/')), []);
});

test('endpoints import only core, protocols, security and store (below roles, docs/architecture.md §2)', () => {
  const allowed = ['core/', 'protocols/', 'security/', 'store/', 'endpoints/'];
  assert.deepEqual(violations('endpoints', (t) => allowed.some((p) => t.startsWith(p))), []);
});
