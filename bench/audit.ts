/**
 * `npm run bench -- audit [--records 100000] [--checkpoint-every 1000]`: throughput of the
 * tamper-evident audit log on this machine, on a real store in a temporary directory.
 *
 * Prints: appends per second (synchronous write(2) per record, Merkle frontier update, a signed
 * and fsync'ed checkpoint every N records, segment seals), the cost of one checkpoint, the time to
 * open an existing log (which verifies it), the time of a full `verify` (tree, every checkpoint
 * signature and root, consistency proofs), and the time to compute an inclusion proof and a
 * consistency proof from the store.
 */
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuditLog } from '../src/security/audit/log.js';
import { consistencyProof, inclusionProof } from '../src/security/audit/proofs.js';
import { verifyAuditLog } from '../src/security/audit/verify.js';
import { parseVerifierKey } from '../src/security/audit/note.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(v) || v < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
  return v;
}

const records = arg('records', 100_000);
const every = arg('checkpoint-every', 1000);
const dir = mkdtempSync(join(os.tmpdir(), 'erab-bench-audit-'));
const fmt = (n: number, d = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

try {
  console.log(`audit log bench: ${fmt(records)} records, checkpoint every ${fmt(every)}, node ${process.version}, ${os.cpus().length} CPU(s) ${os.cpus()[0]?.model ?? ''}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const origin = 'bench.erab.example/audit';
  let t = performance.now();
  const log = AuditLog.open({ dir, origin, checkpointEvery: every, checkpointIntervalMs: 0 });
  const openEmpty = performance.now() - t;
  const cpu0 = process.cpuUsage();
  t = performance.now();
  for (let i = 0; i < records; i++) {
    log.append({
      actor: { kind: 'peer', id: `gw-${i % 5000}`, role: 'gateway', fingerprint: 'A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F:90:A1:B2:C3:D4', address: '127.0.0.1:40000' },
      action: 'openadr.poll',
      target: `ven-${i % 5000}`,
      outcome: i % 50 === 0 ? 'refused' : 'success',
      ...(i % 50 === 0 ? { reason: 'certificate not allow-listed' } : {}),
      details: { seq: i, bytes: 512 },
    });
  }
  const appendMs = performance.now() - t;
  const cpu = process.cpuUsage(cpu0);
  t = performance.now();
  const cps = 20;
  for (let i = 0; i < cps; i++) {
    log.append({ actor: { kind: 'system', id: 'bench' }, action: 'bench.checkpoint', outcome: 'success' });
    log.checkpoint();
  }
  const cpMs = (performance.now() - t) / cps;
  const vkey = parseVerifierKey(log.verifierKey);
  log.close();
  const total = records + cps;

  t = performance.now();
  AuditLog.open({ dir, origin }).close();
  const openMs = performance.now() - t;

  t = performance.now();
  const r = verifyAuditLog(dir, { verifier: vkey });
  const verifyMs = performance.now() - t;
  if (!r.ok) throw new Error(`bench log does not verify: ${r.problems[0]?.message}`);

  t = performance.now();
  const p = inclusionProof(dir, { index: Math.floor(records / 3) }, { verifier: vkey });
  const proofMs = performance.now() - t;
  t = performance.now();
  const c = consistencyProof(dir, { from: Math.floor(records / 2) }, { verifier: vkey });
  const consMs = performance.now() - t;

  console.log(`open (empty, creates key)      ${fmt(openEmpty, 1)} ms`);
  console.log(`append                         ${fmt(records / (appendMs / 1000))} records/s  (${fmt((appendMs * 1000) / records, 1)} µs/record wall, ${fmt((cpu.user + cpu.system) / records, 1)} µs/record CPU; includes ${fmt(Math.floor(records / every))} checkpoints)`);
  console.log(`checkpoint (fsync + sign)      ${fmt(cpMs, 2)} ms each`);
  console.log(`open existing (verifies)       ${fmt(openMs)} ms for ${fmt(total)} records (${fmt(total / (openMs / 1000))} records/s)`);
  console.log(`verify (tree + ${fmt(r.checkpoints.valid)} checkpoints + ${fmt(r.consistencyProofsChecked)} consistency proofs)  ${fmt(verifyMs)} ms (${fmt(total / (verifyMs / 1000))} records/s)`);
  console.log(`inclusion proof from store     ${fmt(proofMs)} ms (path of ${p.auditPath.length} hashes; includes a full verify)`);
  console.log(`consistency proof from store   ${fmt(consMs)} ms (${c.proof.length} hashes; includes a full verify)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
