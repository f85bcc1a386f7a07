/**
 * Reliability across real processes (issue 12): PostgreSQL restarted while VENs report. The
 * test starts its own PostgreSQL cluster (initdb + pg_ctl on a free port in a temp dir, as the
 * postgres user when run as root), runs a VTN on it and VENs reporting every second over
 * mutual TLS, stops the database with `pg_ctl stop -m fast` (connections cut) and starts it
 * again. Every report a VEN sent must be stored exactly once, and every VEN outbox must drain.
 * Skipped with the reason when the PostgreSQL server binaries are absent and CI is not set.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import type { Millis } from '../../../src/core/units.js';
import { decodePayload } from '../../../src/protocols/openadr/payload.js';
import { powerRealItem } from '../../../src/protocols/openadr/units.js';
import type { VenReportSource } from '../../../src/protocols/openadr/ven.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { startVtnEndpoint } from '../../../src/endpoints/openadr/vtn-endpoint.js';
import { startVenEndpoint, type RunningVen } from '../../../src/endpoints/openadr/ven-endpoint.js';
import { openStore } from '../../../src/store/store.js';
import { pkiWorld, sleep, waiter, type PkiWorld } from '../../kit/index.js';

const VENS = 4;

function pgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  for (const v of readdirSync(root).sort().reverse()) {
    const bin = join(root, v, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  return undefined;
}

const bin = pgBin();
const skip = !bin && !process.env.CI ? 'PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql' : false;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** initdb/pg_ctl refuse to run as root: run them as the postgres user then. */
function pgRun(tool: string, args: string[]): void {
  const cmd = join(bin as string, tool);
  if (process.getuid?.() === 0) execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe' });
  else execFileSync(cmd, args, { stdio: 'pipe' });
}

const sec = (n: number): Millis => (n * 1000) as Millis;
const sources = (): VenReportSource[] => [{
  reportSpecifierID: 'usage', reportName: 'TELEMETRY_USAGE',
  descriptions: [{ rID: 'p', reportType: 'usage', readingType: 'Direct Read', itemBase: powerRealItem('k'), samplingRate: { minPeriod: sec(1), maxPeriod: sec(1), onChange: false } }],
  read: () => 2.5,
}];

/** The database may be down while a test waits: a failing query means "not yet"; the last error goes in the timeout message. */
let dbError = '';
const tolerant = <T>(cond: () => Promise<T>) => async (): Promise<T | false> => {
  try {
    return await cond();
  } catch (e) {
    dbError = (e as Error).message;
    return false;
  }
};
const waitFor = waiter({ intervalMs: 100, context: () => `last database error: ${dbError || 'none'}` });

test('PostgreSQL restarted during report ingestion: every report stored exactly once, every VEN outbox drained', { skip, timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-pgrestart-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  if (process.getuid?.() === 0) {
    chownSync(dir, 101, 104);
    execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  }
  const port = await freePort();
  pgRun('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const start = () => pgRun('pg_ctl', ['-D', data, '-w', '-l', join(dir, 'pg.log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  const stop = () => pgRun('pg_ctl', ['-D', data, '-w', '-m', 'fast', 'stop']);
  start();
  const cleanup: (() => Promise<void>)[] = [];
  let world: PkiWorld | undefined;
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    try { stop(); } catch { /* already stopped */ }
    rmSync(dir, { recursive: true, force: true });
    world?.close();
  });

  // The PKI lives in its own temp folder: `dir` is handed to the postgres user.
  world = await pkiWorld({ vtn: 'aggregator:AGG1' }, { prefix: 'erab-pgrestart-pki-' });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const store = await openStore({ url, migrations: openadrStoreMigrations, postgres: { onIdleError: () => {} } });
  cleanup.push(() => store.close());
  const ids = Array.from({ length: VENS }, (_, i) => `GW${i}`);
  const vtnAudit = new MemoryAuditSink();
  const vtn = await startVtnEndpoint({
    vtnID: 'AGG1-vtn', material: await world.material('vtn'), profile: 'R4', store, audit: vtnAudit,
    allowList: { participants: ids.map((id) => `gateway:${id}`) }, vtn: { pollFreqMs: 1000, reportBackMs: 1000, vtnReports: false },
  });
  cleanup.push(() => vtn.close());

  const sent = new Set<string>();
  const venStore = await openStore({ url: join(dir, 'vens.db'), migrations: openadrStoreMigrations });
  cleanup.push(() => venStore.close());
  const vens: RunningVen[] = [];
  for (const id of ids) {
    await world.issue(id, `gateway:${id}`);
    const v = await startVenEndpoint({
      venName: id, vtnUrl: vtn.url, checkHostname: false, audit: new MemoryAuditSink(), store: venStore, material: await world.material(id), profile: 'R4',
      ven: {
        reports: sources(),
        onXml: (d, _s, xml) => {
          if (d !== 'out' || !xml.includes('oadrUpdateReport')) return;
          const m = decodePayload(xml).message;
          if (m.type === 'oadrUpdateReport') for (const r of m.reports) sent.add(r.eiReportID ?? '');
        },
      },
    });
    vens.push(v);
    cleanup.push(() => v.close());
  }
  const count = async (): Promise<number> => Number(((await store.db.selectFrom('openadr_vtn_report' as never).select((eb) => eb.fn.countAll().as('n')).executeTakeFirst()) as { n: unknown }).n);
  await waitFor('3 reports per VEN', tolerant(async () => (await count()) >= 3 * VENS), 30_000);

  // Restart the database under the running VTN.
  stop();
  const downAt = Date.now();
  await sleep(3000);
  start();
  const upAt = Date.now();
  const sentBeforeUp = sent.size;
  // Every outbox drains and reports sampled after the restart arrive too.
  const diag = async () => `outboxes ${(await Promise.all(vens.map((v) => v.outbox.size()))).join(',')}; sent ${sent.size} (${sentBeforeUp} before the restart); stored ${await count().catch((e: Error) => e.message)}; VTN audit: ${vtnAudit.records.slice(-3).map((r) => `${r.action} ${r.reason ?? ''}`).join(' | ')}`;
  await waitFor('VEN outboxes drained', tolerant(async () => {
    for (const v of vens) if ((await v.outbox.size()) > 0) return false;
    return sent.size > sentBeforeUp + VENS && (await count()) >= sent.size;
  }), 40_000).catch(async (e: Error) => { throw new Error(`${e.message}: ${await diag()}`); });
  for (const v of vens) v.ven.stop();
  // Let in-flight reports land, then compare what was sent with what was stored.
  await waitFor('in-flight reports stored', tolerant(async () => {
    for (const v of vens) if ((await v.outbox.size()) > 0) return false;
    return (await count()) >= sent.size;
  }), 20_000);
  const rows = await store.db.selectFrom('openadr_vtn_report' as never).select(['ven_id', 'ei_report_id'] as never).execute() as { ven_id: string; ei_report_id: string }[];
  const stored = rows.map((r) => r.ei_report_id);
  process.stdout.write(`# database down ${upAt - downAt} ms; ${sent.size} reports sent, ${rows.length} rows stored, ${new Set(stored).size} distinct\n`);
  assert.equal(new Set(stored).size, stored.length, 'a report stored twice');
  assert.deepEqual([...sent].filter((id) => !stored.includes(id)), [], 'a sent report is missing');
  for (const v of vens) assert.equal(await v.outbox.size(), 0);
});
