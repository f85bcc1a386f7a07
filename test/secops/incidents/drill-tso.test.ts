/**
 * Drills against a running TSO, composed as `erab tso run` composes it (detection attached
 * through src/cli/role-secops.ts): rogue-peer (a certificate from another CA at its R1),
 * revoked-gateway (a certificate of the deployment's CA, revoked at once) and forged-command (a
 * DRILL-FORGER aggregator certificate of the deployment's CA sending a registration with a forged
 * XML signature: the TSO admits only its contracted aggregators, so its R1 refuses the forger at
 * TLS, before the signature check, and the retries raise refused-peer-retries). Each must be
 * refused, raise the expected alert in the TSO's own store, deliver it and be recorded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tsoConfigSchema } from '../../../src/roles/tso/config.js';
import { startTso, type RunningTso } from '../../../src/roles/tso/tso.js';
import { vtnSecops } from '../../../src/cli/role-secops.js';
import { readRecords } from '../../../src/security/audit/export.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';
import { runErab } from './run-erab.js';

let world: PkiWorld<'tso'>;
let tso: RunningTso;
let alertsDb: string;

before(async () => {
  world = await pkiWorld({ tso: 'tso:TSO1' }, { prefix: 'erab-drill-tso-' });
  alertsDb = join(world.dir, 'tso.db');
  const cfg = tsoConfigSchema.parse({
    id: 'TSO1', tls: world.tlsFiles('tso'), listen: { port: 0 }, store: { url: alertsDb }, audit: { dir: join(world.dir, 'tso-audit') },
    contractedAggregators: [{ id: 'AGG1' }], detection: { pollMs: 50 },
  });
  tso = await startTso(cfg, vtnSecops(cfg.detection).deps);
});

after(async () => {
  await tso?.stop();
  await world?.close();
});

test('rogue-peer, revoked-gateway and forged-command against a running TSO pass, each with its alert and record', async () => {
  const desk = ['--db', join(world.dir, 'incidents.db'), '--audit-dir', join(world.dir, 'incidents-audit')];
  const common = ['--target', world.dir, '--url', tso.vtn.url, '--participant', 'tso:TSO1', '--alerts-db', alertsDb, '--pki', join(world.dir, 'world-pki'), ...desk];
  const expected: [string, RegExp][] = [
    ['rogue-peer', /detection rule fired: alert #\d+ (mtls-refusals-from-source|refused-peer-retries)/],
    ['revoked-gateway', /detection rule fired: alert #\d+ refused-peer-retries/],
    ['forged-command', /ok {3}forged command refused: all 10 at TLS before the signature check \(refused \(.*\)\): the target does not admit aggregator:DRILL-FORGER[^]*detection rule fired: alert #\d+ refused-peer-retries/],
  ];
  for (const [scenario, fired] of expected) {
    const out = join(world.dir, `${scenario}.json`);
    const r = await runErab(['drill', 'run', scenario, ...common, '--operator', 'op-sato', '--out', out]);
    assert.equal(r.code, 0, `${scenario}: ${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, fired);
    assert.match(r.stdout, new RegExp(`${scenario} against tso:TSO1: PASSED`));
    const record = JSON.parse(readFileSync(out, 'utf8')) as { passed: boolean; alert: { deliveries: { channel: string; ok: boolean }[] }; incidentId: number };
    assert.equal(record.passed, true);
    assert.ok(record.alert.deliveries.some((d) => d.channel === 'in-process' && d.ok), JSON.stringify(record.alert.deliveries));
    assert.ok(record.incidentId > 0);
  }
  // The forger never got past TLS: the TSO audited not_allow_listed refusals of its certificate.
  const refusals = [...readRecords(join(world.dir, 'tso-audit'))].map((l) => l.record).filter((x) => x?.action === 'tls.refused' && /DRILL-FORGER/.test(JSON.stringify(x)));
  assert.ok(refusals.length >= 10, `${refusals.length} TLS refusals of DRILL-FORGER`);
  const list = await runErab(['drill', 'list', ...desk]);
  assert.match(list.stdout, /#3 .* forged-command → tso:TSO1: passed\n#2 .* revoked-gateway → tso:TSO1: passed\n#1 .* rogue-peer → tso:TSO1: passed/);
});
