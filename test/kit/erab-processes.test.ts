/**
 * The kit's world of separate `erab` processes: a TSO, an aggregator, a gateway and a simulated
 * home come up from their configuration files; the aggregator registers with the TSO and sees the
 * battery online; the battery's mode is read over ECHONET Lite from its own process; the audit logs
 * are read from disk; stop() ends them all with exit 0, and says which role did not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { batteryOperationMode } from '../../src/protocols/echonet/objects/storage-battery.js';
import { erabWorld, runErab, waitFor } from './index.js';

test('erabWorld: TSO, aggregator, gateway and home as processes; API, UDP and audit logs from outside; a clean stop', { timeout: 240_000 }, async () => {
  const world = await erabWorld({ prefix: 'erab-kit-world-', operators: { alice: 'operator' }, gateways: [{ id: 'GW1', admit: true }], tso: true });
  let stopped = false;
  try {
    assert.ok(world.tso && world.aggregator.consolePort > 0 && world.aggregator.downstreamPort > 0);
    const [battery] = await world.onlineBatteries('alice', 'GW1');
    assert.match(battery!, /^027D01-/);
    const mode = await world.batteryMode(world.sites[0]!);
    assert.ok(mode in batteryOperationMode.codes, mode);
    // The aggregator registered with the TSO: the TSO's operator says so through its own CLI.
    const alice = world.pki.get('alice').files;
    await waitFor('AGG1 registered at the TSO', async () => /registered aggregators: AGG1/.test(await runErab(['tso', 'status', '--api', `https://127.0.0.1:${world.tso!.apiPort}`, '--cert', alice.certFile, '--key', alice.keyFile, '--ca', world.pki.tlsFiles('alice').caFile])), 90_000);
    // The read above is in the aggregator's audit log on disk, under alice's name.
    assert.ok(world.auditRecords('aggregator').some((r) => r.action === 'console.api.fleet.devices' && r.actor.id === 'alice'));
    assert.ok(world.auditRecords('GW1').length > 0);
    assert.ok(world.auditRecords('tso').length > 0);
    assert.throws(() => world.auditRecords('GW9'), /no audit log for "GW9" \(have: aggregator, GW1, tso\)/);
    await world.stop();
    stopped = true;
    for (const r of [world.aggregator, world.tso!, ...world.gateways, ...world.sites]) assert.equal(r.proc.exitCode, 0, r.name);
  } finally {
    if (!stopped) await world.stop();
  }
});

test('erabWorld: stop() names a role that did not exit 0', { timeout: 120_000 }, async () => {
  const world = await erabWorld({ prefix: 'erab-kit-world-', operators: { alice: 'viewer' }, portfolio: false });
  world.aggregator.proc.kill('SIGKILL');
  await assert.rejects(world.stop(), /aggregator stopped with SIGKILL/);
  rmSync(world.dir, { recursive: true, force: true });
});
