/**
 * Mutual-TLS handshake throughput: full handshakes and resumed handshakes per second, with
 * the server (erab's createMutualTlsServer, including the post-handshake authentication:
 * chain result, expiry, CRL lookup, allow-list) in a forked child process and the clients
 * (clientTlsOptions, verifying the server's chain and role) in this one.
 *
 *   npm run bench -- tls [--seconds 5] [--concurrency 8] [--versions 1.3,1.2] [--alg ec|rsa]
 *
 * A handshake counts when the client has received the server's first byte, which the server
 * only sends after it authenticated the client, so the figure is "mutually authenticated
 * connections ready for a request per second". Each measurement runs for a bounded time.
 * The machine is printed first; figures on a shared machine vary with its load (also printed).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { AuditRecordInput, AuditSink } from '../src/security/audit/types.js';
import { initCa } from '../src/security/pki/index.js';
import { clientTlsOptions, createMutualTlsServer, loadTlsMaterial, type TlsMaterialFiles } from '../src/security/tls.js';

interface Options {
  seconds: number;
  concurrency: number;
  versions: ('1.2' | '1.3')[];
  alg: 'ec' | 'rsa';
}

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 5, concurrency: 8, versions: ['1.3', '1.2'], alg: 'ec' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--seconds' && v) { o.seconds = Number(v); i++; }
    else if (a === '--concurrency' && v) { o.concurrency = Number(v); i++; }
    else if (a === '--versions' && v) { o.versions = v.split(',') as Options['versions']; i++; }
    else if (a === '--alg' && v) { o.alg = v as Options['alg']; i++; }
    else if (a === '--help') {
      console.log('usage: npm run bench -- tls [--seconds 5] [--concurrency 8] [--versions 1.3,1.2] [--alg ec|rsa]');
      process.exit(0);
    } else {
      console.error(`unknown argument ${a}`);
      process.exit(2);
    }
  }
  if (!(o.seconds > 0 && o.seconds <= 600) || !(o.concurrency >= 1 && o.concurrency <= 256) || o.versions.some((v) => v !== '1.2' && v !== '1.3') || (o.alg !== 'ec' && o.alg !== 'rsa')) {
    console.error('bad arguments: --seconds 1..600, --concurrency 1..256, --versions from 1.2,1.3, --alg ec|rsa');
    process.exit(2);
  }
  return o;
}

// ---------------------------------------------------------------- server (child process)

/** Counts audit records without keeping them (a refusal during the bench is a failure). */
class CountingSink implements AuditSink {
  refused = 0;
  append(r: AuditRecordInput): void {
    if (r.outcome !== 'success') this.refused++;
  }
}

async function serve(files: TlsMaterialFiles): Promise<void> {
  const material = await loadTlsMaterial(files);
  const audit = new CountingSink();
  let accepted = 0;
  const { server } = createMutualTlsServer(
    { kind: 'tls', material, profile: 'R1', audit, allowList: { roles: ['aggregator'] } },
    (socket) => {
      accepted++;
      socket.on('error', () => undefined);
      socket.end('k');
    },
  );
  server.on('error', (e) => { console.error('server error', e); process.exit(1); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', 511, resolve));
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'stats') process.send!({ cpu: process.cpuUsage(), accepted, refused: audit.refused });
    if (m.cmd === 'stop') server.close(() => process.exit(0));
  });
  process.send!({ port: (server.address() as AddressInfo).port });
}

// ---------------------------------------------------------------- client (this process)

interface ServerStats { cpu: NodeJS.CpuUsage; accepted: number; refused: number }

function ask(child: ChildProcess): Promise<ServerStats> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as ServerStats));
    child.send({ cmd: 'stats' });
  });
}

/** One connection: resolves when the server's first byte arrives (client authenticated). */
function handshake(opts: tls.ConnectionOptions): Promise<{ ok: boolean; reused: boolean; session?: Buffer }> {
  return new Promise((resolve) => {
    let session: Buffer | undefined;
    let settled = false;
    const s = tls.connect(opts);
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      const reused = s.isSessionReused();
      s.destroy();
      resolve({ ok, reused, ...(session ? { session } : {}) });
    };
    s.on('session', (b: Buffer) => { session = b; });
    s.once('data', () => {
      // TLS 1.3 tickets arrive after the handshake; wait briefly for one when we need it.
      if (!session && opts.session === undefined) setImmediate(() => done(true));
      else done(true);
    });
    s.on('error', () => done(false));
    s.on('close', () => done(false));
  });
}

