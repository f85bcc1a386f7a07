/** `erab gateway ...` through the real CLI entry point (exit codes, messages, output). */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';
import { ManualClock } from '../../../src/core/clock.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { openStore } from '../../../src/store/store.js';
import { AdmissionRegistry } from '../../../src/roles/gateway/admission.js';
import { GATEWAY_DB_MIGRATIONS, SqlAdmissionStore } from '../../../src/roles/gateway/persistence.js';
import { switchRelease } from '../../../src/roles/gateway/software-release.js';

/** Runs the CLI capturing stdout and stderr. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string | Uint8Array) => { out += String(c); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => { err += String(c); return true; }) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'erab', ...args]);
    return { code, out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'erab-gw-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const base = {
  gatewayId: 'GW1',
  database: join(dir, 'gw.db'),
  tls: { certFile: 'gw.pem', keyFile: 'gw.key', caFile: 'ca.pem' },
  aggregator: { id: 'AGG1', vtnUrl: 'https://127.0.0.1:8443', certificateFile: 'agg.pem' },
};

function configFile(name: string, content: unknown): string {
  const f = join(dir, name);
  writeFileSync(f, JSON.stringify(content));
  return f;
}

test('gateway check prints the configuration with safe defaults filled in', async () => {
  const r = await run(['gateway', 'check', '--config', configFile('ok.json', base)]);
  assert.equal(r.code, 0, r.err);
  const cfg = JSON.parse(r.out);
  assert.equal(cfg.policy.failSafe.aggregatorTimeoutMs, 600_000);
  assert.equal(cfg.echonet.address, '127.0.0.1');
  assert.equal(cfg.security.maxClockSkewMs, 300_000);
  assert.equal(cfg.telemetry.powerScale, 'none');
});

test('gateway check: ERAB_* variables of the schema override the file; others (ERAB_LOG_LEVEL) are not mistaken for fields', async () => {
  process.env.ERAB_ECHONET__POLL_MS = '5000';
  process.env.ERAB_LOG_LEVEL = 'warn';
  try {
    const r = await run(['gateway', 'check', '--config', configFile('env.json', base)]);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).echonet.pollMs, 5000);
  } finally {
    delete process.env.ERAB_ECHONET__POLL_MS;
    delete process.env.ERAB_LOG_LEVEL;
  }
});

test('gateway check refuses a bad configuration, naming the file, the field and the rule (exit 1)', async () => {
  const http = await run(['gateway', 'check', '--config', configFile('http.json', { ...base, aggregator: { ...base.aggregator, vtnUrl: 'http://127.0.0.1:8080' } })]);
  assert.equal(http.code, 1);
  assert.match(http.err, /http\.json is invalid/);
  assert.match(http.err, /aggregator\.vtnUrl: must be an https:\/\/ URL/);
  const typo = await run(['gateway', 'check', '--config', configFile('typo.json', { ...base, policy: { classes: { battery: { socFloor: 20 } } } })]);
  assert.equal(typo.code, 1);
  assert.match(typo.err, /policy\.classes\.battery/);
  const missing = await run(['gateway', 'check', '--config', join(dir, 'nope.json')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /cannot read configuration file .*nope\.json/);
  const usage = await run(['gateway', 'check']);
  assert.equal(usage.code, 2);
});

test('gateway devices lists the allow-list from the gateway database', async () => {
  const none = await run(['gateway', 'devices', '--config', configFile('ok2.json', { ...base, database: join(dir, 'absent.db') })]);
  assert.equal(none.code, 1);
  assert.match(none.err, /no gateway database at/);

  const store = await openStore({ url: base.database, migrations: GATEWAY_DB_MIGRATIONS });
  const adm = await SqlAdmissionStore.open(store);
  const reg = new AdmissionRegistry(adm, new ManualClock(), new MemoryAuditSink());
  reg.observe({ address: '127.0.0.2', eoj: '027D01', class: 'battery', identity: { makerCode: 'FFFFFE', productCode: 'ERAB-SITE', serialNumber: 'S1' } });
  await adm.flush();
  await store.close();
  const r = await run(['gateway', 'devices', '--config', configFile('ok3.json', base)]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /027D01-[0-9a-f]{10}\s+battery\s+pending\s+rev 1\s+127\.0\.0\.2\s+maker FFFFFE product ERAB-SITE serial S1/);
  const j = await run(['gateway', 'devices', '--config', configFile('ok3.json', base), '--json']);
  assert.equal(JSON.parse(j.out)[0].state, 'pending');
});

test('gateway software-rollback points current back at the previous release and clears the pending switch; without updates.softwareDir it refuses', async () => {
  const sw = join(dir, 'software');
  for (const v of ['1.0.0', '1.1.0']) mkdirSync(join(sw, 'releases', v), { recursive: true });
  switchRelease(sw, '1.0.0', new Date());
  switchRelease(sw, '1.1.0', new Date());
  assert.ok(existsSync(join(sw, 'pending.json')));
  const r = await run(['gateway', 'software-rollback', '--config', configFile('sw.json', { ...base, updates: { softwareDir: sw } })]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /release 1\.1\.0 left; current is now 1\.0\.0/);
  assert.equal(readlinkSync(join(sw, 'current')), join('releases', '1.0.0'));
  assert.ok(!existsSync(join(sw, 'pending.json')));
  const none = await run(['gateway', 'software-rollback', '--config', configFile('nosw.json', base)]);
  assert.equal(none.code, 1);
  assert.match(none.err, /updates\.softwareDir is not set/);
});
