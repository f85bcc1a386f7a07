/**
 * `npm run bench -- fleet [--gateways N (2000)] [--store sqlite|postgres] [--poll-seconds P (10)]
 *                         [--sample K] [--seconds S (5)] [--concurrency C (64)] [--no-curve]`
 *
 * A fleet of gateways against one VTN over mutual TLS, each gateway with its own certificate
 * (bench/lib/fleet-certs.ts; cached on disk between runs), state in SQLite or PostgreSQL
 * (ERAB_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test; a fresh database
 * per run, dropped at the end). Three processes: the VTN (`server`), the load generator
 * (`load`), and this orchestrator; PostgreSQL runs beside them on the same machine.
 *
 * 1. Registration: every gateway registers (oadrCreatePartyRegistration on its own new TLS
 *    connection, 32 at a time): registrations/s.
 * 2. Memory per registered gateway in the VTN process (heap + external after GC, and RSS), with
 *    no connection held (a gateway's connection costs more, see bench/vtn.ts).
 * 3. Fan-out: K sampled gateways (default min(N, 5000): file descriptors bound the sockets one
 *    process holds) keep a connection each and poll every P s at random phases, answering
 *    oadrCreatedEvent as a gateway does; an event for ALL N registered gateways is created
 *    (N queue rows) and the time until each sampled gateway holds it is measured from the
 *    createEvent call: p50/p99/max, and the share within P + 2 s.
 * 4. Scale-out curve: empty polls back to back on C connections against 1 and 2 VTN workers
 *    (node:cluster, src/roles/common/workers.ts; PostgreSQL only), with the CPU each process
 *    used, so polls/s per VTN core can be projected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { execSync } from 'node:child_process';
import type { FleetCreds } from './lib/fleet-certs.js';
import { cpuOf } from './lib/process-cpu.js';
import { RawOadrConn as Conn, oadrOk as ok, oadrRequest as request } from './lib/raw-oadr-conn.js';

const args = process.argv.slice(2);
const arg = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? def) : def;
};
const role = arg('role', 'main');
const dir = arg('dir', '');
const self = fileURLToPath(import.meta.url);
const VTN_ID = 'BENCH-AGG-vtn';
const EVENT_ID = 'FLEET-EVENT';

// ------------------------------------------------------------------ VTN process (1..W workers)

async function server(): Promise<void> {
  const workers = Number(arg('workers', '1'));
  const { isWorker, reportReady, startWorkers } = await import('../src/roles/common/workers.js');
  if (workers > 1 && !isWorker()) {
    const pool = await startWorkers({ workers });
    process.on('message', (msg: { cmd: string }) => {
      if (msg.cmd === 'cpu') process.send?.({ cpu: { us: pool.pids().reduce((s, p) => s + cpuOf(p), 0) + cpuOf(process.pid), pids: pool.pids() } });
      if (msg.cmd === 'stop') void pool.stop().then(() => process.exit(0));
    });
    process.send?.({ ready: true, port: pool.port });
    return;
  }
  const { TlsMaterial } = await import('../src/security/tls.js');
  const { openStore } = await import('../src/store/store.js');
  const { openadrStoreMigrations } = await import('../src/endpoints/openadr/store.js');
  const { startVtnEndpoint } = await import('../src/endpoints/openadr/vtn-endpoint.js');
  const creds = JSON.parse(readFileSync(join(dir, 'server.json'), 'utf8')) as Pick<FleetCreds, 'caPem' | 'server'>;
  const material = await TlsMaterial.fromPem({ credentials: [creds.server], caPem: creds.caPem });
  const store = await openStore({ url: arg('store-url', ''), migrations: openadrStoreMigrations });
  const t0 = performance.now();
  const running = await startVtnEndpoint({
    vtnID: VTN_ID, material, store, allowList: { roles: ['gateway'] }, profile: 'R4',
    audit: { append: () => {} }, port: 0,
    vtn: { pollFreqMs: Number(arg('poll-seconds', '10')) * 1000, vtnReports: false },
  });
  const startMs = performance.now() - t0;
  if (isWorker()) {
    reportReady(running.port, running.url);
    process.on('SIGTERM', () => void running.close().then(() => store.close()).then(() => process.exit(0)));
    return;
  }
  const mem = () => {
    for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    return { rss: m.rss, heap: m.heapUsed + m.external, registered: running.vtn.registrations().length, startMs };
  };
  process.on('message', (msg: { cmd: string }) => {
    if (msg.cmd === 'mem') process.send?.({ mem: mem() });
    if (msg.cmd === 'cpu') process.send?.({ cpu: { us: cpuOf(process.pid), pids: [process.pid] } });
    if (msg.cmd === 'event') {
      const t = performance.now();
      const at = Date.now();
      void running.vtn.createEvent({
        eventID: EVENT_ID, marketContext: 'http://bench/fleet', target: { groupID: ['fleet'] },
        activePeriod: { dtstart: (Date.now() + 3_600_000) as never, duration: 3_600_000 as never },
        signals: [{ signalName: 'SIMPLE', signalType: 'level', signalID: 's', intervals: [{ uid: '0', duration: 3_600_000 as never, value: 1 }] }],
      }).then(() => process.send?.({ event: { at, enqueueMs: performance.now() - t } }), (e: Error) => process.send?.({ error: e.message }));
    }
    if (msg.cmd === 'stop') void running.close().then(() => store.close()).then(() => process.exit(0));
  });
  process.on('SIGTERM', () => process.exit(0));
  process.send?.({ ready: true, port: running.port });
}

// ------------------------------------------------------------------ load generator

async function load(): Promise<void> {
  const { encodePayload } = await import('../src/protocols/openadr/payload.js');
  const creds = JSON.parse(readFileSync(join(dir, 'creds.json'), 'utf8')) as FleetCreds;
  let port = Number(arg('port', '0'));

  async function register(): Promise<unknown> {
    const t0 = performance.now();
    let next = 0;
    let done = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const gw = creds.gateways[next++];
        if (!gw) return;
        const c = await Conn.open(port, gw, creds.caPem, { noDelay: true });
        const { body: r } = await c.send(request('EiRegisterParty', encodePayload({ type: 'oadrCreatePartyRegistration', requestID: 'r', profileName: '2.0b', transportName: 'simpleHttp', reportOnly: false, xmlSignature: false, httpPullModel: true })));
        if (!ok(r)) throw new Error(`registration of ${gw.id} failed: ${r.slice(0, 300)}`);
        c.close();
        if (++done % 10_000 === 0) process.stdout.write(`  ${done} registered (${(done / ((performance.now() - t0) / 1000)).toFixed(0)}/s)\n`);
      }
    };
    const cpu0 = process.cpuUsage();
    await Promise.all(Array.from({ length: 32 }, worker));
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { registered: done, ms, perSecond: done / (ms / 1000), loadCpuPct: ((cpu.user + cpu.system) / 1e4) / (ms / 1000) };
  }

  // Fan-out: K gateways polling every P s at random phases; each records when it holds the event.
  let answerMs: number[] = [];
  let fleet: { stop: () => void; held: Map<string, number>; polls: () => number; dupes: () => number } | undefined;
  async function startFleet(k: number, pollMs: number): Promise<unknown> {
    const sample = creds.gateways.slice(0, k);
    const conns: Conn[] = [];
    let next = 0;
    const opener = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        const gw = sample[i];
        if (!gw) return;
        conns[i] = await Conn.open(port, gw, creds.caPem, { noDelay: true });
      }
    };
    await Promise.all(Array.from({ length: 32 }, opener));
    const held = new Map<string, number>();
    let polls = 0;
    let dupes = 0;
    let stop = false;
    answerMs = [];
    const timers: NodeJS.Timeout[] = [];
    sample.forEach((gw, i) => {
      const c = conns[i] as Conn;
      const pollReq = request('OadrPoll', encodePayload({ type: 'oadrPoll', venID: gw.id }));
      const tick = async (): Promise<void> => {
        if (stop) return;
        try {
          // A gateway drains its queue: it polls again at once after a payload.
          for (;;) {
            polls++;
            const sentAt = Date.now();
            const { body } = await c.send(pollReq);
            if (!body.includes('oadrDistributeEvent')) break;
            if (body.includes(EVENT_ID)) {
              if (held.has(gw.id)) dupes++;
              else {
                held.set(gw.id, Date.now());
                answerMs.push(Date.now() - sentAt);
              }
              const modification = /modificationNumber>(\d+)</.exec(body)?.[1] ?? '0';
              const requestID = /<pyld:requestID>([^<]+)</.exec(body)?.[1] ?? '';
              await c.send(request('EiEvent', encodePayload({ type: 'oadrCreatedEvent', eiResponse: { responseCode: 200, requestID: '' }, venID: gw.id, eventResponses: [{ responseCode: 200, requestID, qualifiedEventID: { eventID: EVENT_ID, modificationNumber: Number(modification) }, optType: 'optIn' }] })));
            }
          }
        } catch { /* a dropped connection: the gateway's next tick fails too; counted as not held */ }
        if (!stop) timers[i] = setTimeout(() => void tick(), pollMs);
      };
      timers[i] = setTimeout(() => void tick(), Math.random() * pollMs);
    });
    fleet = { stop: () => { stop = true; timers.forEach(clearTimeout); conns.forEach((c) => c.close()); }, held, polls: () => polls, dupes: () => dupes };
    return { connections: conns.length };
  }

  async function pollHard(concurrency: number, seconds: number): Promise<unknown> {
    const sample = creds.gateways.slice(0, concurrency);
    const conns = await Promise.all(sample.map((g) => Conn.open(port, g, creds.caPem, { noDelay: true })));
    const reqs = sample.map((g) => request('OadrPoll', encodePayload({ type: 'oadrPoll', venID: g.id })));
    let measuring = false;
    let stop = false;
    let count = 0;
    const lat: number[] = [];
    const all = Promise.all(conns.map(async (c, k) => {
      while (!stop) {
        const t = performance.now();
        const { body: r } = await c.send(reqs[k] as Buffer);
        if (measuring && ok(r)) {
          count++;
          lat.push(performance.now() - t);
        }
      }
    }));
    await new Promise((r) => setTimeout(r, 1500));
    measuring = true;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    measuring = false;
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    stop = true;
    await all;
    conns.forEach((c) => c.close());
    lat.sort((a, b) => a - b);
    return { perSecond: count / elapsed, p99: lat[Math.floor(lat.length * 0.99)] ?? NaN, loadCores: (cpu.user + cpu.system) / 1e6 / elapsed };
  }

  process.on('message', (msg: { cmd: string; k?: number; pollMs?: number; port?: number; concurrency?: number; seconds?: number }) => {
    const run = async (): Promise<unknown> => {
      if (msg.port) port = msg.port;
      if (msg.cmd === 'register') return register();
      if (msg.cmd === 'fleet') return startFleet(msg.k ?? 1000, msg.pollMs ?? 10_000);
      if (msg.cmd === 'held') return { held: [...(fleet?.held.values() ?? [])], polls: fleet?.polls() ?? 0, dupes: fleet?.dupes() ?? 0, answerMs: answerMs.sort((a, b) => a - b) };
      if (msg.cmd === 'stop-fleet') { fleet?.stop(); return {}; }
      if (msg.cmd === 'poll') return pollHard(msg.concurrency ?? 64, msg.seconds ?? 5);
      if (msg.cmd === 'exit') process.exit(0);
      return undefined;
    };
    run().then((result) => process.send?.({ result }), (e: Error) => process.send?.({ error: e.message }));
  });
  process.send?.({ ready: true });
}

