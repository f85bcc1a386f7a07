/**
 * `erab audit` as an operator or auditor runs it: a separate process, exit codes (0 intact,
 * 1 tampered/failed, 2 usage), JSON output a third party can check with its own RFC 9162 code.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createPublicKey, verify as edVerify } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { AuditLog } from '../../src/security/audit/log.js';
import { readRecords } from '../../src/security/audit/export.js';
import { parseOctetCountingFrames } from '../../src/security/audit/syslog-tls.js';
import { loadTlsMaterial, serverTlsOptions } from '../../src/security/tls.js';
import type { AuditRecordInput } from '../../src/security/audit/types.js';
import { naiveLeaf, rfcVerifyConsistency, rfcVerifyInclusion } from '../security/audit/rfc9162.js';
import { pkiWorld } from '../kit/index.js';

const mainJs = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const runner = `import(${JSON.stringify(mainJs)}).then((m) => m.main(['node', 'erab', ...process.argv.slice(1)])).then((c) => { process.exitCode = c; });`;

interface Run { code: number; stdout: string; stderr: string }

function erab(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', runner, '--', ...args], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const ORIGIN = 'erab.test/tso-1/audit';
const rec = (i: number): AuditRecordInput => ({
  actor: { kind: 'peer', id: `agg-${i % 4}`, role: 'aggregator', fingerprint: 'AB:CD:EF' },
  action: i % 2 ? 'openadr.poll' : 'tls.handshake',
  target: i === 3 ? 'odd "target" with ] and \\ in it' : `ven-${i}`,
  outcome: i % 5 === 0 ? 'refused' : i % 7 === 0 ? 'failure' : 'success',
  ...(i % 5 === 0 ? { reason: 'certificate revoked' } : {}),
});

/** Independent check of a C2SP checkpoint note signed with Ed25519 (no project code). */
function checkNote(note: string, vkey: string): { size: number; root: Buffer } {
  const [name, idHex, keyB64] = [vkey.slice(0, vkey.indexOf('+')), vkey.split('+')[1]!, vkey.split('+').slice(2).join('+')];
  const key = Buffer.from(keyB64, 'base64');
  assert.equal(key[0], 1, 'Ed25519 key type');
  const sep = note.lastIndexOf('\n\n');
  const text = note.slice(0, sep + 1);
  const sigLine = note.slice(sep + 2).trim();
  const m = /^\u2014 (\S+) (\S+)$/.exec(sigLine);
  assert.ok(m, sigLine);
  assert.equal(m[1], name);
  const sig = Buffer.from(m[2]!, 'base64');
  assert.equal(sig.subarray(0, 4).toString('hex'), idHex);
  const pub = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.subarray(1).toString('base64url') }, format: 'jwk' });
  assert.ok(edVerify(null, Buffer.from(text), pub, sig.subarray(4)), 'checkpoint signature');
  const [origin, size, root] = text.split('\n');
  assert.equal(origin, name);
  return { size: Number(size), root: Buffer.from(root!, 'base64') };
}

