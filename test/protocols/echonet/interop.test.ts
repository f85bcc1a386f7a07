/**
 * Interop with an independent implementation, the `echonet-lite` npm package, in both directions
 * over real UDP, including multicast discovery. It binds 0.0.0.0:3610 and multicasts on the
 * default interface, so the scenario (interop-scenario.ts) runs inside a network namespace this
 * test creates: loopback up with multicast and a route for 224.0.0.0/4 (src 127.0.0.1, else the
 * kernel would source its multicast from 0.0.0.0). The namespace is always deleted afterwards;
 * if one cannot be created (not root, no `ip`), the test is skipped with the reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const NS = `erab-echonet-${process.pid}`;
const SCENARIO = fileURLToPath(new URL('./interop-scenario.js', import.meta.url));

function ip(...args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}` };
}

function createNamespace(): string | undefined {
  const add = ip('netns', 'add', NS);
  if (!add.ok) return `cannot create network namespace ${NS}: ${add.out.trim()}`;
  for (const step of [['link', 'set', 'lo', 'up'], ['link', 'set', 'lo', 'multicast', 'on'], ['route', 'add', '224.0.0.0/4', 'dev', 'lo', 'src', '127.0.0.1']]) {
    const r = ip('-n', NS, ...step);
    if (!r.ok) {
      ip('netns', 'del', NS);
      return `cannot configure namespace (${step.join(' ')}): ${r.out.trim()}`;
    }
  }
  return undefined;
}

interface ScenarioResult {
  error?: string;
  discoveredByOurController: string[];
  libInstances: string[];
  libMakerCode: number;
  libBatteryGetMap: number[];
  libRead: { epc: number; ok: boolean; value: number[] }[];
  libSet: { epc: number; ok: boolean }[];
  libModeAfterSet: number[];
  libRefusedSet: { epc: number; ok: boolean }[];
  libUnknownGet: { epc: number; ok: boolean }[];
  ourInstancesSeenByLib: string[];
  ourSocReadByLib: number;
  ourPvReadByLib: Record<string, string>;
  ourSetResToLib: Record<string, string>;
  ourInfSeenByLib: Record<string, string>;
  ourBatteryModeAfterLibSet: string;
  ourSnaToLib: Record<string, string>;
  ourChargeSettingAfterRefusal: number;
}

const skip = process.getuid?.() === 0 ? createNamespace() : 'needs root to create a network namespace';

test('echonet-lite (npm) and erab interoperate both ways: discovery, Get, SetC, INF, _SNA', { skip: skip ?? false, timeout: 90_000 }, async () => {
  try {
    const out = await new Promise<string>((resolve, reject) => {
      execFile('ip', ['netns', 'exec', NS, process.execPath, SCENARIO], { timeout: 60_000 }, (err, stdout, stderr) => {
        if (err && !stdout.includes('RESULT ')) reject(new Error(`scenario failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
    const line = out.split('\n').find((l) => l.startsWith('RESULT '));
    assert.ok(line, out);
    const r = JSON.parse(line.slice(7)) as ScenarioResult;
    assert.equal(r.error, undefined, r.error);

    // Our controller → the device served by echonet-lite.
    assert.deepEqual(r.discoveredByOurController, ['127.0.0.1', '127.0.0.3'], 'multicast discovery finds the library node and our site');
    assert.deepEqual(r.libInstances, ['05FF01', '027D01']);
    assert.equal(r.libMakerCode, 0x77);
    assert.ok(r.libBatteryGetMap.includes(0xe4));
    assert.deepEqual(r.libRead, [{ epc: 0xe4, ok: true, value: [0x37] }, { epc: 0xda, ok: true, value: [0x44] }]);
    assert.deepEqual(r.libSet, [{ epc: 0xda, ok: true }]);
    assert.deepEqual(r.libModeAfterSet, [0x42]);
    assert.deepEqual(r.libRefusedSet, [{ epc: 0xda, ok: false }], 'library answers SetC_SNA, which we read as a refusal');
    assert.deepEqual(r.libUnknownGet, [{ epc: 0xe5, ok: false }]);

    // echonet-lite as controller → our simulators.
    assert.deepEqual(r.ourInstancesSeenByLib, ['027D01', '027901', '028801']);
    assert.equal(r.ourSocReadByLib, 50);
    assert.ok(parseInt(r.ourPvReadByLib.e0!, 16) > 3000, `PV at June noon: ${r.ourPvReadByLib.e0}`);
    assert.deepEqual(r.ourSetResToLib, { da: '' });
    assert.deepEqual(r.ourInfSeenByLib, { da: '42' }, 'our battery announces the mode change by INF to the group');
    assert.equal(r.ourBatteryModeAfterLibSet, 'charging');
    assert.deepEqual(r.ourSnaToLib, { eb: 'ffffffff' }, 'out-of-range Set from the library refused with SetC_SNA');
    assert.equal(r.ourChargeSettingAfterRefusal, 3000);
  } finally {
    const del = ip('netns', 'del', NS);
    assert.ok(del.ok, `namespace ${NS} not deleted: ${del.out}`);
  }
});
