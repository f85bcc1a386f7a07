/**
 * The gateway's durable state (admission registry, replay state) on both engines: what was
 * written survives closing and reopening the database, so a restart neither forgets an
 * admission decision nor accepts a replayed command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import { epochMillis } from '../../../src/core/units.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { AdmissionRegistry } from '../../../src/roles/gateway/admission.js';
import { GATEWAY_DB_MIGRATIONS, SqlAdmissionStore, SqlReplayStore } from '../../../src/roles/gateway/persistence.js';
import { describeEachEngine } from '../../store/harness.js';

describeEachEngine('gateway persistence', (fx) => {
  test('admission decisions survive a restart', async () => {
    const loc = await fx.location();
    const clock = new ManualClock();
    const audit = new MemoryAuditSink();
    let store = await loc.open(GATEWAY_DB_MIGRATIONS);
    let adm = await SqlAdmissionStore.open(store, () => clock.now());
    let reg = new AdmissionRegistry(adm, clock, audit);
    const identity = { identificationNumber: 'FE00007B01', makerCode: '00007B', productCode: 'P', serialNumber: 'S1' };
    const a = reg.observe({ address: '127.0.0.2', eoj: '027D01', class: 'battery', identity }).record;
    const b = reg.observe({ address: '127.0.0.3', eoj: '026B01', class: 'water_heater', identity: { ...identity, identificationNumber: 'FE00007B02' } }).record;
    assert.ok(reg.admit(a.deviceId, a.revision, 'op:alice').ok);
    reg.reject(b.deviceId, 'op:alice');
    await adm.flush();
    await store.close();

    store = await loc.open(GATEWAY_DB_MIGRATIONS);
    adm = await SqlAdmissionStore.open(store, () => clock.now());
    reg = new AdmissionRegistry(adm, clock, audit);
    assert.equal(reg.get(a.deviceId)?.state, 'admitted');
    assert.equal(reg.get(a.deviceId)?.decidedBy, 'op:alice');
    assert.equal(reg.get(b.deviceId)?.state, 'rejected');
    assert.equal(reg.isControllable(a.deviceId), true);
    // The same device seen again after the restart is recognised, not "new".
    assert.equal(reg.observe({ address: '127.0.0.2', eoj: '027D01', class: 'battery', identity }).change, 'none');
    await store.close();
  });

  test('replay state (modification numbers, nonces) survives a restart and expires', async () => {
    const loc = await fx.location();
    let store = await loc.open(GATEWAY_DB_MIGRATIONS);
    let replay = await SqlReplayStore.open(store, 1000);
    replay.recordModification('ev1', 3, epochMillis(10_000));
    assert.equal(replay.claimNonce('n-1', epochMillis(5000)), true);
    replay.recordModification('ev1', 4, epochMillis(10_000));
    await replay.flush();
    await store.close();

    store = await loc.open(GATEWAY_DB_MIGRATIONS);
    replay = await SqlReplayStore.open(store, 2000);
    assert.equal(replay.lastModification('ev1'), 4);
    assert.equal(replay.claimNonce('n-1', epochMillis(5000)), false, 'a nonce seen before the restart is still a replay');
    replay.prune(epochMillis(6000));
    assert.equal(replay.claimNonce('n-1', epochMillis(20_000)), true, 'after its lifetime a nonce is forgotten');
    await replay.flush();
    await store.close();

    store = await loc.open(GATEWAY_DB_MIGRATIONS);
    replay = await SqlReplayStore.open(store, 11_000);
    assert.equal(replay.lastModification('ev1'), undefined, 'expired entries are purged at open');
    assert.equal(replay.claimNonce('n-1', epochMillis(30_000)), false);
    await store.close();
  });
});
