/**
 * `npm run bench -- compliance [--devices N] [--store sqlite|postgres]`: how long `erab compliance
 * status` takes on a deployment with N devices and N registered gateways (default 100,000), in
 * process and as the CLI in its own process. The checks that read large state are SQL counts.
 */
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { AuditLog } from '../src/security/audit/log.js';
import { ComplianceService } from '../src/compliance/service.js';
import { deployment } from '../test/compliance/deployment.js';
import { freshDatabase } from '../test/store/harness.js';

const arg = (name: string, dflt: string) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1]! : dflt; };
const devices = Number(arg('--devices', '100000'));
const engine = arg('--store', 'sqlite');

console.log(`machine: ${os.cpus()[0]?.model} × ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GB RAM, Node ${process.version}`);
const pg = engine === 'postgres' ? await freshDatabase('erab_bench_compliance_') : undefined;
let t = performance.now();
const d = await deployment({ gateways: devices, ...(pg ? { aggStoreUrl: pg.url } : {}) });
console.log(`deployment: ${devices} devices and ${devices} R4 registrations on ${engine}, built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
try {
  const profile = d.profile();
  const audit = AuditLog.open({ dir: join(d.dir, 'bench-audit'), origin: 'erab.bench/compliance' });
  const s = await ComplianceService.open(profile, { audit });
  for (let i = 1; i <= 3; i++) {
    t = performance.now();
    const r = await s.run();
    const ms = performance.now() - t;
    const slow = [...r.assessment.checks.keys()];
    console.log(`in process, run ${i}: ${ms.toFixed(0)} ms (${slow.length} checks, ${r.assessment.controls.length} controls)`);
  }
  await s.close(); audit.close();
  const file = join(d.dir, 'bench-profile.json');
  writeFileSync(file, JSON.stringify({ ...profile, store: join(d.dir, 'bench-cli.db'), audit: { dir: join(d.dir, 'bench-cli-audit') } }));
  const bin = fileURLToPath(new URL('../../bin/erab.js', import.meta.url));
  t = performance.now();
  try { execFileSync(process.execPath, [bin, 'compliance', 'status', '--profile', file], { stdio: 'ignore', env: { ...process.env, ERAB_NODE_TUNING: 'off' } }); } catch { /* exit 1: 勧告 items need decisions */ }
  console.log(`erab compliance status (own process, incl. Node start): ${((performance.now() - t) / 1000).toFixed(2)} s`);
} finally {
  await d.close();
  await pg?.drop();
}
