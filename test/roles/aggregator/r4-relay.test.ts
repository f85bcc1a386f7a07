/**
 * The relay from the aggregator's R4 workers to its primary (r4-relay.ts), on both engines: what
 * a worker's VTN store takes (registration, METADATA, reports, opts) reaches the primary's hooks
 * in order, each report and opt once — also when the gateway sends it again after the primary
 * took the first copy (a lost answer, a worker killed before answering).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EpochMillis } from '../../../src/core/units.js';
import type { OadrReport } from '../../../src/protocols/openadr/report.js';
import type { VtnHooks } from '../../../src/protocols/openadr/vtn.js';
import { RelayConsumer, RelayingVtnStore } from '../../../src/roles/aggregator/runtime/r4-relay.js';
import { aggregatorMigrations } from '../../../src/roles/aggregator/runtime/r4-workers.js';
import { describeEachEngine } from '../../store/harness.js';

const report = (id: string): OadrReport => ({
  reportSpecifierID: 'usage', reportName: 'TELEMETRY_USAGE', reportRequestID: 'GW1.usage', eiReportID: id, createdDateTime: 1_000 as EpochMillis,
  intervals: [{ dtstart: 1_000 as EpochMillis, payloads: [{ rID: 'B1/power', value: -3000 }] }],
} as OadrReport);

describeEachEngine('aggregator R4 relay', (fx) => {
  test('reports and opts reach the primary once and in order, resends after consumption included', async () => {
    const loc = await fx.location();
    const workerStore = await loc.open(aggregatorMigrations);
    const primaryStore = await loc.open(aggregatorMigrations);
    const seen: string[] = [];
    const hooks: Partial<VtnHooks> = {
      onRegistered: (r) => seen.push(`reg ${r.venID}`),
      onReportRegistered: (v, reps) => seen.push(`meta ${v} ${reps.length}`),
      onReport: (v, r) => seen.push(`report ${v} ${r.eiReportID}`),
      onEventOpt: (o) => seen.push(`eventOpt ${o.venID} ${o.eventID} ${o.optType}`),
      onOpt: (o) => seen.push(`opt ${o.venID} ${o.optID}`),
    };
    const relay = await RelayConsumer.start({ store: primaryStore, vtnID: 'AGG1-vtn', hooks, pollMs: 60_000 });
    try {
      const w = new RelayingVtnStore(workerStore, 'AGG1-vtn');
      await w.putRegistration({ venID: 'GW1', registrationID: 'r1', fingerprint: 'aa:bb', httpPullModel: true, xmlSignature: false, reportOnly: false, registeredAt: 1 as EpochMillis });
      await w.putReportRegistration('GW1', [{ reportSpecifierID: 'usage', reportName: 'METADATA_TELEMETRY_USAGE', reportRequestID: '0', descriptions: [] } as unknown as OadrReport]);
      assert.equal(await w.appendReport('GW1', report('R1'), 1_000 as EpochMillis), true);
      // Sent again before the primary took it: one relay row.
      assert.equal(await w.appendReport('GW1', report('R1'), 1_001 as EpochMillis), false);
      await w.putEventOpt({ venID: 'GW1', eventID: 'E1', modificationNumber: 0, optType: 'optOut', at: 2_000 as EpochMillis });
      await relay.drain();
      // Sent again after the primary took it (the worker died before answering): the inbox drops it.
      await w.appendReport('GW1', report('R1'), 3_000 as EpochMillis);
      await w.putEventOpt({ venID: 'GW1', eventID: 'E1', modificationNumber: 0, optType: 'optOut', at: 3_000 as EpochMillis });
      await w.appendReport('GW1', report('R2'), 3_000 as EpochMillis);
      await w.putOpt({ venID: 'GW1', optID: 'O1', requestID: 'q', optType: 'optOut', optReason: 'x-schedule', createdDateTime: 3_000 as EpochMillis, target: { resourceID: ['B1'] }, qualifiedEventID: { eventID: 'E1', modificationNumber: 0 } } as never);
      await relay.drain();
      assert.deepEqual(seen, ['reg GW1', 'meta GW1 1', 'report GW1 R1', 'eventOpt GW1 E1 optOut', 'report GW1 R2', 'opt GW1 O1']);
      const left = await (primaryStore.db as never as { selectFrom(t: string): { selectAll(): { execute(): Promise<unknown[]> } } }).selectFrom('aggregator_r4_relay').selectAll().execute();
      assert.equal(left.length, 0, 'consumed rows are deleted');
    } finally {
      await relay.stop();
      await workerStore.close();
      await primaryStore.close();
    }
  });
  test('a drain while a wake-up\'s pass runs returns after that pass applied its messages, and applies none twice', async () => {
    // Found in CI: a NOTIFY from the worker's write started a pass that took the rows; the test's
    // own drain found them taken and returned before the opt was applied.
    const loc = await fx.location();
    const workerStore = await loc.open(aggregatorMigrations);
    const primaryStore = await loc.open(aggregatorMigrations);
    const seen: string[] = [];
    const relay = await RelayConsumer.start({ store: primaryStore, vtnID: 'AGG2-vtn', hooks: { onRegistered: (r) => seen.push(`reg ${r.venID}`), onReport: (v, r) => seen.push(`report ${v} ${r.eiReportID}`) }, pollMs: 60_000 });
    try {
      const w = new RelayingVtnStore(workerStore, 'AGG2-vtn');
      for (let round = 0; round < 5; round++) {
        seen.length = 0;
        await w.putRegistration({ venID: `GW${round}`, registrationID: `r${round}`, fingerprint: `cc:0${round}`, httpPullModel: true, xmlSignature: false, reportOnly: false, registeredAt: 1 as EpochMillis });
        await w.appendReport(`GW${round}`, report(`R${round}`), 1_000 as EpochMillis);
        relay.kick();
        await relay.drain();
        assert.deepEqual(seen, [`reg GW${round}`, `report GW${round} R${round}`], `round ${round}`);
      }
    } finally {
      await relay.stop();
      await workerStore.close();
      await primaryStore.close();
    }
  });
});