async function measure(label: string, child: ChildProcess, base: tls.ConnectionOptions, seconds: number, concurrency: number, resume: boolean): Promise<void> {
  let session: Buffer | undefined;
  if (resume) {
    for (let i = 0; i < 20 && !session; i++) session = (await handshake(base)).session;
    if (!session) throw new Error(`${label}: the server issued no session ticket`);
  }
  const opts = resume ? { ...base, session } : base;
  // warm-up, so JIT and connection setup are not in the figure
  await Promise.all(Array.from({ length: concurrency }, () => handshake(opts)));
  const before = await ask(child);
  const clientBefore = process.cpuUsage();
  let ok = 0;
  let failed = 0;
  let reused = 0;
  const start = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < deadline) {
      const r = await handshake(opts);
      if (r.ok) ok++; else failed++;
      if (r.reused) reused++;
    }
  }));
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const clientUsed = process.cpuUsage(clientBefore);
  const clientCpu = (clientUsed.user + clientUsed.system) / 1e6;
  const after = await ask(child);
  const serverCpu = (after.cpu.user - before.cpu.user + after.cpu.system - before.cpu.system) / 1e6;
  const rate = ok / elapsed;
  console.log(
    `${label.padEnd(64)} ${rate.toFixed(0).padStart(7)} /s   (${ok} in ${elapsed.toFixed(2)} s, ` +
      `server CPU ${serverCpu.toFixed(2)} s = ${(ok / Math.max(serverCpu, 1e-9)).toFixed(0)} per server-CPU-second, ` +
      `client CPU ${clientCpu.toFixed(2)} s` +
      `${resume ? `, resumed ${ok > 0 ? ((reused / ok) * 100).toFixed(0) : 0}%` : ''}` +
      `${failed || after.refused - before.refused ? `, FAILED ${failed}, refused ${after.refused - before.refused}` : ''})`,
  );
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const cpu = cpus();
  console.log(`machine: ${cpu[0]?.model ?? 'unknown cpu'}, ${cpu.length} cores, node ${process.version}, OpenSSL ${process.versions.openssl}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`setup:   server and client in separate processes, ${opts.concurrency} connections in flight, ${opts.seconds} s per measurement, ${opts.alg === 'ec' ? 'ECDSA P-256' : 'RSA 2048'} certificates, profile R1`);

  const dir = mkdtempSync(join(tmpdir(), 'erab-bench-tls-'));
  let child: ChildProcess | undefined;
  try {
    const pki = await initCa({ dir, algorithm: opts.alg });
    const server = await pki.issue({ role: 'tso', id: 'TSO1', algorithm: opts.alg });
    const client = await pki.issue({ role: 'aggregator', id: 'AGG1', algorithm: opts.alg });
    child = fork(fileURLToPath(import.meta.url), ['--serve', JSON.stringify(server.files)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      child!.once('message', (m) => resolve((m as { port: number }).port));
      child!.once('exit', (code) => reject(new Error(`server process exited (${code})`)));
    });
    const material = await loadTlsMaterial(client.files);
    const expect = { role: 'tso', id: 'TSO1' } as const;
    for (const v of opts.versions) {
      const versioned: tls.ConnectionOptions = {
        host: '127.0.0.1',
        port,
        ...clientTlsOptions(material, 'R1', v === '1.2'
          ? { expect, maxVersion: 'TLSv1.2', ciphers: opts.alg === 'ec' ? 'ECDHE-ECDSA-AES128-SHA256' : 'AES128-SHA256' }
          : { expect, minVersion: 'TLSv1.3' }),
      };
      const suite = v === '1.2' ? (opts.alg === 'ec' ? 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256' : 'TLS_RSA_WITH_AES_128_CBC_SHA256') : 'TLS_AES_128_GCM_SHA256';
      await measure(`TLS ${v} full handshakes (${suite})`, child, versioned, opts.seconds, opts.concurrency, false);
      await measure(`TLS ${v} resumed handshakes`, child, versioned, opts.seconds, opts.concurrency, true);
    }
    child.send({ cmd: 'stop' });
    await new Promise((resolve) => child!.once('exit', resolve));
  } finally {
    if (child && child.exitCode === null) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve') {
  serve(JSON.parse(process.argv[3]!) as TlsMaterialFiles).catch((e) => { console.error(e); process.exit(1); });
} else {
  main().catch((e) => { console.error(e); process.exit(1); });
}
