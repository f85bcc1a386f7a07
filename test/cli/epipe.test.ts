/**
 * The CLI as one end of a shell pipe: when the reader goes away early (`erab pki list | head -1`)
 * erab ends quietly — no stack trace, no "unexpected error" — and a failure that is not erab's
 * own (a missing file) is reported plainly, while a real bug gets an error id in the log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ERAB_BIN } from '../repo.js';

const ENV = { ...process.env, ERAB_NODE_TUNING: 'off', ERAB_CA_PASSPHRASE: '' };

function erab(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ERAB_BIN, ...args], { env: ENV, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Runs erab with its stdout on a real pipe whose reading end we close before erab writes. */
function withClosedPipe(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ERAB_BIN, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader is gone, as when `head -1` has exited
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

test('erab ends quietly when the reader of its output goes away (EPIPE)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'erab-epipe-'));
  try {
    const dir = join(root, 'pki');
    assert.equal((await erab(['pki', 'init', '--dir', dir])).code, 0);
    for (const args of [['pki', 'list', '--dir', dir], ['config', 'roles'], ['pki', '--help']]) {
      const r = await withClosedPipe(args);
      assert.equal(r.stderr, '', `erab ${args.join(' ')} wrote to stderr: ${r.stderr}`);
      assert.equal(r.code, 0, `erab ${args.join(' ')} exit code`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a failure of the environment (a missing file) is reported plainly, not as an unexpected error', async () => {
  const r = await erab(['config', 'check', 'tso', '--config', '/nonexistent/erab-tso.json']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\/nonexistent\/erab-tso\.json/);
  assert.doesNotMatch(r.stderr, /unexpected error/);
});

test('a bug is reported as "unexpected error <id>" with the same id on a log line holding the stack', async () => {
  const { failureLine } = await import('../../src/cli/failure.js');
  const { pino } = await import('pino');
  const lines: string[] = [];
  const log = () => pino({ level: 'info' }, { write: (s: string) => { lines.push(s); } });
  const bug = failureLine(new TypeError("Cannot read properties of undefined (reading 'x')"), log);
  const m = /^unexpected error ([0-9a-f]{8}): Cannot read properties/.exec(bug);
  assert.ok(m, bug);
  assert.equal(lines.length, 1);
  const rec = JSON.parse(lines[0]!) as { errorId: string; stack: string; level: number };
  assert.equal(rec.errorId, m[1]);
  assert.equal(rec.level, 50, 'logged at error level');
  assert.match(rec.stack, /TypeError: Cannot read properties[^]*at /);

  const missing = Object.assign(new Error("ENOENT: no such file or directory, open 'x.json'"), { code: 'ENOENT', syscall: 'open' });
  assert.equal(failureLine(missing, log), "ENOENT: no such file or directory, open 'x.json'", 'the environment, not a bug');
  const { InvalidInputError } = await import('../../src/core/errors.js');
  assert.equal(failureLine(new InvalidInputError('--days must be a whole number'), log), '--days must be a whole number');
  assert.equal(lines.length, 1, 'only the bug was logged');
});
