/** `erab device ...` through the real CLI entry point. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { DeviceSite } from '../../../src/roles/device/site.js';

const MAIN = new URL('../../../src/cli/main.js', import.meta.url).href;

/** Runs the real CLI in a child process (stdout of this process belongs to the test runner). */
function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const script = `import(${JSON.stringify(MAIN)}).then((m) => m.main(['node', 'erab', ...JSON.parse(process.argv[1])])).then((c) => { process.exitCode = c; })`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', script, JSON.stringify(args)], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, out: stdout, err: stderr });
    });
  });
}

test('erab device site starts a node that announces its instances, and stops after --duration', async () => {
  const r = await run(['device', 'site', '--address', '127.3.6.2', '--battery', '12:4', '--pv', '5', '--ev', '--water-heater', '--aircon', '--ev-hours', '18-8', '--pv-noise', '0.2', '--speed', '60', '--duration', '0.3']);
  assert.equal(r.code, 0, r.err);
  const line = JSON.parse(r.out.trim()) as { address: string; instances: string[]; speed: number };
  assert.equal(line.address, '127.3.6.2');
  assert.deepEqual(line.instances, ['027D01', '027901', '027E01', '026B01', '013001', '028801']);
  assert.equal(line.speed, 60);
});

test('erab device site plays lighting and a fuel cell with --lighting and --fuel-cell', async () => {
  const r = await run(['device', 'site', '--address', '127.17.5.2', '--lighting', '200', '--fuel-cell', '--duration', '0.3']);
  assert.equal(r.code, 0, r.err);
  const line = JSON.parse(r.out.trim()) as { instances: string[] };
  assert.deepEqual([...line.instances].sort(), ['027C01', '028801', '029001']);
});

test('erab device sites starts consecutive addresses', async () => {
  const r = await run(['device', 'sites', '--count', '3', '--base-address', '127.3.6.10', '--battery', '--duration', '0.3']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.out.trim().split('\n').map((l) => (JSON.parse(l) as { address: string }).address), ['127.3.6.10', '127.3.6.11', '127.3.6.12']);
});

test('erab device probe identifies a site and reads its values; unreachable nodes fail with 1', async () => {
  const site = await DeviceSite.start({ address: '127.3.6.21', battery: { initialSocPercent: 64 } }, { realtime: false });
  try {
    const r = await run(['device', 'probe', '--from', '127.3.6.20', '--json', '127.3.6.21']);
    assert.equal(r.code, 0, r.err + r.out);
    const j = JSON.parse(r.out) as { nodes: { identity: { productionNumber: string }; objects: { eoj: string; values: Record<string, unknown> }[] }[] };
    assert.equal(j.nodes[0]!.identity.productionNumber, 'S0615');
    const bat = j.nodes[0]!.objects.find((o) => o.eoj === '027D01')!;
    assert.equal(bat.values.remainingCapacityPercent, 64);
    assert.equal(bat.values.operationMode, 'standby');
    const miss = await run(['device', 'probe', '--from', '127.3.6.20', '--timeout-ms', '300', '127.3.6.99']);
    assert.equal(miss.code, 1);
    assert.match(miss.out, /127\.3\.6\.99  no answer/);
  } finally {
    await site.close();
  }
});

test('bad device options are usage errors (exit 2) naming the option', async () => {
  const a = await run(['device', 'site', '--address', '127.3.6.30', '--battery', 'big']);
  assert.equal(a.code, 2);
  assert.match(a.err, /--battery "big"/);
  const b = await run(['device', 'site', '--address', '127.3.6.30', '--speed', '-1']);
  assert.equal(b.code, 2);
  const d = await run(['device', 'site', '--address', '127.3.6.30', '--ev-hours', '18-8']);
  assert.equal(d.code, 2);
  assert.match(d.err, /--ev-hours needs --ev/);
  const c = await run(['device', 'site', '--address', '127.3.6.30', '--battery', '0.1:3', '--duration', '0.1']);
  assert.equal(c.code, 1);
  assert.match(c.err, /battery\.capacityWh/);
});
