/**
 * Every repeatable option of every `erab` command, given once and twice to the real command.
 *
 * Found under attack (issue 11, item 9): `erab device site --peer X` crashed with
 * "flags.peer.map is not a function" — the option was declared `<address[:port]...>`, which
 * commander does not take as variadic (it wants a word character before "..."), so one string
 * reached code that expected a list.
 *
 * The test walks the commander tree that `erab` builds, finds every option that is variadic or
 * collects its values (repeatable), and requires that set to be exactly the set covered below: a
 * new repeatable option without a case here fails. Each case runs the real command in a child
 * process and checks an effect that only happens when every value reached the command as a list:
 * announcements arriving at each --peer, SANs in an issued certificate, a second --checkpoint
 * read, the operator API receiving both --kw and --to values, each allow-listed certificate
 * getting through a real mutual-TLS listener, the controls of each --role in what compliance
 * lists, keeps and reports, mail from a real SMTP server for each --site, each --file and
 * --gateway in a signed update package and its offer. Long-running commands
 * are started, probed once ready, and stopped with SIGTERM.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as https from 'node:https';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { Command, Option } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { AuditLog } from '../../src/security/audit/log.js';
import { MemoryAuditSink } from '../../src/security/audit/types.js';
import { AuditWitness, formatAddCheckpointRequest } from '../../src/security/audit/witness.js';
import type { IssuedCertificate } from '../../src/security/pki/index.js';
import { pkiWorld, waitFor, type PkiWorld } from '../kit/index.js';
import { advisory } from '../secops/notify/fixtures.js';
import { SMTP_PASS, SMTP_USER, startSmtp } from '../secops/notify/servers.js';

const mainJs = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const runner = `import(${JSON.stringify(mainJs)}).then((m) => m.main(['node', 'erab', ...process.argv.slice(1)])).then((c) => { process.exitCode = c; });`;

interface Run { code: number; stdout: string; stderr: string }

/** Runs `erab <args>` to completion in a child process, with `env` added to the environment. */
function erab(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', runner, '--', ...args], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Starts a long-running `erab <args>`, resolves once stdout matches `ready`, with the match. */
async function erabRunning(args: string[], ready: RegExp): Promise<{ match: RegExpExecArray; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', runner, '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString('utf8'); });
  child.stderr?.on('data', (c: Buffer) => { err += c.toString('utf8'); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const m = await waitFor(() => ready.exec(out), {
    what: `erab ${args.join(' ')} to print ${ready}`, timeoutMs: 30_000,
    failIf: () => child.exitCode !== null && `exit ${child.exitCode}`, context: () => out + err,
  }).catch((e: unknown) => { child.kill('SIGKILL'); throw e; });
  return {
    match: m,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

// ------------------------------------------------------------------ the commander tree

/** `<command path> <long flag>`, e.g. "device site --peer". */
type OptionKey = string;

/**
 * True when the option takes several values: variadic, or its parser keeps the previous values
 * (commander's "custom processing" collect idiom). The parser is probed with a marker list: a
 * collector hands it back extended. A two-argument parser that is not a choices list counts too,
 * so a collector that refuses every probe is still caught rather than missed.
 */
function isRepeatable(o: Option): boolean {
  if (o.variadic) return true;
  const parse = (o as unknown as { parseArg?: (v: string, prev: unknown) => unknown }).parseArg;
  if (!parse) return false;
  const marker = '\u0000previous';
  const probes = [...(o.argChoices ?? []), 'x', '1', '127.0.0.1', '127.0.0.1:3610', 'aggregator:AGG1'];
  for (const probe of probes) {
    try {
      const r = parse.call(o, probe, [marker]);
      if (Array.isArray(r) && r.includes(marker)) return true;
    } catch { /* a refused probe says nothing */ }
  }
  return parse.length >= 2 && !o.argChoices;
}

function repeatableOptions(): OptionKey[] {
  const found: OptionKey[] = [];
  const walk = (cmd: Command, path: string[]): void => {
    for (const o of cmd.options) if (isRepeatable(o)) found.push([...path, o.long ?? o.flags].join(' '));
    for (const sub of cmd.commands) walk(sub, [...path, sub.name()]);
  };
  walk(buildProgram(), []);
  return found.sort();
}

// ------------------------------------------------------------------ fixtures

let world: PkiWorld;
let root: string;
let ca: { certPem: string };
let certs: Record<string, IssuedCertificate> = {};
const files: Record<string, { cert: string; key: string }> = {};
let caFile: string;

before(async () => {
  world = await pkiWorld({ TSO1: 'tso:TSO1', TSO2: 'tso:TSO2', AGG1: 'aggregator:AGG1', AGG2: 'aggregator:AGG2', AGG3: 'aggregator:AGG3', alice: 'operator:alice', MAIL1: 'operator:MAIL1', GW1: 'gateway:GW1', GW2: 'gateway:GW2' }, { prefix: 'erab-repeatable-' });
  root = world.dir;
  ca = { certPem: world.caPem };
  caFile = world.caFile;
  certs = world.certs;
  for (const [id, c] of Object.entries(world.certs)) files[id] = { cert: c.files.certFile, key: c.files.keyFile };
});
after(() => world?.close());

const f = (id: string): { cert: string; key: string } => files[id] as { cert: string; key: string };

/** UDP listeners on 127.0.0.1 that keep (source address, ESV, first EPC) of every ECHONET Lite frame. */
async function udpListeners(n: number): Promise<{ port: number; frames: { from: string; esv: number; epc: number }[]; close(): void }[]> {
  return Promise.all(Array.from({ length: n }, async () => {
    const s = dgram.createSocket('udp4');
    const frames: { from: string; esv: number; epc: number }[] = [];
    s.on('message', (b, r) => {
      if (b.length >= 13 && b[0] === 0x10 && b[1] === 0x81) frames.push({ from: r.address, esv: b[10] as number, epc: b[12] as number });
    });
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    return { port: (s.address() as AddressInfo).port, frames, close: () => s.close() };
  }));
}

/** An instance-list announcement: INF (0x73) of 0xD5 (ECHONET Lite Appendix / node profile). */
const isAnnouncement = (x: { esv: number; epc: number }): boolean => x.esv === 0x73 && x.epc === 0xd5;

/** Whether a client certificate gets an HTTP answer from a mutual-TLS listener (else: refused). */
function reaches(url: string, id: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.request(`${url}/OpenADR2/Simple/2.0b/OadrPoll`, {
      method: 'POST', cert: certs[id]?.certPem, key: certs[id]?.keyPem, ca: ca.certPem, agent: false,
      checkServerIdentity: () => undefined, headers: { 'content-type': 'application/xml' }, timeout: 10_000,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(true));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end('<x/>');
  });
}

/** True when `id`'s certificate gets a 200 from `<url>/healthz` (an operator listener). */
function healthAnswers(url: string, id: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.request(`${url}/healthz`, {
      method: 'GET', cert: certs[id]?.certPem, key: certs[id]?.keyPem, ca: ca.certPem, agent: false,
      checkServerIdentity: () => undefined, timeout: 10_000,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** A mutual-TLS operator API that records the JSON bodies it receives. */
async function fakeOperatorApi(serverId = 'TSO1'): Promise<{ url: string; bodies: unknown[]; paths: string[]; close(): Promise<void> }> {
  const server = certs[serverId] as IssuedCertificate;
  const bodies: unknown[] = [];
  const paths: string[] = [];
  const s = https.createServer({ cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { text += c; });
    req.on('end', () => {
      paths.push(`${req.method ?? ''} ${req.url ?? ''}`);
      bodies.push(JSON.parse(text));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(s.address() as AddressInfo).port}`,
    bodies,
    paths,
    close: () => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); }),
  };
}

// ------------------------------------------------------------------ one case per command

interface Case {
  /** The options it proves, `<command path> <flag>`. */
  covers: OptionKey[];
  run(): Promise<void>;
}

async function deviceCase(command: 'site' | 'sites', base: string): Promise<void> {
  const where = command === 'site' ? ['--address', base] : ['--count', '2', '--base-address', base];
  const sources = command === 'site' ? [base] : [base, base.replace(/\d+$/, (d) => String(Number(d) + 1))];
  for (const times of [1, 2]) {
    const peers = await udpListeners(times);
    try {
      const r = await erab(['device', command, ...where, '--port', '0', '--battery', '--duration', '1.5', ...peers.flatMap((p) => ['--peer', `127.0.0.1:${p.port}`])]);
      assert.equal(r.code, 0, `erab device ${command} with --peer given ${times}×: ${r.stderr}`);
      for (const [i, p] of peers.entries()) {
        for (const from of sources) {
          assert.ok(p.frames.some((x) => x.from === from && isAnnouncement(x)), `device ${command}: no announcement from ${from} at --peer #${i + 1} of ${times} (got ${JSON.stringify(p.frames)})`);
        }
      }
    } finally {
      for (const p of peers) p.close();
    }
  }
  const bad = await erab(['device', command, ...where, '--port', '0', '--duration', '0.1', '--peer', '127.0.0.1:3610', '--peer', 'gateway.local']);
  assert.equal(bad.code, 2, 'a --peer that is not address[:port] is a usage error');
  assert.match(bad.stderr, /"gateway\.local" is not an IPv4 address/);
}

async function vtnAllowCase(flag: '--allow' | '--allow-fingerprint'): Promise<void> {
  const value = (id: string): string => (flag === '--allow' ? `aggregator:${id}` : (certs[id] as IssuedCertificate).identity.fingerprint);
  for (const allowed of [['AGG1'], ['AGG1', 'AGG2']]) {
    const vtn = await erabRunning([
      'openadr', 'vtn', '--cert', f('TSO1').cert, '--key', f('TSO1').key, '--ca', caFile, '--listen', '127.0.0.1:0',
      '--store', join(root, `vtn-${flag.slice(2)}-${allowed.length}.db`), ...allowed.flatMap((id) => [flag, value(id)]),
    ], /listening on (https:\/\/127\.0\.0\.1:\d+)/);
    try {
      const url = vtn.match[1] as string;
      for (const id of ['AGG1', 'AGG2', 'AGG3']) {
        assert.equal(await reaches(url, id), allowed.includes(id), `openadr vtn ${allowed.map(value).join(' ')}: ${id} ${allowed.includes(id) ? 'refused' : 'let through'}`);
      }
    } finally {
      await vtn.stop();
    }
  }
}

// The compliance commands, given --role tso once and --role tso --role aggregator: erab-3.3.1-2
// (R1-2) applies to a TSO only, erab-3.3.2-r3 (R3) and erab-3.4.1 to an aggregator only.
const ONE_ROLE = ['tso'];
const TWO_ROLES = ['tso', 'aggregator'];
const TSO_ONLY = 'erab-3.3.1-2';
const AGGREGATOR_ONLY = 'erab-3.3.2-r3';
const roleArgs = (roles: string[]): string[] => roles.flatMap((r) => ['--role', r]);

/** Asserts that the controls of exactly `roles` are among `ids` (as far as TSO_ONLY and AGGREGATOR_ONLY tell). */
function assertRolesReached(ids: string[], roles: string[], what: string): void {
  assert.equal(ids.includes(TSO_ONLY), roles.includes('tso'), `${what} with ${roleArgs(roles).join(' ')}: ${TSO_ONLY} ${roles.includes('tso') ? 'missing' : 'present'}`);
  assert.equal(ids.includes(AGGREGATOR_ONLY), roles.includes('aggregator'), `${what} with ${roleArgs(roles).join(' ')}: ${AGGREGATOR_ONLY} ${roles.includes('aggregator') ? 'missing' : 'present'}`);
}

/**
 * A compliance profile whose store and audit log live under `root`. It declares the EMS role,
 * which the commands' --role replace; the --store given with each command keeps runs apart.
 */
function complianceProfile(): string {
  const file = join(root, 'compliance.json');
  writeFileSync(file, JSON.stringify({ participant: { id: 'AGG1' }, roles: ['ems'], store: join(root, 'compliance.db'), audit: { dir: join(root, 'compliance-audit') } }));
  return file;
}

interface StatusJson { changes: { controlId: string; from: string }[]; failingKankoku: string[]; controls: { id: string; status: string }[] }

async function complianceStatus(profile: string, store: string, roles: string[]): Promise<StatusJson> {
  const r = await erab(['compliance', 'status', '--profile', profile, '--store', store, ...roleArgs(roles), '--json']);
  assert.ok(r.code === 0 || r.code === 1, `compliance status ${roleArgs(roles).join(' ')}: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatusJson;
}

let codeSigning: Promise<{ cert: string; key: string }> | undefined;
/** AGG1's code-signing certificate, issued once by `erab pki issue --usage code-signing`. */
function codeSigner(): Promise<{ cert: string; key: string }> {
  codeSigning ??= erab(['pki', 'issue', '--dir', world.pkiDir, '--role', 'aggregator', '--id', 'AGG1', '--usage', 'code-signing']).then((r) => {
    assert.equal(r.code, 0, r.stderr);
    const dir = join(world.pkiDir, 'issued', 'aggregator-AGG1-code-signing');
    return { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  });
  return codeSigning;
}

/** Packs `files` as a configuration package for `gateways` and signs it; returns the signed file. */
async function signedConfigPackage(name: string, files: string[], gateways: string[]): Promise<string> {
  const unsigned = join(root, `${name}.unsigned.json`);
  const signed = join(root, `${name}.erabpkg.json`);
  const pack = await erab(['update', 'pack', '--id', name, '--package-version', '1.0.0', '--target', 'config', ...gateways.flatMap((g) => ['--gateway', g]), ...files.flatMap((f) => ['--file', f]), '--out', unsigned]);
  assert.equal(pack.code, 0, pack.stderr);
  const signer = await codeSigner();
  const sign = await erab(['update', 'sign', '--in', unsigned, '--cert', signer.cert, '--key', signer.key, '--out', signed]);
  assert.equal(sign.code, 0, sign.stderr);
  return signed;
}

/** `openadr vtn|ven --operator-listen ... --operator <id>...`: each named operator, and only they, get /healthz. */
async function operatorCase(tool: 'vtn' | 'ven'): Promise<void> {
  for (const allowed of [['alice'], ['alice', 'MAIL1']]) {
    const common = ['--ca', caFile, '--operator-listen', '127.0.0.1:0', ...allowed.flatMap((id) => ['--operator', id])];
    const args = tool === 'vtn'
      ? ['openadr', 'vtn', '--cert', f('TSO1').cert, '--key', f('TSO1').key, '--listen', '127.0.0.1:0', '--store', join(root, `op-vtn-${allowed.length}.db`), '--allow', 'aggregator:AGG1', ...common]
      : ['openadr', 'ven', '--cert', f('AGG1').cert, '--key', f('AGG1').key, '--vtn-url', 'https://127.0.0.1:9', '--store', join(root, `op-ven-${allowed.length}.db`), ...common];
    const running = await erabRunning(args, /health and metrics on (https:\/\/127\.0\.0\.1:\d+)\/metrics/);
    try {
      const url = running.match[1] as string;
      for (const id of ['alice', 'MAIL1']) {
        assert.equal(await healthAnswers(url, id), allowed.includes(id), `openadr ${tool} --operator ${allowed.join(' --operator ')}: ${id}`);
      }
    } finally {
      await running.stop();
    }
  }
}

/** `incident act <id> safe-mode --gateway <url>...`: every named gateway's operator endpoint is asked, and only they. */
async function incidentCase(): Promise<void> {
  const desk = ['--db', join(root, 'incidents.db'), '--audit-dir', join(root, 'incidents-audit')];
  const opened = await erab(['incident', 'open', '--title', 'repeatable --gateway', '--severity', 'high', '--operator', 'alice', '--json', ...desk]);
  assert.equal(opened.code, 0, opened.stderr);
  const id = String((JSON.parse(opened.stdout) as { id: number }).id);
  for (const n of [1, 2]) {
    const gws = [await fakeOperatorApi('GW1'), await fakeOperatorApi('GW2')];
    try {
      const given = gws.slice(0, n);
      const r = await erab(['incident', 'act', id, 'safe-mode', ...given.flatMap((g) => ['--gateway', g.url]), '--reason', 'drill', '--operator', 'alice',
        '--cert', f('alice').cert, '--key', f('alice').key, '--ca', caFile, ...desk]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      gws.forEach((g, i) => assert.deepEqual(g.paths, i < n ? ['POST /safe-mode'] : [], `--gateway given ${n}×: gateway ${i + 1}`));
    } finally {
      for (const g of gws) await g.close();
    }
  }
}

/**
 * `--previous-kek-file` (privacy rotate-key, portfolio import and export): the data keys are under
 * k1, then k2; an unrelated key first and the right one second only works when the second value is read.
 */
async function previousKekCase(): Promise<void> {
  const d = join(root, 'kek');
  mkdirSync(d, { recursive: true });
  const key = async (name: string): Promise<string> => {
    const file = join(d, `${name}.key`);
    const r = await erab(['privacy', 'new-kek', '--out', file]);
    assert.equal(r.code, 0, r.stderr);
    return file;
  };
  const [k1, k2, k3, kx] = [await key('k1'), await key('k2'), await key('k3'), await key('kx')];
  const db = join(d, 'aggregator.db');
  const audit = join(d, 'audit');
  AuditLog.open({ dir: audit, origin: 'erab.test/repeatable/kek' }).close();
  const policy = join(d, 'policy.json');
  writeFileSync(policy, JSON.stringify({ operators: { alice: ['export'] } }));
  const csv = (id: string): string => {
    const file = join(d, `${id}.csv`);
    writeFileSync(file, `resource_id,site_id,site_name,tso_area,site_address,class,name,capacity_w,capacity_wh\nbat-${id},${id},Household ${id},tokyo,"1-1 Taito",battery,Battery,5000,9800\n`);
    return file;
  };
  assert.equal((await erab(['aggregator', 'portfolio', 'import', csv('s1'), '--db', db, '--kek-file', k1])).code, 0);
  // rotate-key: the old key given second.
  assert.equal((await erab(['privacy', 'rotate-key', '--db', db, '--kek-file', k2, '--previous-kek-file', kx])).code, 1, 'an unrelated previous key cannot unwrap');
  const rot = await erab(['privacy', 'rotate-key', '--db', db, '--kek-file', k2, '--previous-kek-file', kx, '--previous-kek-file', k1]);
  assert.equal(rot.code, 0, rot.stderr);
  // export under a new current key: the data keys are under k2, given second.
  const exp = (prev: string[]): Promise<Run> => erab(['aggregator', 'portfolio', 'export', '--db', db, '--kek-file', k3, ...prev.flatMap((p) => ['--previous-kek-file', p]),
    '--audit-dir', audit, '--access-policy', policy, '--operator', 'alice', '--purpose', 'repeatable option check']);
  assert.equal((await exp([kx])).code, 1);
  const both = await exp([kx, k2]);
  assert.equal(both.code, 0, both.stderr);
  assert.match(both.stdout, /Household s1/);
  // import under k3 while the data keys are under k2, given second.
  assert.notEqual((await erab(['aggregator', 'portfolio', 'import', csv('s2'), '--db', db, '--kek-file', k3, '--previous-kek-file', kx])).code, 0);
  const imp = await erab(['aggregator', 'portfolio', 'import', csv('s3'), '--db', db, '--kek-file', k3, '--previous-kek-file', kx, '--previous-kek-file', k2]);
  assert.equal(imp.code, 0, imp.stderr);
}

const cases: Case[] = [
  { covers: ['aggregator portfolio export --previous-kek-file', 'aggregator portfolio import --previous-kek-file', 'privacy rotate-key --previous-kek-file'], run: () => previousKekCase() },
  { covers: ['incident act --gateway'], run: () => incidentCase() },
  { covers: ['openadr vtn --operator'], run: () => operatorCase('vtn') },
  { covers: ['openadr ven --operator'], run: () => operatorCase('ven') },
  { covers: ['device site --peer'], run: () => deviceCase('site', '127.3.9.2') },
  { covers: ['device sites --peer'], run: () => deviceCase('sites', '127.3.9.10') },
  {
    covers: ['pki issue --dns', 'pki issue --ip'],
    async run() {
      const dir = join(root, 'pki');
      assert.equal((await erab(['pki', 'init', '--dir', dir])).code, 0);
      for (const [n, dns, ip] of [[1, ['a.example'], ['127.0.0.5']], [2, ['a.example', 'b.example'], ['127.0.0.5', '127.0.0.6']]] as const) {
        const r = await erab(['pki', 'issue', '--dir', dir, '--role', 'tso', '--id', `T${n}`, ...dns.flatMap((d) => ['--dns', d]), ...ip.flatMap((a) => ['--ip', a])]);
        assert.equal(r.code, 0, r.stderr);
        const file = /certificate\s+(\S+)/.exec(r.stdout)?.[1] as string;
        const san = new X509Certificate(readFileSync(file)).subjectAltName ?? '';
        for (const d of dns) assert.match(san, new RegExp(`DNS:${d.replace('.', '\\.')}`), `--dns given ${n}×: ${san}`);
        for (const a of ip) assert.ok(san.includes(`IP Address:${a}`), `--ip given ${n}×: ${san}`);
        assert.doesNotMatch(san, /localhost/, 'the given names replace the default');
      }
    },
  },
  {
    covers: ['audit verify --checkpoint'],
    async run() {
      const dir = join(root, 'audit');
      const log = AuditLog.open({ dir, origin: 'erab.test/repeatable/audit', checkpointEvery: 4 });
      for (let i = 0; i < 10; i++) log.append({ actor: { kind: 'system', id: 't' }, action: 'test.record', outcome: 'success', details: { i } });
      const key = log.verifierKey;
      log.close();
      const kept = join(root, 'kept.note');
      writeFileSync(kept, readFileSync(join(dir, 'checkpoints.txt')));
      const once = await erab(['audit', 'verify', '--dir', dir, '--key', key, '--checkpoint', kept]);
      assert.equal(once.code, 0, once.stderr);
      // The second value is read too: a missing second file is named.
      const missing = join(root, 'second-missing.note');
      const twice = await erab(['audit', 'verify', '--dir', dir, '--key', key, '--checkpoint', kept, '--checkpoint', missing]);
      assert.equal(twice.code, 1, twice.stdout);
      assert.ok(twice.stderr.includes(`--checkpoint ${missing}: cannot read`), twice.stderr);
    },
  },
  {
    covers: ['audit verify --witness', 'audit verify --witness-key'],
    async run() {
      // One log, cosigned by two witnesses; each --witness is checked against its own --witness-key.
      const dir = join(root, 'audit-witnessed');
      const log = AuditLog.open({ dir, origin: 'erab.test/gateway-GW9/audit', checkpointEvery: 5, checkpointIntervalMs: 0 });
      for (let i = 0; i < 5; i++) log.append({ actor: { kind: 'system', id: 't' }, action: 'test.record', outcome: 'success', details: { i } });
      const note = log.latestCheckpoint!.note;
      const vkey = log.verifierKey;
      log.close();
      const peer = { id: 'GW9', role: 'gateway', fingerprint: '00:11:22:33:44:55:66:77:88:99' };
      const witnesses = ['W1', 'W2'].map((w) => {
        const witness = AuditWitness.open({ dir: join(root, `witness-${w}`), name: `erab.test/${w}/witness`, audit: new MemoryAuditSink() });
        assert.equal(witness.registerLogKey(peer, vkey).status, 200);
        assert.equal(witness.addCheckpoint(peer, formatAddCheckpointRequest({ oldSize: 0, proof: [], note })).status, 200);
        return { file: witness.checkpointFile('gateway-GW9'), key: witness.verifierKey };
      });
      const [w1, w2] = witnesses as [{ file: string; key: string }, { file: string; key: string }];
      const once = await erab(['audit', 'verify', '--dir', dir, '--witness', w1.file, '--witness-key', w1.key]);
      assert.equal(once.code, 0, once.stderr);
      assert.match(once.stdout, /cosigned by erab\.test\/W1\/witness/);
      const twice = await erab(['audit', 'verify', '--dir', dir, '--witness', w1.file, '--witness', w2.file, '--witness-key', w1.key, '--witness-key', w2.key]);
      assert.equal(twice.code, 0, twice.stderr);
      assert.match(twice.stdout, /cosigned by erab\.test\/W1\/witness/);
      assert.match(twice.stdout, /cosigned by erab\.test\/W2\/witness/);
      // The second key is used too: with only W1's key, W2's cosignature cannot be checked.
      const wrongKeys = await erab(['audit', 'verify', '--dir', dir, '--witness', w2.file, '--witness-key', w1.key, '--witness-key', w1.key]);
      assert.equal(wrongKeys.code, 1, wrongKeys.stdout);
    },
  },
  ...(['tso', 'retailer'] as const).map((kind): Case => ({
    covers: [`${kind} dispatch --kw`, `${kind} dispatch --to`],
    async run() {
      const api = await fakeOperatorApi();
      try {
        const common = [kind, 'dispatch', '--api', api.url, '--cert', f('alice').cert, '--key', f('alice').key, '--ca', caFile,
          '--product', kind === 'tso' ? 'tertiary2' : 'dr', '--direction', 'reduce', '--start', '2026-01-15T09:00:00Z', '--json'];
        const once = await erab([...common, '--kw', '5', '--to', 'AGG1']);
        assert.equal(once.code, 0, once.stderr);
        const twice = await erab([...common, '--periods', '2', '--kw', '5', '--kw', '7', '--to', 'AGG1', '--to', 'AGG2']);
        assert.equal(twice.code, 0, twice.stderr);
        const [b1, b2] = api.bodies as { quantityKw: unknown; to: unknown }[];
        assert.deepEqual([b1?.quantityKw, b1?.to], [5, ['AGG1']], 'one --kw is one quantity');
        assert.deepEqual([b2?.quantityKw, b2?.to], [[5, 7], ['AGG1', 'AGG2']]);
      } finally {
        await api.close();
      }
    },
  })),
  { covers: ['openadr vtn --allow'], run: () => vtnAllowCase('--allow') },
  { covers: ['openadr vtn --allow-fingerprint'], run: () => vtnAllowCase('--allow-fingerprint') },
  {
    covers: ['openadr ven --push-allow'],
    async run() {
      for (const allowed of [['TSO1'], ['TSO1', 'TSO2']]) {
        // No VTN listens at --vtn-url: the VEN keeps retrying in the background; its push endpoint is up.
        const ven = await erabRunning([
          'openadr', 'ven', '--cert', f('AGG1').cert, '--key', f('AGG1').key, '--ca', caFile, '--vtn-url', 'https://127.0.0.1:9',
          '--store', join(root, `ven-${allowed.length}.db`), '--push-listen', '127.0.0.1:0', ...allowed.flatMap((id) => ['--push-allow', `tso:${id}`]),
        ], /push endpoint (https:\/\/127\.0\.0\.1:\d+)/);
        try {
          const url = ven.match[1] as string;
          for (const id of ['TSO1', 'TSO2']) {
            assert.equal(await reaches(url, id), allowed.includes(id), `openadr ven --push-allow ${allowed.join(',')}: ${id}`);
          }
        } finally {
          await ven.stop();
        }
      }
    },
  },
  {
    covers: ['compliance controls --role'],
    async run() {
      for (const roles of [ONE_ROLE, TWO_ROLES]) {
        const r = await erab(['compliance', 'controls', '--participant', 'AGG1', ...roleArgs(roles), '--json']);
        assert.equal(r.code, 0, r.stderr);
        assertRolesReached((JSON.parse(r.stdout) as { id: string }[]).map((c) => c.id), roles, 'compliance controls');
      }
    },
  },
  {
    covers: ['compliance status --role'],
    async run() {
      const profile = complianceProfile();
      for (const roles of [ONE_ROLE, TWO_ROLES]) {
        const status = await complianceStatus(profile, join(root, `compliance-status-${roles.length}.db`), roles);
        assertRolesReached(status.controls.map((c) => c.id), roles, 'compliance status');
      }
    },
  },
  {
    covers: ['compliance report --role'],
    async run() {
      const profile = complianceProfile();
      for (const roles of [ONE_ROLE, TWO_ROLES]) {
        const out = join(root, `compliance-report-${roles.length}`);
        const r = await erab(['compliance', 'report', '--profile', profile, '--store', join(root, `compliance-report-${roles.length}.db`), ...roleArgs(roles), '--out', out]);
        assert.equal(r.code, 0, r.stderr);
        const ssp = (JSON.parse(readFileSync(join(out, 'ssp.json'), 'utf8')) as { 'system-security-plan': {
          'system-characteristics': { props: { name: string; value: string }[] };
          'control-implementation': { 'implemented-requirements': { 'control-id': string }[] };
        } })['system-security-plan'];
        assert.deepEqual(ssp['system-characteristics'].props.filter((p) => p.name === 'role').map((p) => p.value), roles, 'the roles the SSP declares');
        assertRolesReached(ssp['control-implementation']['implemented-requirements'].map((x) => x['control-id']), roles, 'compliance report ssp.json');
      }
    },
  },
  {
    covers: ['compliance decide --role'],
    async run() {
      // A decision on a control that does not apply to the declared roles is refused.
      const profile = complianceProfile();
      const decide = (store: string, roles: string[], control: string): Promise<Run> => erab(['compliance', 'decide', '--profile', profile, '--store', store, ...roleArgs(roles),
        '--control', control, '--kind', 'implemented-by-process', '--reference', 'SEC-ORG-001 体制規程 v3', '--approver', 'Sato', '--review', '2099-12-01']);
      const one = join(root, 'compliance-decide-1.db');
      const tsoOwn = await decide(one, ONE_ROLE, TSO_ONLY);
      assert.equal(tsoOwn.code, 0, tsoOwn.stderr);
      const refused = await decide(one, ONE_ROLE, 'erab-3.4.1');
      assert.equal(refused.code, 1, refused.stdout);
      assert.match(refused.stderr, /decision on erab-3\.4\.1 refused: it does not apply to this operator \(roles tso, no 区分 declared; it is for aggregator\)/);

      const two = join(root, 'compliance-decide-2.db');
      for (const control of [TSO_ONLY, 'erab-3.4.1']) {
        const r = await decide(two, TWO_ROLES, control);
        assert.equal(r.code, 0, `decide ${control} with ${roleArgs(TWO_ROLES).join(' ')}: ${r.stderr}`);
        assert.match(r.stdout, new RegExp(`decision \\d+ recorded for ${control.replace(/\./g, '\\.')}`));
      }
      const status = await complianceStatus(profile, two, TWO_ROLES);
      assert.equal(status.controls.find((c) => c.id === 'erab-3.4.1')?.status, 'implemented-by-process', 'the decision is kept');
    },
  },
  {
    covers: ['compliance watch --role'],
    async run() {
      // What a watch run keeps: a later status with both roles finds nothing new only when the
      // watch assessed both roles' controls; after a TSO-only watch the aggregator's are new.
      const profile = complianceProfile();
      for (const roles of [ONE_ROLE, TWO_ROLES]) {
        const store = join(root, `compliance-watch-${roles.length}.db`);
        const watch = await erabRunning(['compliance', 'watch', '--profile', profile, '--store', store, ...roleArgs(roles)], /run (\d+): (\d+) 勧告 item\(s\) failing/);
        await watch.stop();
        const later = await complianceStatus(profile, store, TWO_ROLES);
        const added = later.changes.filter((c) => c.from === '(not assessed)').map((c) => c.controlId);
        assert.equal(added.includes(TSO_ONLY), !roles.includes('tso'), `after watch ${roleArgs(roles).join(' ')}: ${JSON.stringify(later.changes)}`);
        assert.equal(added.includes(AGGREGATOR_ONLY), !roles.includes('aggregator'), `after watch ${roleArgs(roles).join(' ')}: ${JSON.stringify(later.changes)}`);
        if (roles === TWO_ROLES) {
          assert.deepEqual(later.changes, [], 'the watch run assessed every control of both roles');
          assert.equal(Number(watch.match[2]), later.failingKankoku.length, 'the watch run counted the 勧告 items of both roles');
        }
      }
    },
  },
  {
    covers: ['notify send --site'],
    async run() {
      const smtp = await startSmtp(world, 'MAIL1');
      try {
        const db = join(root, 'notify.db');
        const address = (site: string): string => `owner@${site.toLowerCase()}.example.jp`;
        for (const site of ['S1', 'S2', 'S3']) {
          const r = await erab(['notify', 'contacts', 'add', '--db', db, '--participant', 'AGG1', '--site', site, '--name', `Owner ${site}`, '--role', 'owner', '--email', address(site)]);
          assert.equal(r.code, 0, r.stderr);
        }
        const config = join(root, 'notify.json');
        writeFileSync(config, JSON.stringify({
          smtp: { host: '127.0.0.1', port: smtp.port, servername: 'localhost', from: 'security@agg1.example.jp', caFile, user: SMTP_USER, passwordEnv: 'TEST_SMTP_PASSWORD' },
        }));
        const data = join(root, 'advisory.json');
        writeFileSync(data, JSON.stringify(advisory.data));
        for (const sites of [['S1'], ['S1', 'S2']]) {
          const before = smtp.mails.length;
          const r = await erab(['notify', 'send', '--config', config, '--data', data, '--db', db, ...sites.flatMap((s) => ['--site', s])], { TEST_SMTP_PASSWORD: SMTP_PASS });
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stdout, new RegExp(`to ${sites.length} recipients: ${sites.length} of ${sites.length} deliveries done`));
          assert.deepEqual(smtp.mails.slice(before).map((m) => m.to.join(',')).sort(), sites.map(address), `notify send ${sites.map((s) => `--site ${s}`).join(' ')}: mail for each site, none for S3`);
        }
      } finally {
        await smtp.close();
      }
    },
  },
  {
    covers: ['update pack --file', 'update pack --gateway'],
    async run() {
      const files = ['gateway-a.json', 'gateway-b.json'].map((n, i) => {
        const file = join(root, n);
        writeFileSync(file, JSON.stringify({ part: i }));
        return file;
      });
      for (const n of [1, 2]) {
        const gateways = ['GW1', 'GW2'].slice(0, n);
        const signed = await signedConfigPackage(`config-${n}`, files.slice(0, n), gateways);
        // As a gateway would check it: every file is in the signed manifest, the target names every gateway.
        const verify = await erab(['update', 'verify', '--in', signed, '--ca', caFile, '--aggregator', 'AGG1']);
        assert.equal(verify.code, 0, verify.stderr);
        assert.ok(verify.stdout.includes(`for ${JSON.stringify({ kind: 'config', gatewayIds: gateways })}, signed by aggregator:AGG1`), `--gateway given ${n}×: ${verify.stdout}`);
        assert.match(verify.stdout, new RegExp(`, ${n} file\\(s\\), sha256`), `--file given ${n}×`);
        const unsigned = JSON.parse(readFileSync(join(root, `config-${n}.unsigned.json`), 'utf8')) as { files: Record<string, string> };
        assert.deepEqual(Object.entries(unsigned.files).map(([name, b64]) => [name, Buffer.from(b64, 'base64').toString('utf8')]),
          files.slice(0, n).map((f, i) => [f.slice(root.length + 1), JSON.stringify({ part: i })]), `--file given ${n}×: each file packed`);
      }
    },
  },
  {
    covers: ['update publish --gateway'],
    async run() {
      const file = join(root, 'gateway-publish.json');
      writeFileSync(file, '{"part":"publish"}');
      const signed = await signedConfigPackage('publish', [file], []);
      for (const gateways of [['GW1'], ['GW1', 'GW2']]) {
        const dir = join(root, `updates-${gateways.length}`);
        const r = await erab(['update', 'publish', '--in', signed, '--dir', dir, '--ca', caFile, '--aggregator', 'AGG1', ...gateways.flatMap((g) => ['--gateway', g])]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`published publish@1\\.0\\.0 to ${gateways.join(', ')} `));
        const offers = JSON.parse(readFileSync(join(dir, 'offers.json'), 'utf8')) as { offers: { packageId: string; gateways?: string[] }[] };
        assert.deepEqual(offers.offers.map((o) => [o.packageId, o.gateways]), [['publish', gateways]], `--gateway given ${gateways.length}×: the offer names every gateway`);
      }
    },
  },
];

test('the repeatable options found in the commander tree are exactly the ones covered here', () => {
  const covered = cases.flatMap((c) => c.covers).sort();
  assert.deepEqual(repeatableOptions(), covered, 'a repeatable option was added or removed: cover it with a case that runs the real command');
});

for (const c of cases) {
  test(`${c.covers.join(', ')}: given once and twice, every value reaches the real command`, { timeout: 120_000 }, () => c.run());
}
