#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's own test runner.
// Usage: node scripts/run-tests.mjs [substring ...]  — only files whose path contains a substring.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
// tsc never deletes what it compiled earlier: a test whose source was moved or removed would
// still run from dist/. Only compiled files whose test/**/*.test.ts still exists are run.
const hasSource = (f) => existsSync(f.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
const files = walk('dist/test')
  .filter(hasSource)
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.ERAB_TEST_CONCURRENCY ?? '2';
// The whole-system demo (many processes on 2 cores, delivery judged against a tolerance) runs
// alone after the rest, so another test file's load does not decide its verdict.
const alone = files.filter((f) => f.includes('/demo/demo.test.'));
const together = files.filter((f) => !alone.includes(f));
// --test-force-exit: a test file whose test left a handle open (a failed test that never reached
// its cleanup) must not hang the run; the failure is reported and the file's process ends.
const run = (list, n) => spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-force-exit', `--test-concurrency=${n}`, ...list], { stdio: 'inherit' }).status ?? 1;
const first = together.length > 0 ? run(together, concurrency) : 0;
const second = alone.length > 0 ? run(alone, '1') : 0;
process.exit(first || second);
