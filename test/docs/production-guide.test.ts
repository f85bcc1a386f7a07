/**
 * docs/production.md, run as written: every configuration file it shows is written, every command
 * block it marks is run by /bin/sh with `erab` on the PATH (bin/erab.js, the installed launcher),
 * on loopback. Only the places change: the documentation addresses become 127.x addresses, the
 * ports free ones, /etc/erab and /var/lib/erab a temporary folder, the database URL a fresh
 * PostgreSQL database, and the example dispatch start the next block far enough ahead. It ends
 * with both gateways' devices admitted and online at the aggregator, a fleet command approved by a
 * second operator and delivered by the batteries, and the TSO's dispatch held by the aggregator.
 *
 * Devices are admitted both ways the guide explains: gw1's by its admission allow-list
 * (configuration, for devices known before installation), gw2's by an operator at the aggregator —
 * `erab aggregator devices --state pending` lists them, `erab aggregator admit` relays each
 * decision to the gateway, and the gateway's next inventory shows them admitted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort, waitFor } from '../kit/index.js';
import { freshDatabase, postgresUnreachable } from '../store/harness.js';
import { formatJst, komaCeil } from '../../src/core/jst.js';
import { guideSteps, type GuideStep } from './guide-blocks.js';
import { guideWaits } from './guide-waits.js';
import { sh, type Ran } from './shell.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const guide = readFileSync(join(repo, 'docs/production.md'), 'utf8');

test('the guide\'s steps parse: files, commands, services and waits in order', () => {
  const steps = guideSteps(guide);
  const kinds = (k: GuideStep['kind']) => steps.filter((s) => s.kind === k).map((s) => s.arg);
  assert.deepEqual(kinds('service'), ['tso', 'aggregator', 'device1', 'device2', 'gw1', 'gw2']);
  assert.deepEqual(kinds('file'), ['/etc/erab/tso.json', '/etc/erab/portfolio.json', '/etc/erab/aggregator.json', '/etc/erab/gateway.json', '/etc/erab/gateway2.json']);
  assert.deepEqual(kinds('wait'), ['gw2-pending', 'gw2-admitted', 'aggregator-online', 'tso-registered', 'delivered', 'tso-event-at-aggregator']);
  // Every configuration path is absolute (the guide's point: nothing relative to the working directory).
  for (const f of steps.filter((s) => s.kind === 'file' && s.arg.endsWith('.json'))) {
    const paths = [...f.body.matchAll(/"(?:certFile|keyFile|caFile|crlFile|certificateFile|database|dir|url)": "([^"]+)"/g)].map((m) => m[1]!);
    for (const p of paths) assert.match(p, /^(\/|postgres:\/\/)/, `${f.arg}: ${p} is not absolute`);
  }
  assert.throws(() => guideSteps('<!-- guide:run -->\ntext\n'), /must be followed by a fenced block/);
});

test('docs/production.md brings up a TSO, an aggregator on PostgreSQL and two gateways; devices online; a dispatch delivered', { timeout: 600_000 }, async (t) => {
  if (postgresUnreachable) {
    if (process.env.CI) assert.fail(`PostgreSQL unreachable under CI: ${postgresUnreachable}`);
    t.skip(`PostgreSQL unreachable: ${postgresUnreachable}`);
    return;
  }
  const root = mkdtempSync(join(tmpdir(), 'erab-guide-'));
  const db = await freshDatabase('erab_guide_');
  const net = 100 + Math.floor(Math.random() * 100);
  const ports = new Map<string, number>();
  for (const p of ['8443', '9443', '8444', '9444']) ports.set(p, await freeLoopbackPort());
  // The TSO's example start, moved to the first block that leaves tertiary1's 15 minutes of lead time
  // when the dispatch step runs (minutes after the test began: computed then, not at the start).
  let start = '';
  const dispatchStart = (): string => (start ||= formatJst(komaCeil(Date.now() + 16 * 60_000)));
  let commandId = '';
  const adapt = (text: string): string => {
    let s = text.replaceAll('postgres://erab@192.0.2.30:5432/erab_aggregator', db.url)
      .replaceAll('/etc/erab', join(root, 'etc/erab'))
      .replaceAll('/var/lib/erab', join(root, 'var/lib/erab'))
      .replace(/192\.0\.2\.\d+/g, '127.0.0.1')
      .replaceAll('192.168.10.', `127.${net}.10.`)
      .replaceAll('192.168.20.', `127.${net}.20.`)
      .replaceAll('2026-12-07T18:00:00+09:00', text.includes('2026-12-07T18:00:00+09:00') ? dispatchStart() : '')
      .replaceAll('<command-id>', commandId);
    for (const [from, to] of ports) s = s.replace(new RegExp(`\\b${from}\\b`, 'g'), String(to));
    return s;
  };
  // `erab` as an installed launcher would be: bin/erab.js on the PATH.
  const bin = join(root, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'erab'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(repo, 'bin/erab.js'))} "$@"\n`);
  chmodSync(join(bin, 'erab'), 0o755);
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, ERAB_LOG_LEVEL: 'warn', LANG: 'C.UTF-8', LC_ALL: '' };

  const services = new Map<string, ChildProcess & { out: string; err: string }>();
  const serviceLog = () => [...services].map(([n, p]) => `--- ${n} (exit ${p.exitCode}):\n${p.err.slice(-1500)}`).join('\n');
  const run = async (step: GuideStep, extra = ''): Promise<Ran> => {
    const r = await sh(adapt(step.body).trimEnd() + extra, root, env);
    return r;
  };
  // gw2's devices as the operator saw them pending (id → revision), before admitting them.
  const pendingGw2 = new Map<string, number>();
  const waits = guideWaits({ pendingGw2, commandId: () => commandId });
  try {
    for (const step of guideSteps(guide)) {
      const where = `docs/production.md:${step.line}`;
      if (step.kind === 'file') {
        const file = adapt(step.arg);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, adapt(step.body));
      } else if (step.kind === 'run') {
        const r = await run(step);
        assert.equal(r.code, 0, `${where} failed: ${r.err}\n${r.out}\n${serviceLog()}`);
        const held = /command ([0-9a-f-]{36}) held/.exec(r.out);
        if (held) commandId = held[1]!;
        if (step.body.includes('<command-id>')) assert.match(r.out, new RegExp(`command ${commandId} executed: 2\\.0 kW allocated, 0\\.0 kW short`), where);
        if (step.body.includes('erab aggregator admit')) {
          // One decision sent per pending device of gw2, at the revision the operator saw.
          const sent = [...r.out.matchAll(/^admission of device (\S+) \(revision (\d+)\) sent to gateway GW2 as event \S+/gm)].map((m) => [m[1]!, Number(m[2])] as const);
          assert.deepEqual(new Map(sent), pendingGw2, `${where}: ${r.out}`);
          assert.equal(sent.length, pendingGw2.size, where);
        }
        if (step.body.includes('erab tso dispatch')) assert.match(r.out, new RegExp(`^dispatch \\S+ issued: tertiary1 reduce \\(下げ\\) to AGG1\\n[^]*${start.replace('+', '\\+')}`), where);
      } else if (step.kind === 'service') {
        const cmd = adapt(step.body).trim();
        assert.ok(!cmd.includes('\n'), `${where}: a service is one command`);
        const p = spawn('/bin/sh', ['-c', `exec ${cmd}`], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & { out: string; err: string };
        p.out = '';
        p.err = '';
        p.stdout!.on('data', (c: Buffer) => { p.out += c.toString(); });
        p.stderr!.on('data', (c: Buffer) => { p.err += c.toString(); });
        services.set(step.arg, p);
        // Each role says it is ready (a JSON line) or, for the simulator, prints its node.
        await waitFor(`${step.arg} started`, () => {
          if (p.exitCode !== null) throw new Error(`${where}: ${step.arg} exited with ${p.exitCode}: ${p.err.slice(-2000)}`);
          return /^\{"(ready|address)"/m.test(p.out);
        }, 90_000);
      } else {
        const check = waits[step.arg];
        assert.ok(check, `${where}: no condition for wait ${step.arg}`);
        let last: Ran | undefined;
        await waitFor(`${where} (${step.arg})`, async () => {
          last = await run(step);
          if (last.code !== 0) return false;
          return check(last.out, async () => JSON.parse((await run(step, ' --json')).out));
        }, 240_000).catch((e: Error) => { throw new Error(`${e.message}\nlast output:\n${last?.out}\n${last?.err}\n${serviceLog()}`); });
      }
    }
    assert.ok(commandId, 'the fleet command was held for a second operator');
  } finally {
    for (const p of services.values()) if (p.exitCode === null) p.kill('SIGTERM');
    await Promise.all([...services.values()].map((p) => (p.exitCode !== null ? undefined : new Promise<void>((resolve) => {
      const k = setTimeout(() => p.kill('SIGKILL'), 20_000);
      p.once('exit', () => { clearTimeout(k); resolve(); });
    }))));
  }
  // Each role stopped cleanly (SIGTERM → exit 0) and its audit log verifies.
  for (const [name, p] of services) assert.equal(p.exitCode, 0, `${name} stopped with ${p.exitCode}: ${p.err.slice(-1500)}`);
  for (const dir of ['tso/audit', 'aggregator/audit', 'gateway/audit', 'gateway2/audit']) {
    const r = await sh(`erab audit verify --dir ${join(root, 'var/lib/erab', dir)}`, root, env);
    assert.equal(r.code, 0, `${dir}: ${r.out}${r.err}`);
  }
  await db.drop();
  rmSync(root, { recursive: true, force: true });
});
