/**
 * `erab demo --console`: the demo prints the aggregator's console URL, a PKCS#12 file and its
 * passphrase; the URL answers over mutual TLS to a client presenting that PKCS#12's certificate
 * (and refuses one without a certificate); the demo runs until Ctrl-C (SIGINT) and then leaves no
 * process behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ERAB_BIN, REPO_ROOT } from '../../repo.js';
import { waitFor } from '../../kit/index.js';

function get(url: string, tls: { pfx?: Buffer; passphrase?: string; ca: string }): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, agent: false, timeout: 20_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const stillRunning = (marker: string): string[] => readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid).filter((pid) => {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker); } catch { return false; }
});

test('erab demo --console: URL, p12 and passphrase printed; the URL answers over mutual TLS with that certificate; runs until Ctrl-C', { timeout: 420_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-demo-console-'));
  const net = 150 + Math.floor(Math.random() * 100);
  const child = spawn(process.execPath, [ERAB_BIN, 'demo', '--console', '--headless', '--sites', '2', '--speed', '300', '--dir', join(dir, 'work'), '--net', String(net)],
    { cwd: REPO_ROOT, env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: '', ERAB_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const printed = await waitFor('the console lines', () => {
      if (child.exitCode !== null) throw new Error(`demo exited ${child.exitCode}: ${err.slice(-2000)}`);
      const m = /Operator console: (https:\/\/127\.0\.0\.1:\d+\/)\n\s+Import this certificate into your browser: (\S+\.p12)\n\s+Its passphrase: (\S+)\n\s+The CA certificate[^:]*: (\S+)\n\s+The demo keeps running until Ctrl-C\./.exec(out);
      return m ? { url: m[1]!, p12: m[2]!, passphrase: m[3]!, ca: m[4]! } : undefined;
    }, 240_000);
    assert.equal(statSync(printed.p12).mode & 0o777, 0o600, 'the PKCS#12 file is private');
    assert.ok(printed.passphrase.length >= 12);
    const ca = readFileSync(printed.ca, 'utf8');
    const page = await get(printed.url, { pfx: readFileSync(printed.p12), passphrase: printed.passphrase, ca });
    assert.equal(page.status, 200);
    assert.match(page.type, /^text\/html/);
    assert.match(page.body, /erab · <span id="who">AGG-A<\/span>/);
    const status = await get(`${printed.url}status`, { pfx: readFileSync(printed.p12), passphrase: printed.passphrase, ca });
    assert.equal(status.status, 200);
    assert.equal((JSON.parse(status.body) as { id: string }).id, 'AGG-A');
    // Without a client certificate: a 403 page saying what to import, never the console itself.
    const anonymous = await get(printed.url, { ca });
    assert.equal(anonymous.status, 403);
    assert.match(anonymous.body, /erab pki issue --p12/);
    assert.doesNotMatch(anonymous.body, /id="who"/);
    // A wrong passphrase does not open the file.
    await assert.rejects(get(printed.url, { pfx: readFileSync(printed.p12), passphrase: 'not-the-passphrase', ca }));
    // The scenario plays to its end, and the demo stays up with the console answering.
    await waitFor('the scenario to end with the console left open', () => {
      if (child.exitCode !== null) throw new Error(`demo exited ${child.exitCode} before Ctrl-C: ${out.slice(-3000)}\n${err.slice(-2000)}`);
      return /scenario played; the console stays open until Ctrl-C/.test(out);
    }, 240_000);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(child.exitCode, null, 'still running after the scenario');
    assert.equal((await get(printed.url, { pfx: readFileSync(printed.p12), passphrase: printed.passphrase, ca })).status, 200);
    assert.doesNotMatch(out, /erab demo: (PASSED|FAILED)/, 'no summary before Ctrl-C');
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000))]);
    assert.notEqual(code, 'timeout', 'the demo stops on Ctrl-C');
    assert.match(out, /erab demo: (PASSED|FAILED)/, 'then it stops everyone, verifies the audit logs and prints its summary');
    await waitFor(() => stillRunning(dir).length === 0, { what: 'no demo process left', timeoutMs: 20_000, intervalMs: 250 });
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