// ------------------------------------------------------------------ orchestrator

function child(childRole: string, extra: string[]): ChildProcess {
  // ERAB_BENCH_NODE_ARGS: extra node flags for the VTN, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const extra2 = childRole === 'server' ? (process.env.ERAB_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean) : [];
  return spawn(process.execPath, ['--expose-gc', '--max-old-space-size=8192', ...extra2, self, '--role', childRole, '--dir', dir || mainDir, ...extra], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function ask(p: ChildProcess, msg: object, key: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const on = (m: Record<string, unknown>): void => {
      if ('error' in m) { p.off('message', on); reject(new Error(String(m.error))); } else if (key in m) { p.off('message', on); resolve(m); }
    };
    p.on('message', on);
    p.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
    if (Object.keys(msg).length) p.send(msg);
  });
}

let mainDir = '';
const kb = (b: number): string => `${(b / 1024).toFixed(2)} KB`;
const pct = (xs: number[], p: number): number => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;

async function main(): Promise<void> {
  const n = Number(arg('gateways', '2000'));
  const storeKind = arg('store', 'sqlite');
  const pollS = Number(arg('poll-seconds', '10'));
  const k = Math.min(n, Number(arg('sample', String(Math.min(n, 5000)))));
  const seconds = Number(arg('seconds', '5'));
  const concurrency = Number(arg('concurrency', '64'));
  if (storeKind !== 'sqlite' && storeKind !== 'postgres') throw new Error('--store must be sqlite or postgres');
  mainDir = mkdtempSync(join(tmpdir(), 'erab-bench-fleet-'));
  const pgBase = process.env.ERAB_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  let storeUrl = join(mainDir, 'vtn.db');
  let dropDb: (() => Promise<void>) | undefined;
  const kids: ChildProcess[] = [];
  try {
    console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GB (${(freemem() / 2 ** 30).toFixed(1)} free), Node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    try { console.log(`uptime: ${execSync('uptime').toString().trim()}`); } catch { /* not on every system */ }
    if (storeKind === 'postgres') {
      const pg = (await import('pg')).default;
      const name = `erab_bench_${randomBytes(4).toString('hex')}`;
      const admin = new pg.Client({ connectionString: pgBase });
      await admin.connect();
      const version = (await admin.query('show server_version')).rows[0]?.server_version;
      await admin.query(`create database ${name}`);
      await admin.end();
      const u = new URL(pgBase);
      u.pathname = `/${name}`;
      storeUrl = u.toString();
      console.log(`store: PostgreSQL ${version} on the same machine, database ${name}`);
      dropDb = async () => {
        const c = new pg.Client({ connectionString: pgBase });
        await c.connect();
        await c.query(`drop database if exists ${name} with (force)`).catch(() => {});
        await c.end();
      };
    } else console.log(`store: SQLite ${storeUrl}`);

    const { fleetCreds } = await import('./lib/fleet-certs.js');
    const { creds, cached, ms } = await fleetCreds(n, (s) => console.log(s));
    console.log(`${n} gateway certificates (ECDSA P-256, one CA) ${cached ? 'loaded from the cache' : 'issued'} in ${(ms / 1000).toFixed(1)} s`);
    writeFileSync(join(mainDir, 'creds.json'), JSON.stringify(creds));
    writeFileSync(join(mainDir, 'server.json'), JSON.stringify({ caPem: creds.caPem, server: creds.server }));

    // 1-3 on one VTN process.
    let srv = child('server', ['--store-url', storeUrl, '--poll-seconds', String(pollS)]);
    kids.push(srv);
    let port = Number((await ask(srv, {}, 'ready')).port);
    const gen = child('load', ['--port', String(port)]);
    kids.push(gen);
    await ask(gen, {}, 'ready');
    const mem = async () => (await ask(srv, { cmd: 'mem' }, 'mem')).mem as { rss: number; heap: number; registered: number; startMs: number };
    const m0 = await mem();
    const vtnCpu0 = (await ask(srv, { cmd: 'cpu' }, 'cpu')).cpu as { us: number };
    const reg = (await ask(gen, { cmd: 'register' }, 'result')).result as { registered: number; ms: number; perSecond: number; loadCpuPct: number };
    const vtnCpu1 = (await ask(srv, { cmd: 'cpu' }, 'cpu')).cpu as { us: number };
    console.log(`registration: ${reg.registered} gateways in ${(reg.ms / 1000).toFixed(1)} s = ${reg.perSecond.toFixed(0)}/s (new mutual-TLS connection each, 32 at a time; VTN CPU ${((vtnCpu1.us - vtnCpu0.us) / 1e4 / (reg.ms / 1000)).toFixed(0)}%, load generator ${reg.loadCpuPct.toFixed(0)}%)`);
    const m1 = await mem();
    // Restart: the registrations come back from the store. A fresh process with N loaded against
    // the fresh process with none (m0) is the state per gateway, without the garbage and JIT code of the traffic.
    await ask(srv, { cmd: 'stop' }, 'never').catch(() => {});
    srv = child('server', ['--store-url', storeUrl, '--poll-seconds', String(pollS)]);
    kids.push(srv);
    port = Number((await ask(srv, {}, 'ready')).port);
    const m2 = await mem();
    console.log(`memory per registered gateway in the VTN process: ${kb((m2.heap - m0.heap) / n)} heap+external, ${kb((m2.rss - m0.rss) / n)} RSS (target ≤ 8 KB): fresh VTN with ${m2.registered} registrations loaded (in ${(m2.startMs / 1000).toFixed(2)} s) against a fresh one with none; ${(m2.rss / 2 ** 20).toFixed(0)} MB RSS in all. Right after registering them: ${kb((m1.heap - m0.heap) / n)} heap+external, ${kb((m1.rss - m0.rss) / n)} RSS per gateway (includes TLS session cache and garbage)`);

    await ask(gen, { cmd: 'fleet', k, pollMs: pollS * 1000, port }, 'result');
    // Every sampled gateway has polled once (and found nothing) before the event.
    await new Promise((r) => setTimeout(r, pollS * 1000 + 500));
    const fanCpu0 = ((await ask(srv, { cmd: 'cpu' }, 'cpu')).cpu as { us: number }).us;
    const ev = (await ask(srv, { cmd: 'event' }, 'event')).event as { at: number; enqueueMs: number };
    const deadline = ev.at + pollS * 1000 + 2000;
    await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()) + 3000));
    const fanCores = (((await ask(srv, { cmd: 'cpu' }, 'cpu')).cpu as { us: number }).us - fanCpu0) / 1e6 / ((Date.now() - ev.at) / 1000);
    const h = (await ask(gen, { cmd: 'held' }, 'result')).result as { held: number[]; polls: number; dupes: number; answerMs: number[] };
    await ask(gen, { cmd: 'stop-fleet' }, 'result');
    const delays = h.held.map((t) => t - ev.at).sort((a, b) => a - b);
    const within = h.held.filter((t) => t <= deadline).length;
    console.log(`fan-out: event for all ${n} gateways queued in ${(ev.enqueueMs / 1000).toFixed(2)} s (${n} queue rows); ${k} sampled gateways polling every ${pollS} s hold it: p50 ${(pct(delays, 0.5) / 1000).toFixed(2)} s, p99 ${(pct(delays, 0.99) / 1000).toFixed(2)} s, max ${(pct(delays, 1) / 1000).toFixed(2)} s; ${(100 * within / k).toFixed(2)}% within one poll interval + 2 s (target 99%); ${h.held.length}/${k} held it, ${h.dupes} received it twice; the poll that brought it took p50 ${pct(h.answerMs, 0.5).toFixed(0)} ms, p99 ${pct(h.answerMs, 0.99).toFixed(0)} ms (request written → answer read, in the load generator); VTN CPU ${fanCores.toFixed(2)} cores over the fan-out`);
    await ask(srv, { cmd: 'stop' }, 'never').catch(() => {});

    if (!args.includes('--no-curve')) {
      const workerCounts = storeKind === 'postgres' ? [1, 2] : [1];
      for (const w of workerCounts) {
        const s = child('server', ['--store-url', storeUrl, '--poll-seconds', String(pollS), '--workers', String(w)]);
        kids.push(s);
        const p = Number((await ask(s, {}, 'ready')).port);
        const c0 = (await ask(s, { cmd: 'cpu' }, 'cpu')).cpu as { us: number };
        const t0 = performance.now();
        const r = (await ask(gen, { cmd: 'poll', port: p, concurrency, seconds }, 'result')).result as { perSecond: number; p99: number; loadCores: number };
        const c1 = (await ask(s, { cmd: 'cpu' }, 'cpu')).cpu as { us: number };
        // The VTN's CPU over the whole poll phase (1.5 s warm-up + measurement).
        const vtnCores = (c1.us - c0.us) / 1e6 / ((performance.now() - t0) / 1000);
        console.log(`scale-out: ${w} worker${w > 1 ? 's' : ''}: ${r.perSecond.toFixed(0)} polls/s, p99 ${r.p99.toFixed(1)} ms (${concurrency} connections); CPU: VTN ${vtnCores.toFixed(2)} cores, load generator ${r.loadCores.toFixed(2)} cores (same 2-core machine, PostgreSQL idle on empty polls); ≈ ${(r.perSecond / Math.max(vtnCores, 0.01)).toFixed(0)} polls/s per VTN core`);
        await ask(s, { cmd: 'stop' }, 'never').catch(() => {});
      }
    }
    await ask(gen, { cmd: 'exit' }, 'never').catch(() => {});
    try { console.log(`uptime: ${execSync('uptime').toString().trim()}`); } catch { /* idem */ }
  } finally {
    for (const p of kids) p.kill('SIGKILL');
    await dropDb?.();
    rmSync(mainDir, { recursive: true, force: true });
  }
}

if (role === 'server') await server();
else if (role === 'load') await load();
else await main();
