/**
 * Several hosts behind a TCP load balancer (docs/scale.md): two separate `erab openadr vtn`
 * processes on two ports over one PostgreSQL database, and a round-robin L4 proxy in front
 * that also drops every connection every 700 ms (a rebalancing balancer), so the VEN's
 * requests alternate between the two processes. Registration through either, an event created
 * by a third engine and then modified, and the VEN's reports must each count exactly once.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { systemClock } from '../../../src/core/clock.js';
import type { EpochMillis, Millis } from '../../../src/core/units.js';
import { powerRealItem } from '../../../src/protocols/openadr/units.js';
import { Vtn } from '../../../src/protocols/openadr/vtn.js';
import { openadrStoreMigrations, StoreVtnStore } from '../../../src/endpoints/openadr/store.js';
import { startVenEndpoint } from '../../../src/endpoints/openadr/ven-endpoint.js';
import { erabBin } from '../../../src/roles/common/supervisor.js';
import { openStore } from '../../../src/store/store.js';
import { freshDatabase, POSTGRES_TEST_URL, postgresUnreachable } from '../../store/harness.js';
import { pkiWorld, sleep, tcpProxy, waitFor } from '../../kit/index.js';

const skip = postgresUnreachable && !process.env.CI ? `PostgreSQL unreachable at ${POSTGRES_TEST_URL} (${postgresUnreachable}); SQLite is one process` : false;

function vtnProcess(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [erabBin, 'openadr', 'vtn', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr?.on('data', (b: Buffer) => { out += b.toString(); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`VTN not ready:\n${out.slice(-2000)}`)), 30_000);
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`VTN exited with ${code}:\n${out.slice(-2000)}`)); });
  });
}

test('two erab openadr vtn processes over one PostgreSQL behind a round-robin balancer serve one VEN as one VTN', { skip, timeout: 90_000 }, async () => {
  const world = await pkiWorld({ vtn: 'tso:VTN1', gw: 'aggregator:GW1' }, { prefix: 'erab-2hosts-' });
  const db = await freshDatabase('erab_h_');
  const dbUrl = db.url;
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    await db.drop();
    world.close();
  });
  const vtnFiles = world.certs.vtn.files;
  const common = ['--cert', vtnFiles.certFile, '--key', vtnFiles.keyFile, '--ca', world.caFile, '--listen', '127.0.0.1:0', '--store', dbUrl, '--vtn-id', 'VTN1', '--poll-freq', '1', '--allow', 'aggregator:GW1'];
  // The first one migrates the database; the second starts on the migrated one.
  const a = await vtnProcess(common);
  const b = await vtnProcess(common);
  for (const p of [a, b]) cleanup.push(async () => { p.child.kill('SIGTERM'); await new Promise((r) => p.child.once('exit', r)); });
  // A round-robin TCP balancer over the two processes that drops every connection every 700 ms.
  const lb = await tcpProxy([a.port, b.port], { dropEveryMs: 700 });
  cleanup.push(() => lb.close());

  const venStore = await openStore({ url: join(world.dir, 'ven.db'), migrations: openadrStoreMigrations });
  cleanup.push(() => venStore.close());
  const acted: string[] = [];
  const ven = await startVenEndpoint({
    venName: 'GW1', vtnUrl: `https://127.0.0.1:${lb.port}`, checkHostname: false, audit: new MemoryAuditSink(), store: venStore,
    material: await world.material('gw'),
    ven: {
      onEvent: (info) => { acted.push(`${info.event.descriptor.eventID}#${info.event.descriptor.modificationNumber}`); return 'optIn'; },
      reports: [{
        reportSpecifierID: 'usage', reportName: 'TELEMETRY_USAGE', read: () => 1.5,
        descriptions: [{ rID: 'p', reportType: 'usage', readingType: 'Direct Read', itemBase: powerRealItem('k'), samplingRate: { minPeriod: 1000 as Millis, maxPeriod: 1000 as Millis, onChange: false } }],
      }],
    },
  });
  cleanup.push(() => ven.close());
  // The dispatching engine, a third process's view of the database.
  const engineStore = await openStore({ url: dbUrl, migrations: openadrStoreMigrations });
  cleanup.push(() => engineStore.close());
  const engine = new Vtn({ vtnID: 'VTN1', store: new StoreVtnStore(engineStore, 'VTN1'), clock: systemClock, audit: new MemoryAuditSink(), wake: engineStore.wake });
  await engine.start();
  cleanup.push(() => engine.stop());
  await waitFor('registration', async () => (await new StoreVtnStore(engineStore, 'VTN1').listVenIDs()).includes('GW1'), 30_000);

  await engine.createEvent({
    eventID: 'LB-EVENT', marketContext: 'http://vtn1/mc',
    activePeriod: { dtstart: (Date.now() + 3_600_000) as EpochMillis, duration: 3_600_000 as Millis },
    signals: [{ signalName: 'SIMPLE', signalType: 'level', signalID: 's', intervals: [{ uid: '0', duration: 3_600_000 as Millis, value: 1 }] }],
  });
  await waitFor('the event at the VEN', () => acted.includes('LB-EVENT#0'), 20_000);
  await engine.modifyEvent('LB-EVENT', { vtnComment: 'moved' });
  await waitFor('the modification at the VEN', () => acted.includes('LB-EVENT#1'), 20_000);
  // Reports keep flowing through both processes; let a few more polls and reports pass.
  await sleep(4000);
  assert.deepEqual(acted, ['LB-EVENT#0', 'LB-EVENT#1'], 'each modification acted on once');
  assert.ok(lb.served.every((n) => n > 1), `both VTN processes served connections: ${lb.served.join(', ')}`);
  const rows = await engineStore.db.selectFrom('openadr_vtn_report' as never).select(['ei_report_id'] as never).execute() as { ei_report_id: string }[];
  assert.ok(rows.length >= 3, `${rows.length} reports stored`);
  assert.equal(new Set(rows.map((r) => r.ei_report_id)).size, rows.length, 'each report stored once');
  process.stdout.write(`# connections per VTN process ${lb.served.join(', ')}; ${rows.length} reports stored once each\n`);
});
