/**
 * `erab aggregator run --config <file>` as a supervised child process (as `erab demo` starts
 * it): ready with its downstream port, status messages, a gateway registering over mutual TLS,
 * a clean stop with the audit log written; and a bad configuration failing with exit code 1 and
 * a message naming the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../../src/core/clock.js';
import { Ven } from '../../../src/protocols/openadr/ven.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { pkiWorld } from '../../kit/index.js';
import { TlsMaterial } from '../../../src/security/tls.js';
import { Supervisor } from '../../../src/roles/common/supervisor.js';
import { vtnTransport } from '../../../src/endpoints/openadr/ven-endpoint.js';

const launcher = fileURLToPath(new URL('./runtime-cli-child.js', import.meta.url));

test('cli: aggregator run reports ready and status, admits an allow-listed gateway, stops cleanly', { timeout: 60_000 }, async () => {
  const pki = await pkiWorld({ agg: 'aggregator:AGG1', gw: 'gateway:GW1' }, { prefix: 'erab-agg-cli-', flatFiles: true });
  const dir = pki.dir; // holds ca.pem, agg.pem, agg.key (flatFiles)
  const ca = { certPem: pki.caPem };
  const { gw } = pki.certs;
  const config = join(dir, 'aggregator.json');
  writeFileSync(config, JSON.stringify({
    id: 'AGG1',
    tls: { certFile: join(dir, 'agg.pem'), keyFile: join(dir, 'agg.key'), caFile: join(dir, 'ca.pem') },
    store: { url: join(dir, 'aggregator.db') },
    audit: { dir: join(dir, 'audit') },
    downstream: { port: 0, allowList: { participants: ['gateway:GW1'] }, pollIntervalMs: 200 },
    statusIntervalMs: 100,
  }));
  const sup = new Supervisor();
  const statuses: Record<string, unknown>[] = [];
  sup.on('status', (_name: string, s: Record<string, unknown>) => statuses.push(s));
  let ven: Ven | undefined;
  try {
    const p = await sup.start('aggregator', ['node', 'erab', 'aggregator', 'run', '--config', config].slice(2), { modulePath: launcher, env: { ERAB_LOG_LEVEL: 'warn' } });
    const port = p.info.downstreamPort as number;
    assert.ok(port > 0);
    assert.equal(p.info.id, 'AGG1');
    // A gateway registers with the child's VTN over mutual TLS.
    const material = await TlsMaterial.fromPem({ credentials: [{ certPem: gw.certPem, keyPem: gw.keyPem }], caPem: ca.certPem });
    ven = new Ven({ venName: 'GW1', transport: vtnTransport({ vtnUrl: `https://127.0.0.1:${port}`, material: material, profile: 'R4', expectVtn: { role: 'aggregator', id: 'AGG1' }, audit: new MemoryAuditSink() }), clock: systemClock });
    await ven.register();
    assert.equal(ven.registration?.venID, 'GW1');
    const deadline = Date.now() + 10_000;
    while (!statuses.some((s) => Array.isArray(s.gateways) && (s.gateways as { venId: string }[]).some((g) => g.venId === 'GW1'))) {
      assert.ok(Date.now() < deadline, 'status shows the registered gateway');
      await new Promise((r) => setTimeout(r, 50));
    }
    const last = statuses.at(-1)!;
    assert.equal(last.id, 'AGG1');
    assert.deepEqual(last.events, []);
  } finally {
    ven?.stop();
    await sup.stopAll();
  }
  // The tamper-evident audit log was written (start and stop records, closed with a checkpoint).
  assert.ok(existsSync(join(dir, 'audit')));
  assert.ok(readdirSync(join(dir, 'audit')).length > 0);
  rmSync(dir, { recursive: true, force: true });
});

test('cli: aggregator run with an invalid configuration exits 1 naming the field', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-agg-cli-'));
  const config = join(dir, 'bad.json');
  writeFileSync(config, JSON.stringify({ id: 'AGG1', tls: { certFile: 'a', keyFile: 'b', caFile: 'c' }, closedLoop: { intervalMs: 1 } }));
  const child = fork(launcher, ['aggregator', 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 1);
  assert.match(stderr, /closedLoop\.intervalMs/);
  assert.match(stderr, /bad\.json/);
  rmSync(dir, { recursive: true, force: true });
});
