/**
 * Business continuity (ERAB §3.5 事業継続, issue 14): two `erab aggregator run` processes with one
 * configuration over one PostgreSQL store, `standby.enabled`. The first holds the lease and
 * serves; the second waits. During a TSO reduction the active one is killed with SIGKILL: the
 * standby takes over within 30 s on the same address and answers the gateway's polls; the
 * gateway carries on with the one event it holds (no second event for its battery), and the
 * TSO's ledger holds no report interval twice. The new process resumes the running event from
 * the store (docs/failover.md): it answers the TSO's re-sent event with the same optIn (no opt
 * out for want of fresh telemetry), keeps the original baselines, and goes on reporting
 * TELEMETRY_USAGE under the TSO's report request without registering again.
 */
import { aggregatorMigrations } from '../../../src/roles/aggregator/runtime/r4-workers.js';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { systemClock } from '../../../src/core/clock.js';
import { epochMillis, millis } from '../../../src/core/units.js';
import type { OadrReport } from '../../../src/protocols/openadr/report.js';
import { Vtn } from '../../../src/protocols/openadr/vtn.js';
import { MemoryVtnStore, type EventOpt } from '../../../src/protocols/openadr/vtn-store.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { TlsMaterial } from '../../../src/security/tls.js';
import { listenOadr } from '../../../src/endpoints/openadr/listener.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { Gateway } from '../../../src/roles/gateway/gateway.js';
import { Portfolio } from '../../../src/roles/aggregator/portfolio/portfolio.js';
import { erabBin } from '../../../src/roles/common/supervisor.js';
import { openStore } from '../../../src/store/store.js';
import { freshDatabase, POSTGRES_TEST_URL, postgresUnreachable } from '../../store/harness.js';
import { localGatewayConfig, pkiWorld, sleep, waiter } from '../../kit/index.js';

const until = waiter({ timeoutMs: 40_000, intervalMs: 100 });
const skip = postgresUnreachable && !process.env.CI ? `PostgreSQL unreachable at ${POSTGRES_TEST_URL} (${postgresUnreachable}); an active/standby pair needs PostgreSQL` : false;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** `erab aggregator run` as a real process; its output is kept for the assertions and for failures. */
function aggregatorProcess(config: string): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [erabBin, 'aggregator', 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ERAB_NODE_TUNING: 'off' } });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr?.on('data', (b: Buffer) => { out += b.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, exited };
}

