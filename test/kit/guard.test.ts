/**
 * One test kit: no test file outside test/kit builds its own CA, defines its own polling wait
 * helper or sleep, or its own clock class. A grep over the test sources (test/**\/*.ts), so a new
 * file that copies an old private builder fails here with the file, the line and the kit
 * function to use instead.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { REPO_ROOT } from '../repo.js';

const TEST_DIR = join(REPO_ROOT, 'test');

/**
 * Files allowed to build a CA by hand, each for a reason: they test the PKI itself, so the kit
 * (which is built on it) cannot stand in for the code under test.
 */
const CA_ALLOWED: Record<string, string> = {
  'test/security/pki.test.ts': 'tests initCa/openPki/CertificateAuthority themselves (file modes, passphrase, index, CRL)',
  'test/security/key-mode.test.ts': 'tests that openPki refuses a CA key file others can read, so it creates and chmods that key itself',
};

interface Rule {
  name: string;
  /** Returns the offending 1-based line numbers of a file. */
  find(lines: string[]): number[];
  use: string;
  allowed?: Record<string, string>;
}

const lineHits = (re: RegExp) => (lines: string[]): number[] =>
  lines.flatMap((l, i) => (re.test(l) && !/^\s*(\/\/|\*)/.test(l) ? [i + 1] : []));

/** A definition's text: from its first line to the closing brace at its own indentation. */
function definitions(lines: string[]): { line: number; name: string; text: string }[] {
  const out: { line: number; name: string; text: string }[] = [];
  const start = /^(\s*)(?:export\s+)?(?:(?:async\s+)?function\s+(\w+)|(?:const|let)\s+(\w+)\s*=\s*(?:async\s*)?(?:<[^>]*>\s*)?\()/;
  for (let i = 0; i < lines.length; i++) {
    const m = start.exec(lines[i]!);
    if (!m) continue;
    const indent = m[1]!;
    let end = i;
    if (!/[;,]\s*$/.test(lines[i]!)) {
      while (end + 1 < lines.length && !new RegExp(`^${indent}[}\\])]`).test(lines[end + 1]!)) end++;
      end++;
    }
    out.push({ line: i + 1, name: (m[2] ?? m[3])!, text: lines.slice(i, end + 1).join('\n') });
  }
  return out;
}

const WAIT_NAMES = /^(wait\w*|until|within|eventually|poll\w*|sleep|delay)$/i;

const RULES: Rule[] = [
  {
    name: 'builds its own CA',
    find: lineHits(/\bCertificateAuthority\.(create|fromPem)\(|\binitCa\(|\bopenPki\(/),
    use: 'pkiWorld() from test/kit (options: ca.algorithm, ca.passphrase, ca.commonName for a foreign CA; validity, revoked, dns/ip, keyMode per participant)',
    allowed: CA_ALLOWED,
  },
  {
    name: 'defines its own clock',
    find: lineHits(/\bimplements\s+Clock\b|\bclass\s+\w*Clock\b/),
    use: 'manualClock() or acceleratedClock(speed) from test/kit (they are src/core/clock.ts\'s)',
  },
  {
    name: 'defines its own polling wait helper',
    find: (lines) => definitions(lines)
      .filter((d) => /setTimeout|setImmediate/.test(d.text) && /\b(while|for)\s*\(/.test(d.text) && /Date\.now\(\)/.test(d.text))
      .map((d) => d.line),
    use: 'waitFor(predicate, { what, timeoutMs }) or waiter(defaults) from test/kit',
  },
  {
    name: 'defines a wait/sleep helper that does not use the kit',
    find: (lines) => definitions(lines)
      .filter((d) => WAIT_NAMES.test(d.name) && /setTimeout/.test(d.text) && !/\b(waitFor|waiter|sleep)\(/.test(d.text.replace(d.name, '')))
      .map((d) => d.line),
    use: 'waitFor / waiter / sleep from test/kit',
  },
];

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return walk(p);
    return n.endsWith('.ts') ? [p] : [];
  });
}

test('no test file outside test/kit builds its own CA, wait helper or clock', () => {
  const files = walk(TEST_DIR).map((f) => relative(REPO_ROOT, f).split(sep).join('/')).filter((f) => !f.startsWith('test/kit/'));
  assert.ok(files.length > 50, `scanned ${files.length} test files under ${TEST_DIR}`);
  const problems: string[] = [];
  for (const f of files) {
    const lines = readFileSync(join(REPO_ROOT, f), 'utf8').split('\n');
    for (const rule of RULES) {
      if (rule.allowed?.[f]) continue;
      for (const line of rule.find(lines)) problems.push(`${f}:${line} ${rule.name}; use ${rule.use}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('the guard sees the patterns it forbids (so it cannot pass by matching nothing)', () => {
  const sample = [
    'const ca = await CertificateAuthority.create();',
    'class FastClock implements Clock {',
    '}',
    'async function until(what: string, cond: () => boolean, ms = 1000): Promise<void> {',
    '  const end = Date.now() + ms;',
    '  while (!cond()) await new Promise((r) => setTimeout(r, 20));',
    '}',
    'const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));',
    'const until2 = (what: string, cond: () => boolean) => waitFor(what, cond, 60_000);',
  ];
  const hits = RULES.map((r) => r.find(sample));
  assert.deepEqual(hits, [[1], [2], [4], [4, 8]]);
  for (const f of Object.keys(CA_ALLOWED)) assert.ok(statSync(join(REPO_ROOT, f)).isFile(), `allow-listed ${f} exists`);
});
