/**
 * `npm run bench -- echonet [--sites 200] [--base-address 127.9.0.1] [--controller 127.8.0.1] [--seconds 1]`
 *
 * 1. Codec throughput: frames decoded and encoded per second (a Get_Res with three properties,
 *    a SetGet, and a 17-byte bitmap property map), each timed for `--seconds`.
 * 2. Polling: `--sites` simulated homes (battery, PV, EV charger/discharger, water heater and
 *    smart meter: 5 device instances each, so 200 sites = 1,000 devices) on distinct
 *    127.x.y.z addresses, each one ECHONET Lite node on UDP 3610; one controller discovers and
 *    identifies them, then polls every device once (one Get of its key measurements), with the
 *    controller's default per-node pacing (20 requests/s per node) and with pacing lifted.
 *    Figures are wall-clock times on this machine (shared, 2 cores: expect noise).
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { decodeFrame, encodeFrame, type Frame } from '../src/protocols/echonet/frame.js';
import { Esv } from '../src/protocols/echonet/esv.js';
import { eoj, eojClass, type Eoj } from '../src/protocols/echonet/eoj.js';
import { decodePropertyMap, encodePropertyMap } from '../src/protocols/echonet/property-map.js';
import { EchonetController } from '../src/protocols/echonet/controller.js';
import { startSites } from '../src/roles/device/sites.js';
import type { DeviceSite } from '../src/roles/device/site.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const SECONDS = Number(arg('seconds', '1'));
const SITES = Number(arg('sites', '200'));
const BASE = arg('base-address', '127.9.0.1');
const CONTROLLER = arg('controller', '127.8.0.1');

function rate(label: string, fn: () => void): void {
  for (let i = 0; i < 10_000; i++) fn(); // warm-up
  let n = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
  }
  const s = (performance.now() - start) / 1000;
  console.log(`  ${label.padEnd(46)} ${Math.round(n / s).toLocaleString('en-US').padStart(12)} /s`);
}

function codec(): void {
  const getRes: Frame = {
    tid: 0x1234, seoj: eoj(0x027d, 1), deoj: eoj(0x05ff, 1), esv: Esv.Get_Res,
    properties: [{ epc: 0xe4, edt: Uint8Array.of(55) }, { epc: 0xd3, edt: Uint8Array.of(0xff, 0xff, 0xf8, 0x30) }, { epc: 0xda, edt: Uint8Array.of(0x42) }],
  };
  const setGet: Frame = {
    tid: 7, seoj: eoj(0x05ff, 1), deoj: eoj(0x027d, 1), esv: Esv.SetGet,
    properties: [{ epc: 0xda, edt: Uint8Array.of(0x43) }, { epc: 0xec, edt: Uint8Array.of(0, 0, 0x0b, 0xb8) }],
    getProperties: [{ epc: 0xe4, edt: new Uint8Array(0) }, { epc: 0xd3, edt: new Uint8Array(0) }],
  };
  const getResBytes = encodeFrame(getRes);
  const setGetBytes = encodeFrame(setGet);
  const map = Array.from({ length: 24 }, (_, i) => 0x80 + i * 5);
  const mapBytes = encodePropertyMap(map);
  console.log('codec (single thread):');
  rate(`decode Get_Res, 3 properties (${getResBytes.length} B)`, () => { decodeFrame(getResBytes); });
  rate(`encode Get_Res, 3 properties`, () => { encodeFrame(getRes); });
  rate(`decode SetGet, 2+2 properties (${setGetBytes.length} B)`, () => { decodeFrame(setGetBytes); });
  rate(`encode SetGet, 2+2 properties`, () => { encodeFrame(setGet); });
  rate('decode property map, bitmap form (24 EPCs)', () => { decodePropertyMap(mapBytes); });
  rate('encode property map, bitmap form (24 EPCs)', () => { encodePropertyMap(map); });
}

/** The measurement each device class is polled for. */
const POLL: Record<number, number[]> = {
  0x027d: [0xe4, 0xd3, 0xda, 0xcf],
  0x0279: [0xe0, 0xe1],
  0x027e: [0xc7, 0xd3, 0xe4, 0xda],
  0x026b: [0xb2, 0xe1, 0x84],
  0x0288: [0xe7, 0xe0, 0xe3],
};

async function pollOnce(c: EchonetController, targets: { address: string; device: Eoj }[]): Promise<{ ms: number; ok: number; failed: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const start = performance.now();
  await Promise.all(targets.map(async (t) => {
    const t0 = performance.now();
    try {
      const r = await c.getProperties(t.address, t.device, POLL[eojClass(t.device)] ?? [0x80]);
      if (r.every((p) => p.ok)) ok++;
      else failed++;
    } catch {
      failed++;
    }
    latencies.push(performance.now() - t0);
  }));
  const ms = performance.now() - start;
  latencies.sort((a, b) => a - b);
  return { ms, ok, failed, p50: latencies[Math.floor(latencies.length * 0.5)] ?? 0, p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0 };
}

async function polling(): Promise<void> {
  console.log(`\npolling: ${SITES} sites × 5 devices = ${SITES * 5} device instances, one node per site from ${BASE}, controller ${CONTROLLER}`);
  let sites: DeviceSite[] = [];
  const t0 = performance.now();
  sites = await startSites({
    count: SITES, baseAddress: BASE,
    template: { startTime: Date.UTC(2026, 5, 21, 3), battery: {}, pv: {}, ev: {}, waterHeater: {}, meter: {} },
  }, { realtime: false });
  console.log(`  started ${sites.length} nodes in ${(performance.now() - t0).toFixed(0)} ms`);
  let devices: { address: string; device: Eoj }[] = [];
  try {
    for (const [label, rateLimit] of [['default pacing (20 req/s per node)', undefined], ['pacing lifted', 1_000_000]] as const) {
      // One controller at a time: both bind UDP 3610 of the controller address (nodes answer to 3610).
      const c = await EchonetController.start({ address: CONTROLLER, timeoutMs: 5000, retries: 2, ...(rateLimit ? { perNodeRate: rateLimit } : {}) });
      try {
        if (devices.length === 0) {
          const d0 = performance.now();
          const nodes = await c.discover({ addresses: sites.map((s) => s.config.address) });
          devices = nodes.flatMap((n) => n.instances.map((device) => ({ address: n.address, device })));
          console.log(`  discovered and identified ${nodes.length} nodes / ${devices.length} devices (node profile + maps of each instance) in ${(performance.now() - d0).toFixed(0)} ms`);
        }
        await pollOnce(c, devices); // warm-up round
        const runs = [];
        for (let i = 0; i < 3; i++) runs.push(await pollOnce(c, devices));
        runs.sort((a, b) => a.ms - b.ms);
        const med = runs[1]!;
        console.log(`  poll ${devices.length} devices once, ${label}: median ${med.ms.toFixed(0)} ms (runs ${runs.map((r) => r.ms.toFixed(0)).join(', ')} ms); ok ${med.ok}, failed ${med.failed}; per-request latency p50 ${med.p50.toFixed(1)} ms, p99 ${med.p99.toFixed(1)} ms`);
      } finally {
        await c.close();
      }
    }
  } finally {
    await Promise.all(sites.map((s) => s.close()));
  }
}

async function main(): Promise<void> {
  console.log(`echonet bench — node ${process.version}, ${os.cpus().length} CPU(s) ${os.cpus()[0]?.model ?? ''}, load avg ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  codec();
  await polling();
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