test('failover: kill -9 the active aggregator during an event; the standby takes over within 30 s and serves the gateway, whose event runs to its end; no report twice', { skip, timeout: 180_000 }, async () => {
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  after(async () => { for (const c of cleanup.reverse()) await c(); });
  const net = `${64 + Math.floor(Math.random() * 190)}.${1 + Math.floor(Math.random() * 250)}`;
  const pki = await pkiWorld({ tso: 'tso:TSO1', agg: 'aggregator:AGG1', gw: 'gateway:GW1' }, { prefix: 'erab-failover-', flatFiles: true });
  cleanup.push(() => pki.close());
  const dir = pki.dir;
  const db = await freshDatabase('erab_ha_');
  cleanup.push(() => db.drop());

  // ---- the TSO (in this process): a VTN behind mutual TLS admitting AGG1, keeping every report
  const audit = new MemoryAuditSink();
  const received: OadrReport[] = [];
  const opts: EventOpt[] = [];
  const tsoVtn = new Vtn({ vtnID: 'TSO1-VTN', store: new MemoryVtnStore(), clock: systemClock, audit, pollFreqMs: 200, hooks: { onReport: (_v, r) => received.push(r), onEventOpt: (o) => opts.push(o) } });
  await tsoVtn.start();
  const tsoMaterial = await TlsMaterial.fromPem({ credentials: [{ certPem: pki.certs.tso.certPem, keyPem: pki.certs.tso.keyPem }], caPem: pki.caPem });
  const tso = await listenOadr(tsoVtn.handle, { material: tsoMaterial, profile: 'R1', allowList: { participants: ['aggregator:AGG1'] }, audit, host: '127.0.0.1', port: 0, listener: 'tso:R1', maxBodyBytes: 1 << 20 });
  cleanup.push(() => tso.close());

  // ---- the portfolio in the shared PostgreSQL store
  const pstore = await openStore({ url: db.url, migrations: aggregatorMigrations });
  await new Portfolio(pstore).importText(JSON.stringify({
    format: 'erab-portfolio/1',
    pools: [{ id: 'tokyo-t2', tsoArea: 'tokyo', product: 'tertiary2', program: 'TSO1' }],
    sites: [{ id: 'site-1', name: 'Home 1', tsoArea: 'tokyo', poolId: 'tokyo-t2' }],
    gateways: [{ id: 'GW1', siteId: 'site-1', venId: 'GW1' }],
  }), 'json', 'failover-portfolio.json', { kind: 'operator', id: 'test' });
  await pstore.close();

  // ---- one configuration, two processes
  const port = await freePort();
  const config = join(dir, 'aggregator.json');
  writeFileSync(config, JSON.stringify({
    id: 'AGG1',
    tls: { certFile: join(dir, 'agg.pem'), keyFile: join(dir, 'agg.key'), caFile: join(dir, 'ca.pem') },
    store: { url: db.url },
    audit: { dir: join(dir, 'audit') },
    downstream: { host: '127.0.0.1', port, allowList: { participants: ['gateway:GW1'] }, pollIntervalMs: 200, reportIntervalMs: 1000 },
    upstream: [{ name: 'tso', kind: 'tso', vtnUrl: `https://127.0.0.1:${tso.port}`, expect: { role: 'tso', id: 'TSO1' }, pollIntervalMs: 200, reportMinPeriodMs: 2000 }],
    closedLoop: { intervalMs: 500, graceMs: 8000, telemetryMaxAgeMs: 5000 },
    standby: { enabled: true, leaseTtlMs: 3000 },
  }));
  const active = aggregatorProcess(config);
  cleanup.push(() => { active.child.kill('SIGKILL'); });
  await until('the first process is active', () => /aggregator running/.test(active.out()) || undefined).catch((e: Error) => { throw new Error(`${e.message}\n${active.out().slice(-3000)}`); });
  const standby = aggregatorProcess(config);
  cleanup.push(async () => { standby.child.kill('SIGTERM'); await standby.exited; });
  await until('the second process waits on standby', () => /standby: another aggregator process holds the lease/.test(standby.out()) || undefined);
  assert.doesNotMatch(standby.out(), /aggregator running/, 'the standby does not serve while the lease is held');

  // ---- a gateway with a 3 kW battery over real UDP
  const site = await DeviceSite.start({ address: `127.${net}.2`, speed: 1, tickMs: 100, serialPrefix: 'F1', battery: { capacityWh: 10_000, maxChargeW: 3000, maxDischargeW: 3000, initialSocPercent: 80 } });
  cleanup.push(() => site.close());
  const events: string[] = [];
  const gw = await Gateway.start(localGatewayConfig({ dir, port, net: `127.${net}`, serialPrefixes: ['F1'] }), { clock: systemClock, audit: { append: (r) => { if (r.action === 'gateway.event.accepted' || r.action === 'gateway.command') events.push(`${r.action} ${r.target} ${JSON.stringify(r.details ?? {})}`); return audit.append(r); } } as typeof audit });
  cleanup.push(() => gw.close());
  await until('the aggregator is registered at the TSO and asked for telemetry', () => tsoVtn.reportRequests('AGG1').some((r) => r.state === 'active') || undefined);
  await until('the aggregator learned the gateway\'s battery', () => /gateway resources learned/.test(active.out()) || undefined);
  await sleep(4000); // a few telemetry rounds (every 1 s): the battery's power and ratings are fresh

  // ---- a 2 kW reduction for 40 s, starting in 3 s. Until fresh telemetry of the battery has
  // reached the aggregator it rightly opts out ("no fresh telemetry"); the TSO asks again then.
  const before = site.battery!.power() as number;
  let start = 0;
  let eventID = '';
  for (let attempt = 1; ; attempt++) {
    start = Math.ceil((Date.now() + 3000) / 1000) * 1000;
    eventID = `EVT-HA-${attempt}`;
    await tsoVtn.createEvent({
      eventID, marketContext: 'urn:erab:tso:TSO1:tertiary2', venIDs: ['AGG1'],
      activePeriod: { dtstart: epochMillis(start), duration: millis(40_000) },
      signals: [{ signalName: 'LOAD_DISPATCH', signalType: 'delta', signalID: 'S0', itemBase: { kind: 'powerReal', itemDescription: 'RealPower', itemUnits: 'W', siScaleCode: 'k' }, intervals: [{ duration: millis(40_000), uid: '0', value: -2 }] }],
    });
    const opt = await until(`the aggregator answers ${eventID}`, async () => (await tsoVtn.eventOpts(eventID))[0]);
    if (opt.optType === 'optIn') break;
    assert.ok(attempt < 10 && /no fresh telemetry/.test(active.out()), `${eventID} opted out:\n${active.out().slice(-2000)}`);
    await tsoVtn.cancelEvent(eventID);
    await sleep(2000);
  }
  await until('the battery discharges for the event', () => before - (site.battery!.power() as number) >= 1800 || undefined)
    .catch(async (e: Error) => { throw new Error(`${e.message}\nTSO opts: ${JSON.stringify(await tsoVtn.eventOpts(eventID))}\ngateway: ${events.join('\n')}\n${active.out().slice(-3000)}`); });
  await until('event start + 5 s', () => Date.now() >= start + 5000 || undefined);

  // ---- kill -9 the active process mid-event
  const contactAtKill = (await gw.status()).lastContact ?? 0;
  const killedAt = Date.now();
  active.child.kill('SIGKILL');
  await active.exited;
  await until('the standby takes over', () => /lease acquired: this aggregator process is now active/.test(standby.out()) && /aggregator running/.test(standby.out()) || undefined);
  const tookOverMs = Date.now() - killedAt;
  assert.ok(tookOverMs < 30_000, `took over in ${tookOverMs} ms`);
  process.stdout.write(`# standby active ${tookOverMs} ms after the kill\n`);

  // ---- the gateway is served by the new process: its polls are answered again (fail-safe
  // clock reset), and it still runs the event it holds, to its known end.
  await until('the gateway is heard by the new active process', async () => ((await gw.status()).lastContact ?? 0) > killedAt + 500 || undefined);
  assert.ok(((await gw.status()).lastContact ?? 0) > contactAtKill);
  assert.ok(before - (site.battery!.power() as number) >= 1800, 'the battery still follows the reduction after the takeover');
  assert.ok((await gw.status()).aggregatorReachable);

  // ---- the new process resumed the event: the TSO's re-sent event got the same optIn (never an
  // opt out), and TELEMETRY_USAGE reports from the new process show the delivered power.
  const registrations = tsoVtn.reportRequests('AGG1').length;
  const deliveredAfter = async (): Promise<number[]> => received
    .flatMap((r) => (r.intervals ?? []).filter((iv) => (iv.dtstart ?? 0) > killedAt + tookOverMs + 4000 && (iv.dtstart ?? 0) < start + 38_000))
    .flatMap((iv) => iv.payloads.filter((p) => p.rID === 'delivered').map((p) => Number(p.value)));
  await until('reports from the new process reach the TSO', async () => (await deliveredAfter()).length >= 3 || undefined, 25_000)
    .catch((e: Error) => { throw new Error(`${e.message}\nreports: ${received.length}\n${standby.out().slice(-3000)}`); });
  const delivered = await deliveredAfter();
  for (const d of delivered) assert.ok(Math.abs(-d - 2000) <= 300, `delivered ${d} W in a report after the takeover, target −2000 W: ${delivered.join(', ')}\n${standby.out().slice(-3000)}`);
  const mine = opts.filter((o) => o.eventID === eventID);
  assert.deepEqual(mine.filter((o) => o.optType !== 'optIn'), [], `no opt out of the running event reached the TSO\n${standby.out().slice(-3000)}`);
  assert.doesNotMatch(standby.out(), /no fresh telemetry/, 'the new process did not re-allocate the running event');
  assert.equal(tsoVtn.reportRequests('AGG1').length, registrations, 'the new process did not register again');

  // ---- every report interval once at the TSO, one event at the gateway, restored at the end
  const keys = received.flatMap((r) => (r.intervals ?? []).map((iv) => `${r.reportRequestID}@${iv.dtstart}`));
  assert.equal(new Set(keys).size, keys.length, `a report interval arrived twice: ${keys.filter((k, i) => keys.indexOf(k) !== i).join(', ')}`);
  const gatewayEvents = Object.keys((await gw.status()).events);
  assert.ok(gatewayEvents.length <= 1, `the gateway holds one event: ${gatewayEvents.join(', ')}`);
  await until('the event ends and the battery returns to its owner\'s mode', () => Math.abs((site.battery!.power() as number) - before) < 500 || undefined, 60_000);
});
