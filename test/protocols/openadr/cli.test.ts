/**
 * `erab openadr vtn` and `erab openadr ven` as separate processes over real mutual TLS: the VEN
 * registers, gets the --event, answers it, reports; --log-xml prints payloads with signature values
 * redacted; SIGTERM stops both cleanly; a missing allow-list is a usage error (exit 2).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pkiWorld, waiter, type PkiWorld } from '../../kit/index.js';

const mainJs = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
let dir = '';
let world: PkiWorld | undefined;

function erab(args: string[]): ChildProcess & { out: string; err: string } {
  const p = spawn(process.execPath, ['--input-type=module', '-e', `import { main } from ${JSON.stringify(mainJs)}; process.exitCode = await main(['node', 'erab', ...process.argv.slice(1)]);`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & { out: string; err: string };
  p.out = '';
  p.err = '';
  p.stdout?.on('data', (d: Buffer) => { p.out += d.toString(); });
  p.stderr?.on('data', (d: Buffer) => { p.err += d.toString(); });
  return p;
}

/** The kit's waitFor, showing the tail of the processes' output on timeout. */
const until = (what: string, cond: () => boolean, procs: { out: string; err: string }[], ms = 120_000): Promise<unknown> =>
  waiter({ timeoutMs: ms, intervalMs: 50, context: () => procs.map((p) => p.out + p.err).join('\n----\n').slice(-4000) })(what, cond);

const exited = (p: ChildProcess): Promise<number | null> => new Promise((r) => (p.exitCode !== null ? r(p.exitCode) : p.once('exit', (c) => r(c))));

before(async () => {
  world = await pkiWorld({ vtn: 'tso:TSO1', ven: 'aggregator:AGG1' }, { prefix: 'erab-openadr-cli-', flatFiles: true });
  dir = world.dir;
});
after(() => world?.close());

test('erab openadr vtn + ven: registration, event, opt, reports, --log-xml redacted, clean stop', async () => {
  const vtn = erab(['openadr', 'vtn', '--cert', join(dir, 'vtn.pem'), '--key', join(dir, 'vtn.key'), '--ca', join(dir, 'ca.pem'),
    '--listen', '127.0.0.1:0', '--store', join(dir, 'vtn.db'), '--vtn-id', 'TSO1', '--allow', 'aggregator:AGG1', '--poll-freq', '1', '--event', '25:60:30']);
  let ven: (ChildProcess & { out: string; err: string }) | undefined;
  try {
    await until('VTN listening', () => /listening on https:\/\/127\.0\.0\.1:\d+/.test(vtn.out), [vtn]);
    const url = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(vtn.out)?.[1] as string;
    ven = erab(['openadr', 'ven', '--cert', join(dir, 'ven.pem'), '--key', join(dir, 'ven.key'), '--ca', join(dir, 'ca.pem'), '--vtn-url', url,
      '--ven-name', 'AGG1', '--store', join(dir, 'ven.db'), '--expect-vtn', 'tso:TSO1', '--xml-signature', '--vtn-cert', join(dir, 'vtn.pem'),
      '--report-watts', '1200', '--log-xml']);
    const v = ven;
    await until('VEN registered', () => v.out.includes('registered as AGG1 with TSO1'), [vtn, v]);
    await until('event answered', () => /opt AGG1 \S+#0 optIn/.test(vtn.out), [vtn, v]);
    assert.match(v.out, /event \S+#0 (far|near) start /);
    assert.match(v.err, /--- VEN => EiRegisterParty/);
    assert.match(v.err, /<ds:SignatureValue>\[redacted\]<\/ds:SignatureValue>/);
    assert.doesNotMatch(v.err, /<ds:SignatureValue>[A-Za-z0-9+/=]{20,}/);
    assert.doesNotMatch(v.err + v.out, /PRIVATE KEY/);
    vtn.kill('SIGTERM');
    v.kill('SIGTERM');
    assert.equal(await exited(v), 0);
    assert.equal(await exited(vtn), 0);
  } finally {
    vtn.kill('SIGKILL');
    ven?.kill('SIGKILL');
  }
});

test('erab openadr vtn without an allow-list is a usage error (exit 2)', async () => {
  const p = erab(['openadr', 'vtn', '--cert', join(dir, 'vtn.pem'), '--key', join(dir, 'vtn.key'), '--ca', join(dir, 'ca.pem'), '--listen', '127.0.0.1:0', '--store', ':memory:']);
  assert.equal(await exited(p), 2);
  assert.match(p.err, /--allow/);
});
