/**
 * `npm run bench -- portfolio-import [--sites 100000] [--runs 3] [--postgres URL]`: time a portfolio
 * import (one site with one battery per row, every site with a name and an address) into a fresh
 * store, with personal fields in clear and sealed by the vault (src/store/vault.ts: each import
 * batch of sites sealed as one AES-256-GCM record under a key derived from a data key wrapped by a
 * key-encryption key). Median and min of N runs
 * per mode, modes interleaved (in alternating order) so machine load and garbage collection hit both alike, and the CPU time this process
 * spent (less sensitive to other load on a shared machine; PostgreSQL's own work is not in it);
 * SQLite always, PostgreSQL when given.
 */
import os from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore } from '../src/store/store.js';
import { Portfolio } from '../src/roles/aggregator/portfolio/portfolio.js';
import { portfolioMigrations } from '../src/roles/aggregator/portfolio/tables.js';
import { FileKeyring, newKekText } from '../src/security/privacy/keyring.js';
import { PersonalDataVault } from '../src/store/vault.js';
import { portfolioCsv } from './lib/portfolio-csv.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const sites = Number(arg('sites', '100000'));
const runs = Number(arg('runs', '3'));
const pgUrl = arg('postgres', '');

const csv = portfolioCsv(sites);

const dir = mkdtempSync(join(tmpdir(), 'erab-bench-portfolio-'));
const kek = join(dir, 'kek.key');
writeFileSync(kek, newKekText(), { mode: 0o600 });

async function once(engine: 'sqlite' | 'postgres', encrypted: boolean, run: number): Promise<{ wall: number; cpu: number }> {
  let url = join(dir, `${encrypted ? 'enc' : 'clear'}-${run}.db`);
  let schema: string | undefined;
  if (engine === 'postgres') {
    url = pgUrl;
    schema = `erab_bench_${randomBytes(4).toString('hex')}`;
  }
  const store = await openStore({ url, migrations: portfolioMigrations, ...(schema ? { schema } : {}) });
  try {
    const vault = encrypted ? new PersonalDataVault(FileKeyring.fromFiles(kek)) : undefined;
    const p = new Portfolio(store, vault ? { vault } : {});
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await p.importText(csv, 'csv', 'bench.csv', { kind: 'operator', id: 'bench' });
    const c = process.cpuUsage(c0);
    return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
  } finally {
    await store.close();
    if (schema) {
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      await c.query(`drop schema "${schema}" cascade`);
      await c.end();
    }
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cpus = os.cpus();
console.log(`portfolio-import bench — cpu: ${cpus[0]?.model ?? 'unknown'} × ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}, ${os.platform()} ${os.arch()}; load average ${os.loadavg()[0]!.toFixed(1)}; ${sites} sites (one resource each), runs: ${runs}`);
try {
  for (const engine of pgUrl ? (['sqlite', 'postgres'] as const) : (['sqlite'] as const)) {
    const t: Record<'clear' | 'sealed', { wall: number; cpu: number }[]> = { clear: [], sealed: [] };
    for (let r = 0; r < runs; r++) {
      // The order alternates, so garbage one mode leaves behind is collected as often in the other's time.
      for (const sealed of r % 2 === 0 ? [false, true] : [true, false]) t[sealed ? 'sealed' : 'clear'].push(await once(engine, sealed, r));
    }
    const fig = (xs: { wall: number; cpu: number }[]) => ({ wall: median(xs.map((x) => x.wall)), min: Math.min(...xs.map((x) => x.wall)), cpu: median(xs.map((x) => x.cpu)) });
    const c = fig(t.clear);
    const s = fig(t.sealed);
    const pct = (a: number, b: number) => `${(((a - b) / b) * 100).toFixed(1)}%`;
    console.log(`${engine.padEnd(8)} clear  wall median ${c.wall.toFixed(0)} ms  min ${c.min.toFixed(0)} ms  cpu median ${c.cpu.toFixed(0)} ms`);
    console.log(`${engine.padEnd(8)} sealed wall median ${s.wall.toFixed(0)} ms  min ${s.min.toFixed(0)} ms  cpu median ${s.cpu.toFixed(0)} ms`);
    console.log(`${engine.padEnd(8)} overhead: wall median ${pct(s.wall, c.wall)}, wall min ${pct(s.min, c.min)}, cpu median ${pct(s.cpu, c.cpu)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