describe('erab audit (CLI)', () => {
  let root: string;
  let dir: string;
  let vkey: string;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'erab-cli-audit-'));
    dir = join(root, 'audit');
    const log = AuditLog.open({ dir, origin: ORIGIN, checkpointEvery: 8, segmentMaxRecords: 16 });
    for (let i = 0; i < 40; i++) log.append(rec(i));
    vkey = log.verifierKey;
    log.close();
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('--help works on the group and on every command', async () => {
    const group = await erab(['audit', '--help']);
    assert.equal(group.code, 0);
    for (const sub of ['verify', 'prove', 'tail', 'export', 'retention', 'key', 'append']) {
      assert.match(group.stdout, new RegExp(`\\b${sub}\\b`));
      const r = await erab(['audit', sub, '--help']);
      assert.equal(r.code, 0, `${sub} --help`);
      assert.match(r.stdout, /--dir/);
    }
  });

  it('verify: intact log exits 0 with a summary; --json prints the result; --key accepts a key or a file', async () => {
    const r = await erab(['audit', 'verify', '--dir', dir, '--key', vkey]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^intact: 40 records/);
    const keyFile = join(root, 'tso.vkey');
    writeFileSync(keyFile, `${vkey}\n`);
    const j = await erab(['audit', 'verify', '--dir', dir, '--key', keyFile, '--json']);
    assert.equal(j.code, 0, j.stderr);
    const res = JSON.parse(j.stdout) as { ok: boolean; treeSize: number; keySource: string };
    assert.deepEqual([res.ok, res.treeSize, res.keySource], [true, 40, 'given']);
    const kept = join(root, 'kept.note');
    writeFileSync(kept, readFileSync(join(dir, 'checkpoints.txt')));
    const withKept = await erab(['audit', 'verify', '--dir', dir, '--key', vkey, '--checkpoint', kept, '--json']);
    assert.equal(withKept.code, 0, withKept.stderr);
    writeFileSync(kept, 'not a note\n');
    const badKept = await erab(['audit', 'verify', '--dir', dir, '--key', vkey, '--checkpoint', kept]);
    assert.equal(badKept.code, 1);
    assert.match(badKept.stderr, /--checkpoint .*kept\.note/);
    const self = await erab(['audit', 'verify', '--dir', dir]);
    assert.equal(self.code, 0);
    assert.match(self.stderr, /trusting verifier\.key found in the log directory/);
  });

  it('usage errors exit 2; a missing directory or a wrong key exits 1', async () => {
    assert.equal((await erab(['audit', 'verify'])).code, 2);
    assert.equal((await erab(['audit', 'prove', '--dir', dir])).code, 2);
    assert.equal((await erab(['audit', 'prove', '--dir', dir, '--index', 'x'])).code, 2);
    assert.equal((await erab(['audit', 'prove', '--dir', dir, '--index', '1', '--from', '0'])).code, 2);
    assert.equal((await erab(['audit', 'export', '--dir', dir, '--format', 'xml'])).code, 2);
    assert.equal((await erab(['audit', 'retention', '--dir', dir])).code, 2);
    const missing = await erab(['audit', 'verify', '--dir', join(root, 'nope')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such audit log directory/);
    const other = 'erab.test/other+1234abcd+AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=';
    const wrong = await erab(['audit', 'verify', '--dir', dir, '--key', other]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /key id|verifier key/);
  });

  it('prove --index prints an inclusion proof that an independent verifier accepts against the signed checkpoint', async () => {
    const r = await erab(['audit', 'prove', '--dir', dir, '--index', '13', '--key', vkey]);
    assert.equal(r.code, 0, r.stderr);
    const p = JSON.parse(r.stdout) as { leafIndex: number; treeSize: number; entry: string; leafHash: string; auditPath: string[]; rootHash: string; checkpoint: string };
    assert.equal(p.leafIndex, 13);
    assert.equal(p.treeSize, 40);
    const cp = checkNote(p.checkpoint, vkey);
    assert.equal(cp.size, 40);
    assert.equal(cp.root.toString('hex'), p.rootHash);
    const leaf = naiveLeaf(Buffer.from(p.entry, 'utf8'));
    assert.equal(leaf.toString('hex'), p.leafHash);
    assert.equal((JSON.parse(p.entry) as { i: number }).i, 13);
    assert.ok(rfcVerifyInclusion(13, 40, leaf, p.auditPath.map((h) => Buffer.from(h, 'hex')), cp.root));
    // the same proof does not prove a different entry
    assert.ok(!rfcVerifyInclusion(13, 40, naiveLeaf(Buffer.from(p.entry.replace('agg-1', 'agg-9'))), p.auditPath.map((h) => Buffer.from(h, 'hex')), cp.root));
    // against an older signed size
    const old = JSON.parse((await erab(['audit', 'prove', '--dir', dir, '--index', '13', '--size', '16'])).stdout) as typeof p;
    const cp16 = checkNote(old.checkpoint, vkey);
    assert.ok(rfcVerifyInclusion(13, 16, leaf, old.auditPath.map((h) => Buffer.from(h, 'hex')), cp16.root));
    const beyond = await erab(['audit', 'prove', '--dir', dir, '--index', '40']);
    assert.equal(beyond.code, 1);
  });

  it('prove --from/--to prints a consistency proof that an independent verifier accepts between two signed checkpoints', async () => {
    const r = await erab(['audit', 'prove', '--dir', dir, '--from', '24', '--to', '40']);
    assert.equal(r.code, 0, r.stderr);
    const p = JSON.parse(r.stdout) as { fromSize: number; toSize: number; proof: string[]; fromCheckpoint: string; toCheckpoint: string };
    const a = checkNote(p.fromCheckpoint, vkey);
    const b = checkNote(p.toCheckpoint, vkey);
    assert.deepEqual([a.size, b.size], [24, 40]);
    const proof = p.proof.map((h) => Buffer.from(h, 'hex'));
    assert.ok(rfcVerifyConsistency(24, 40, a.root, b.root, proof));
    assert.ok(!rfcVerifyConsistency(24, 40, b.root, b.root, proof));
  });

  it('tail prints the last records; export writes JSONL and RFC 5424 syslog with escaped structured data', async () => {
    const t = await erab(['audit', 'tail', '--dir', dir, '-n', '3']);
    assert.equal(t.code, 0, t.stderr);
    const tl = t.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { i: number }).i);
    assert.deepEqual(tl, [37, 38, 39]);
    const j = await erab(['audit', 'export', '--dir', dir, '--format', 'jsonl']);
    assert.equal(j.code, 0, j.stderr);
    const stored = readdirSync(join(dir, 'segments')).sort().map((f) => readFileSync(join(dir, 'segments', f), 'utf8')).join('');
    assert.equal(j.stdout, stored);
    const s = await erab(['audit', 'export', '--dir', dir, '--format', 'syslog', '--hostname', 'tso-host', '--facility', 'local4']);
    assert.equal(s.code, 0, s.stderr);
    const lines = s.stdout.trim().split('\n');
    assert.equal(lines.length, 40);
    // <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG
    const re = /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) tso-host erab - (\S{1,32}) \[erab@32473( [a-zA-Z]+="(?:[^"\\\]]|\\["\\\]])*")+\] (.*)$/;
    for (const l of lines) assert.match(l, re);
    // record 0: refused → warning (4), local4 = 20 → PRI 164
    assert.match(lines[0]!, /^<164>1 .* tls\.handshake \[erab@32473 index="0" actorKind="peer" actor="agg-0" actorRole="aggregator" fingerprint="AB:CD:EF" action="tls\.handshake" target="ven-0" outcome="refused"\] tls\.handshake refused target=ven-0: certificate revoked$/);
    // record 3: success → informational (6) → PRI 166; '"', '\' and ']' escaped in SD-PARAM (RFC 5424 §6.3.3)
    assert.ok(lines[3]!.startsWith('<166>1 '));
    assert.ok(lines[3]!.includes('target="odd \\"target\\" with \\] and \\\\ in it"'), lines[3]);
    // record 7: failure → error (3) → PRI 163
    assert.ok(lines[7]!.startsWith('<163>1 '));
    const out = join(root, 'export.jsonl');
    assert.equal((await erab(['audit', 'export', '--dir', dir, '--out', out])).code, 0);
    assert.equal(readFileSync(out, 'utf8'), stored);
    assert.equal((await erab(['audit', 'export', '--dir', dir, '--out', out])).code, 1, 'never overwrites an export');
  });

  it('tail --follow prints records appended after it started, until terminated', { timeout: 240_000 }, async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', runner, '--', 'audit', 'tail', '--dir', dir, '-n', '1', '--follow', '--interval', '50'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const seen = (pattern: RegExp): Promise<void> => new Promise((resolve, reject) => {
      const check = (): void => {
        if (pattern.test(out)) {
          child.stdout.off('data', onData);
          resolve();
        }
      };
      const onData = (d: Buffer): void => {
        out += d.toString();
        check();
      };
      child.stdout.on('data', onData);
      child.once('exit', (code) => reject(new Error(`tail exited early (${code}): ${out}`)));
      // Never wait forever: a hung follower must fail this test, not hang the whole run.
      setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in: ${out}`)), 90_000).unref();
      check();
    });
    try {
      await seen(/"i":39,/);
      const log = AuditLog.open({ dir, origin: ORIGIN, checkpointEvery: 8, segmentMaxRecords: 16 });
      log.append({ actor: { kind: 'operator', id: 'bob' }, action: 'operator.login', outcome: 'success' });
      log.close();
      await seen(/"i":40,.*operator\.login/);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });

  it('a tampered log exits 1 naming the record; --json carries firstTamper', async () => {
    const copy = join(root, 'tampered');
    const log = AuditLog.open({ dir: copy, origin: ORIGIN, checkpointEvery: 5 });
    for (let i = 0; i < 12; i++) log.append(rec(i));
    const key = log.verifierKey;
    log.close();
    const seg = join(copy, 'segments', '000000000000.jsonl');
    const ls = readFileSync(seg, 'utf8').split('\n');
    [ls[4], ls[5]] = [ls[5]!, ls[4]!];
    writeFileSync(seg, ls.join('\n'));
    const r = await erab(['audit', 'verify', '--dir', copy, '--key', key]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /FAILED verification: reordered record 4 at segments\/000000000000\.jsonl line 6/);
    const j = await erab(['audit', 'verify', '--dir', copy, '--key', key, '--json']);
    assert.equal(j.code, 1);
    const res = JSON.parse(j.stdout) as { ok: boolean; firstTamper: { kind: string; index: number; file: string; line: number } };
    assert.equal(res.ok, false);
    assert.deepEqual(res.firstTamper && { kind: res.firstTamper.kind, index: res.firstTamper.index, line: res.firstTamper.line }, { kind: 'reordered', index: 4, line: 6 });
    // proofs are refused for a damaged log
    assert.equal((await erab(['audit', 'prove', '--dir', copy, '--index', '1'])).code, 1);
    // and appending is refused
    const ap = await erab(['audit', 'append', '--dir', copy, '--actor', 'operator:alice', '--action', 'x', '--outcome', 'success']);
    assert.equal(ap.code, 1);
    assert.match(ap.stderr, /refusing to append/);
  });

  it('export --to sends every record to a syslog collector over mutual TLS (RFC 5425)', async () => {
    const world = await pkiWorld({ siem: 'operator:siem-1', me: 'tso:TSO1' }, { prefix: 'erab-cli-audit-pki-' });
    after(() => world.close());
    const { siem, me } = world.certs;
    const got: string[] = [];
    const server = tls.createServer(serverTlsOptions(await loadTlsMaterial(siem.files), 'syslog'), (socket) => {
      if (!socket.authorized) return socket.destroy();
      let buf: Buffer = Buffer.alloc(0);
      socket.on('data', (d: Buffer) => {
        const p = parseOctetCountingFrames(Buffer.concat([buf, d]));
        got.push(...p.messages);
        buf = p.rest;
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const tlsArgs = ['--tls-cert', me.files.certFile, '--tls-key', me.files.keyFile, '--tls-ca', me.files.caFile];
      assert.equal((await erab(['audit', 'export', '--dir', dir, '--to', `127.0.0.1:${port}`, ...tlsArgs])).code, 2, '--to needs --format syslog');
      const r = await erab(['audit', 'export', '--dir', dir, '--format', 'syslog', '--hostname', 'tso-host', '--to', `127.0.0.1:${port}`, ...tlsArgs, '--expect-id', 'siem-1']);
      assert.equal(r.code, 0, r.stderr);
      const n = [...readRecords(dir)].length;
      assert.match(r.stderr, new RegExp(`sent ${n} syslog message`));
      for (let i = 0; i < 400 && got.length < n; i++) await new Promise((res) => setTimeout(res, 25));
      assert.equal(got.length, n);
      assert.match(got[0]!, /^<\d+>1 \S+ tso-host erab - tls\.handshake \[erab@32473 index="0" /);
      const wrong = await erab(['audit', 'export', '--dir', dir, '--format', 'syslog', '--to', `127.0.0.1:${port}`, ...tlsArgs, '--expect-id', 'siem-9']);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /siem-9/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('append adds an operator record; retention (dry run, then --apply) archives and verify still exits 0', async () => {
    const d2 = join(root, 'ret');
    const ap = await erab(['audit', 'append', '--dir', d2, '--origin', ORIGIN, '--actor', 'operator:alice', '--action', 'operator.maintenance', '--outcome', 'success', '--target', 'gateway-3', '--reason', 'firmware update']);
    assert.equal(ap.code, 0, ap.stderr);
    assert.equal(ap.stdout.trim(), '0');
    const key = (await erab(['audit', 'key', '--dir', d2])).stdout.trim();
    assert.match(key, /^erab\.test\/tso-1\/audit\+[0-9a-f]{8}\+/);
    const log = AuditLog.open({ dir: d2, origin: ORIGIN, segmentMaxRecords: 10 });
    for (let i = 0; i < 34; i++) log.append(rec(i));
    log.close();
    const dry = await erab(['audit', 'retention', '--dir', d2, '--max-records', '12']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would archive 000000000000\.jsonl \(records 0\.\.9/);
    assert.match(dry.stdout, /would archive 000000000010\.jsonl/);
    assert.doesNotMatch(dry.stdout, /000000000020/);
    assert.ok(existsSync(join(d2, 'segments', '000000000000.jsonl')), 'dry run changes nothing');
    const applied = await erab(['audit', 'retention', '--dir', d2, '--max-records', '12', '--apply', '--key', key]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /archived 000000000000\.jsonl/);
    assert.ok(existsSync(join(d2, 'archive', '000000000000.jsonl')));
    const v = await erab(['audit', 'verify', '--dir', d2, '--key', key, '--json']);
    assert.equal(v.code, 0, v.stderr);
    const res = JSON.parse(v.stdout) as { archivedSize: number; treeSize: number };
    assert.deepEqual([res.archivedSize, res.treeSize], [20, 35]);
    const all = await erab(['audit', 'verify', '--dir', d2, '--key', key, '--include-archive']);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^intact: 35 records \(20 archived\)/);
  });
});
