/**
 * Reliability across real processes (issue 12): `erab openadr vtn --workers 2` over PostgreSQL,
 * a fleet of VENs polling it over mutual TLS, an event for all of them created by a separate
 * engine on the same database (as the aggregator's dispatch engine does), and one worker killed
 * with SIGKILL while the event fans out. Every VEN must act on the event exactly once.
 *
 * On the wire a VEN may receive the event twice: an answer the dead worker had flushed but not
 * yet confirmed is delivered again when its lease ends (at-least-once between processes). The
 * VEN acts on each (eventID, modificationNumber) once, which is what the gateway's devices see;
 * the test prints both counts. SQLite is one process, so this test is PostgreSQL only.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { systemClock } from '../../../src/core/clock.js';
import type { EpochMillis, Millis } from '../../../src/core/units.js';
import { Vtn } from '../../../src/protocols/openadr/vtn.js';
import { openadrStoreMigrations, StoreVtnStore } from '../../../src/endpoints/openadr/store.js';
import { startVenEndpoint, type RunningVen } from '../../../src/endpoints/openadr/ven-endpoint.js';
import { erabBin } from '../../../src/roles/common/supervisor.js';
import { openStore } from '../../../src/store/store.js';
import { freshDatabase, POSTGRES_TEST_URL, postgresUnreachable } from '../../store/harness.js';
import { pkiWorld, sleep, waitFor } from '../../kit/index.js';

const GATEWAYS = 30;

/** Runs `erab openadr vtn ...` and resolves with the first stdout line matching `ready`. */
function erab(args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray; out: () => string }> {
  const child = spawn(process.execPath, [erabBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr?.on('data', (b: Buffer) => { out += b.toString(); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`erab ${args.slice(0, 2).join(' ')} not ready in 30 s:\n${out.slice(-2000)}`)), 30_000);
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m, out: () => out });
      }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`erab exited with ${code}:\n${out.slice(-2000)}`)); });
  });
}

const skip = postgresUnreachable && !process.env.CI ? `PostgreSQL unreachable at ${POSTGRES_TEST_URL} (${postgresUnreachable}); SQLite is one process, so --workers needs PostgreSQL` : false;

test('kill -9 of a VTN worker during a fan-out: every VEN acts on the event exactly once', { skip, timeout: 90_000 }, async () => {
  const world = await pkiWorld({ vtn: 'tso:VTN1' }, { prefix: 'erab-kill-' });
  const db = await freshDatabase('erab_w_');
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    await db.drop();
    world.close();
  });
  const ids = Array.from({ length: GATEWAYS }, (_, i) => `GW${String(i).padStart(3, '0')}`);
  // One at a time: each issue updates the PKI index.
  for (const id of ids) await world.issue(id, `aggregator:${id}`);

  const vtnProc = await erab([
    'openadr', 'vtn', '--cert', world.certs.vtn.files.certFile, '--key', world.certs.vtn.files.keyFile, '--ca', world.caFile,
    '--listen', '127.0.0.1:0', '--store', db.url, '--vtn-id', 'VTN1', '--poll-freq', '1', '--workers', '2',
    ...ids.flatMap((id) => ['--allow', `aggregator:${id}`]),
  ], /listening on (https:\/\/\S+) \(2 workers, pids (\d+) (\d+);/);
  cleanup.push(async () => {
    vtnProc.child.kill('SIGTERM');
    await new Promise((r) => vtnProc.child.once('exit', r));
  });
  const url = vtnProc.match[1] as string;
  const victim = Number(vtnProc.match[2]);

  // The VENs, in this process, each with its own certificate; state in one SQLite file.
  const venStore = await openStore({ url: join(world.dir, 'vens.db'), migrations: openadrStoreMigrations });
  cleanup.push(() => venStore.close());
  const acted = new Map<string, number>();
  const onWire = new Map<string, number>();
  const vens: RunningVen[] = [];
  for (const id of ids) {
    const v = await startVenEndpoint({
      venName: id, vtnUrl: url, checkHostname: false, audit: new MemoryAuditSink(), store: venStore,
      material: await world.material(id),
      ven: {
        onEvent: (info) => { if (info.event.descriptor.eventID === 'FANOUT') acted.set(id, (acted.get(id) ?? 0) + 1); return 'optIn'; },
        onXml: (dir2, _s, xml) => { if (dir2 === 'in' && xml.includes('oadrDistributeEvent') && xml.includes('FANOUT')) onWire.set(id, (onWire.get(id) ?? 0) + 1); },
      },
    });
    vens.push(v);
    cleanup.push(() => v.close());
  }
  // The dispatching engine: another process's view of the same database (here, this test's).
  const engineStore = await openStore({ url: db.url, migrations: openadrStoreMigrations });
  cleanup.push(() => engineStore.close());
  const engine = new Vtn({ vtnID: 'VTN1', store: new StoreVtnStore(engineStore, 'VTN1'), clock: systemClock, audit: new MemoryAuditSink(), wake: engineStore.wake });
  await engine.start();
  cleanup.push(() => engine.stop());
  await waitFor(`${GATEWAYS} registrations`, async () => (await engineStore.db.selectFrom('openadr_vtn_registration' as never).select((eb) => eb.fn.countAll().as('n')).executeTakeFirst() as { n: unknown }).n == GATEWAYS, 40_000);

  const start = Date.now();
  await engine.createEvent({
    eventID: 'FANOUT', marketContext: 'http://vtn1/mc',
    activePeriod: { dtstart: (Date.now() + 3_600_000) as EpochMillis, duration: 3_600_000 as Millis },
    signals: [{ signalName: 'SIMPLE', signalType: 'level', signalID: 's', intervals: [{ uid: '0', duration: 3_600_000 as Millis, value: 1 }] }],
  });
  // Kill a worker while the event is on its way (poll interval 1 s: some VENs have it, some not).
  await waitFor('the first VENs to hold the event', () => acted.size > 0, 10_000);
  const heldAtKill = acted.size;
  process.kill(victim, 'SIGKILL');
  await waitFor(`every VEN to hold the event (held: ${acted.size})`, () => acted.size === GATEWAYS, 45_000);
  // Let redeliveries of the dead worker's leases (10 s) and any duplicates arrive before counting.
  await sleep(12_000);
  const twice = [...acted].filter(([, n]) => n !== 1);
  const wireTwice = [...onWire.values()].filter((n) => n > 1).length;
  process.stdout.write(`# ${GATEWAYS} VENs; ${heldAtKill} held the event when worker ${victim} was killed; all held it after ${Date.now() - start - 12_000} ms; received twice on the wire: ${wireTwice}\n`);
  assert.deepEqual(twice, [], 'a VEN acted on the event more than once');
  assert.equal(acted.size, GATEWAYS);
  // The supervisor replaced the dead worker.
  assert.match(vtnProc.out(), /worker died; restarting/);
});
