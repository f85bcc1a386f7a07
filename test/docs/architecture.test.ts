/**
 * The repository cites its own design document, docs/architecture.md, by section: every
 * "docs/architecture.md §N" in the source must name a section that exists, and nothing may cite
 * a design document the repository does not contain (the old DESIGN.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../repo.js';

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.(ts|mjs|js|md)$/.test(name)) out.push(p);
  }
  return out;
}

const SOURCES = ['src', 'test', 'bench', 'scripts', 'docs'].flatMap((d) => files(join(REPO_ROOT, d))).concat(join(REPO_ROOT, 'README.md'));
const ARCHITECTURE = readFileSync(join(REPO_ROOT, 'docs', 'architecture.md'), 'utf8');
const SECTIONS = new Set([...ARCHITECTURE.matchAll(/^## (\d+)\. /gm)].map((m) => m[1]!));
const SELF = 'test/docs/architecture.test.ts';

test('no file cites DESIGN.md (or "DESIGN §n"), a design document the repository does not contain', () => {
  const citing = SOURCES.filter((f) => relative(REPO_ROOT, f) !== SELF && /\bDESIGN(\.md|\s*§)/.test(readFileSync(f, 'utf8')));
  assert.deepEqual(citing.map((f) => relative(REPO_ROOT, f)), []);
});

test('every "docs/architecture.md §N" cited in the source names a section that exists', () => {
  assert.ok(SECTIONS.size >= 5, `architecture.md has numbered sections (found ${[...SECTIONS].join(', ')})`);
  const cited: string[] = [];
  const broken: string[] = [];
  for (const f of SOURCES) {
    for (const m of readFileSync(f, 'utf8').matchAll(/docs\/architecture\.md §(\d+)/g)) {
      cited.push(m[1]!);
      if (!SECTIONS.has(m[1]!)) broken.push(`${relative(REPO_ROOT, f)} cites §${m[1]}`);
    }
  }
  assert.ok(cited.length >= 10, `the source cites architecture.md (${cited.length} citations found)`);
  assert.deepEqual(broken, []);
});
