/**
 * `npm run bench -- allocate [--runs N] [--sizes 1000,10000,100000]`: time dispatch allocation for 1k, 10k and 100k
 * resources, for a level reduction event and for a 30-minute set-point profile.
 * Figures are wall-clock ms of the whole `allocate()` call (validation, sort, fill, result),
 * median and max of N runs after one warm-up run, plus the median CPU time of this process
 * (less sensitive to other load on a shared machine); the pool is generated once per size
 * from a fixed seed (typical Japanese residential resources, docs/architecture.md §4).
 *
 * `--portfolio N` (default off; `--portfolio 100000` for issue 18's figure): the dispatch path from a
 * portfolio at rest instead — N sites imported into a SQLite store with personal fields in clear and
 * sealed by the vault (src/store/vault.ts), then timed: read the pool's resources from the store,
 * make them allocatable (with a state of charge), allocate a level reduction. Modes interleaved,
 * so machine load hits both alike; prints both and the overhead of sealing.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { epochMillis, millis, wattHours, watts } from '../src/core/units.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allocate, levelRequest } from '../src/roles/aggregator/allocation/index.js';
import { toAllocatable } from '../src/roles/aggregator/portfolio/allocatable.js';
import { Portfolio } from '../src/roles/aggregator/portfolio/portfolio.js';
import { portfolioMigrations } from '../src/roles/aggregator/portfolio/tables.js';
import { FileKeyring, newKekText } from '../src/security/privacy/keyring.js';
import { openStore } from '../src/store/store.js';
import { PersonalDataVault } from '../src/store/vault.js';
import { BENCH_POOL, portfolioCsv } from './lib/portfolio-csv.js';
import type { AllocatableResource, AllocationRequest } from '../src/roles/aggregator/allocation/index.js';

/** Small deterministic PRNG (mulberry32) so every run benches the same pool. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const T0 = Date.UTC(2026, 6, 1, 7, 0); // 16:00 JST
const H = 3_600_000;

function pool(n: number, seed: number): AllocatableResource[] {
  const r = rng(seed);
  const out: AllocatableResource[] = [];
  for (let i = 0; i < n; i++) {
    const id = `res-${String(i).padStart(7, '0')}`;
    const u = r();
    if (u < 0.45) {
      const cap = 5000 + r() * 11000; // 5–16 kWh
      const inv = 2000 + r() * 4000; // 2–6 kW
      out.push({
        id,
        resourceClass: 'battery',
        maxReduceW: watts(inv),
        maxIncreaseW: watts(inv),
        storage: { socWh: wattHours(cap * (0.2 + 0.8 * r())), capacityWh: wattHours(cap), reservePercent: 30, chargeEfficiency: 0.95, dischargeEfficiency: 0.95 },
        rampWPerS: 100 + r() * 900,
        costPerKWh: Math.round(5 + r() * 10),
        reliability: 0.8 + 0.2 * r(),
      });
    } else if (u < 0.55) {
      const cap = 40000 + r() * 20000; // 40–60 kWh, 6 kW V2H
      out.push({
        id,
        resourceClass: 'ev',
        maxReduceW: watts(6000),
        maxIncreaseW: watts(6000),
        storage: { socWh: wattHours(cap * (0.3 + 0.7 * r())), capacityWh: wattHours(cap), reservePercent: 60 },
        availability: [{ from: epochMillis(T0 - 6 * H), to: epochMillis(T0 + (2 + Math.floor(r() * 6)) * H) }],
        costPerKWh: Math.round(8 + r() * 12),
      });
    } else if (u < 0.75) {
      const w = 1000 + r() * 500; // EcoCute heating 1–1.5 kW, on/off
      out.push({ id, resourceClass: 'water_heater', maxReduceW: watts(r() < 0.5 ? w : 0), minReduceW: watts(0), maxIncreaseW: watts(w), minIncreaseW: watts(w), increaseEnergyLimitWh: wattHours(3000 + r() * 3000), costPerKWh: Math.round(2 + r() * 6) });
    } else if (u < 0.9) {
      out.push({ id, resourceClass: 'load', maxReduceW: watts(200 + r() * 800), maxIncreaseW: watts(0), reduceEnergyLimitWh: wattHours(500 + r() * 1500), costPerKWh: Math.round(10 + r() * 20) });
    } else {
      const pv = 3000 + r() * 3000;
      out.push({ id, resourceClass: 'pv', maxReduceW: watts(0), maxIncreaseW: watts(pv * r()), costPerKWh: Math.round(15 + r() * 10) });
    }
  }
  return out;
}

function stats(ms: number[]): { median: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, max: s[s.length - 1]! };
}

function main(): void {
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg >= 0 ? Math.max(1, Number(process.argv[runsArg + 1]) || 7) : 7;
  const sizesArg = process.argv.indexOf('--sizes');
  const sizes = sizesArg >= 0 ? String(process.argv[sizesArg + 1]).split(',').map(Number).filter((x) => Number.isInteger(x) && x > 0) : [1_000, 10_000, 100_000];
  const cpus = os.cpus();
  console.log(`allocate bench — cpu: ${cpus[0]?.model ?? 'unknown'} × ${cpus.length} cores, node ${process.version}, ${os.platform()} ${os.arch()}, runs: ${runs} (+1 warm-up)`);
  console.log(`load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (other processes share these cores; cpu ms = this process's user+system time, incl. GC threads)`);
  console.log('size      scenario                          median ms   max ms  cpu med ms   allocated/target          instructed');
  for (const n of sizes) {
    const resources = pool(n, 42 + n);
    // Level event: reduce 25 % of the pool's reducible power for 2 h (三次② style, 30-min blocks).
    const reducible = resources.reduce((s, r) => s + r.maxReduceW, 0);
    const level: AllocationRequest = { ...levelRequest(`level-${n}`, 'reduce', watts(reducible * 0.25), epochMillis(T0), epochMillis(T0 + 2 * H)), responseTimeMs: millis(900_000) };
    // Set-point profile: 8 × 30 min (4 h) following an evening shape, 10–30 % of reducible power.
    const shape = [0.1, 0.15, 0.2, 0.3, 0.3, 0.25, 0.15, 0.1];
    const profile: AllocationRequest = {
      eventId: `profile-${n}`,
      direction: 'reduce',
      intervals: shape.map((f, k) => ({ start: epochMillis(T0 + k * (H / 2)), end: epochMillis(T0 + (k + 1) * (H / 2)), targetW: watts(reducible * f) })),
    };
    // Increase (上げDR) day profile: 48 × 30 min, a midday PV-surplus block.
    const increasable = resources.reduce((s, r) => s + r.maxIncreaseW, 0);
    const day: AllocationRequest = {
      eventId: `day-${n}`,
      direction: 'increase',
      intervals: Array.from({ length: 48 }, (_, k) => ({ start: epochMillis(T0 + k * (H / 2)), end: epochMillis(T0 + (k + 1) * (H / 2)), targetW: watts(k >= 18 && k < 30 ? increasable * 0.1 : increasable * 0.01) })),
    };
    // An impossible profile (the pool is asked for 150 % of its power): shortfall must be reported fast.
    const impossible: AllocationRequest = { ...profile, eventId: `impossible-${n}`, intervals: profile.intervals.map((iv, k) => ({ ...iv, targetW: watts(reducible * (k % 2 === 0 ? 1.5 : 0.05)) })) };
    for (const [label, req] of [['reduce level 2 h', level], ['reduce profile 8×30 min', profile], ['increase profile 48×30 min', day], ['impossible profile 8×30 min', impossible]] as const) {
      const times: number[] = [];
      const cpu: number[] = [];
      let last = allocate(req, resources);
      for (let i = 0; i < runs; i++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        last = allocate(req, resources);
        times.push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1000);
      }
      const { median, max } = stats(times);
      const cpuMedian = stats(cpu).median;
      const alloc = last.allocatedW.reduce((a, b) => a + b, 0);
      const target = req.intervals.reduce((a, iv) => a + iv.targetW, 0);
      console.log(
        `${String(n).padEnd(9)} ${label.padEnd(33)} ${median.toFixed(1).padStart(9)} ${max.toFixed(1).padStart(8)} ${cpuMedian.toFixed(1).padStart(11)}   ${(alloc / target).toFixed(4).padStart(8)}${(last.meetsTarget ? ' met' : last.shortfallExact ? ' short (exact)' : ' short').padEnd(15)}   ${String(last.instructions.length).padStart(10)}`,
      );
    }
  }
}

/** Allocation from a portfolio store, clear and sealed (see the file's comment). */
async function fromPortfolio(sites: number, runs: number): Promise<void> {
  const dir = mkdtempSync(join(os.tmpdir(), 'erab-bench-allocate-'));
  const kek = join(dir, 'kek.key');
  writeFileSync(kek, newKekText(), { mode: 0o600 });
  const csv = portfolioCsv(sites);
  const modes = { clear: undefined, sealed: new PersonalDataVault(FileKeyring.fromFiles(kek)) } as const;
  const opened: Record<string, { portfolio: Portfolio; close: () => Promise<void> }> = {};
  console.log(`allocate from a portfolio at rest — ${sites} sites, runs: ${runs} (+1 warm-up); load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  try {
    for (const [mode, vault] of Object.entries(modes)) {
      const store = await openStore({ url: join(dir, `${mode}.db`), migrations: portfolioMigrations });
      const portfolio = new Portfolio(store, vault ? { vault } : {});
      await portfolio.importText(csv, 'csv', 'bench.csv', { kind: 'operator', id: 'bench' });
      opened[mode] = { portfolio, close: () => store.close() };
    }
    const once = async (p: Portfolio): Promise<{ wall: number; cpu: number; allocated: number }> => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const resources = (await p.poolResources(BENCH_POOL)).map((r) => toAllocatable(r, { socWh: wattHours(6000) })).filter((r) => r !== undefined);
      const reducible = resources.reduce((s, r) => s + r.maxReduceW, 0);
      const result = allocate({ ...levelRequest(`level-${sites}`, 'reduce', watts(reducible * 0.25), epochMillis(T0), epochMillis(T0 + 2 * H)), responseTimeMs: millis(900_000) }, resources);
      const c = process.cpuUsage(c0);
      return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000, allocated: result.instructions.length };
    };
    const t: Record<string, { wall: number[]; cpu: number[]; allocated: number }> = { clear: { wall: [], cpu: [], allocated: 0 }, sealed: { wall: [], cpu: [], allocated: 0 } };
    for (const mode of Object.keys(modes)) await once(opened[mode]!.portfolio); // warm-up
    for (let i = 0; i < runs; i++) {
      // The order alternates, so garbage one mode leaves behind is collected as often in the other's time.
      for (const mode of i % 2 === 0 ? ['clear', 'sealed'] : ['sealed', 'clear']) {
        const r = await once(opened[mode]!.portfolio);
        t[mode]!.wall.push(r.wall);
        t[mode]!.cpu.push(r.cpu);
        t[mode]!.allocated = r.allocated;
      }
    }
    for (const mode of Object.keys(modes)) {
      console.log(`${mode.padEnd(7)} read pool + allocate: wall median ${stats(t[mode]!.wall).median.toFixed(1)} ms  max ${stats(t[mode]!.wall).max.toFixed(1)} ms  cpu median ${stats(t[mode]!.cpu).median.toFixed(1)} ms  (${t[mode]!.allocated} resources instructed)`);
    }
    const pct = (k: 'wall' | 'cpu') => `${(((stats(t.sealed![k]).median - stats(t.clear![k]).median) / stats(t.clear![k]).median) * 100).toFixed(1)}%`;
    console.log(`overhead of sealing: wall median ${pct('wall')}, cpu median ${pct('cpu')}`);
  } finally {
    for (const o of Object.values(opened)) await o.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const portfolioArg = process.argv.indexOf('--portfolio');
if (portfolioArg >= 0) {
  const runsArg = process.argv.indexOf('--runs');
  await fromPortfolio(Number(process.argv[portfolioArg + 1]) || 100_000, runsArg >= 0 ? Math.max(1, Number(process.argv[runsArg + 1]) || 7) : 7);
} else {
  main();
}
