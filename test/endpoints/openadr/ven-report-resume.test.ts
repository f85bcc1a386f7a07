/**
 * A VEN restarted on its store keeps its registration, so the VTN does not ask for reports again:
 * the report requests it accepted (oadrRegisteredReport / oadrCreateReport) are kept in the
 * VEN's store scope and served again at start. Real mutual TLS, SQLite stores; the VTN keeps
 * every report. Before this, the restarted VEN sent nothing until it registered anew.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import type { Millis } from '../../../src/core/units.js';
import { powerRealItem } from '../../../src/protocols/openadr/units.js';
import type { OadrReport } from '../../../src/protocols/openadr/report.js';
import type { VenReportSource } from '../../../src/protocols/openadr/ven.js';
import { openadrStoreMigrations, StoreVenState } from '../../../src/endpoints/openadr/store.js';
import { startVtnEndpoint } from '../../../src/endpoints/openadr/vtn-endpoint.js';
import { startVenEndpoint } from '../../../src/endpoints/openadr/ven-endpoint.js';
import { openStore } from '../../../src/store/store.js';
import { pkiWorld, sleep, waitFor } from '../../kit/index.js';

const sec = (n: number): Millis => (n * 1000) as Millis;
const sources = (): VenReportSource[] => [{
  reportSpecifierID: 'usage', reportName: 'TELEMETRY_USAGE',
  descriptions: [{ rID: 'p', reportType: 'usage', readingType: 'Direct Read', itemBase: powerRealItem('k'), samplingRate: { minPeriod: sec(1), maxPeriod: sec(1), onChange: false } }],
  read: () => 2.5,
}];

test('VEN restart: the accepted report request comes back from the store and reporting goes on, no interval twice, no new registration', { timeout: 60_000 }, async () => {
  const world = await pkiWorld({ vtn: 'aggregator:AGG1', ven: 'gateway:GW1' }, { prefix: 'erab-ven-resume-' });
  const vtnStore = await openStore({ url: join(world.dir, 'vtn.db'), migrations: openadrStoreMigrations });
  const venStore = await openStore({ url: join(world.dir, 'ven.db'), migrations: openadrStoreMigrations });
  const received: OadrReport[] = [];
  const vtn = await startVtnEndpoint({
    vtnID: 'AGG1-vtn', material: await world.material('vtn'), profile: 'R4', store: vtnStore, audit: new MemoryAuditSink(),
    allowList: { participants: ['gateway:GW1'] },
    vtn: { pollFreqMs: 300, reportBackMs: 1000, vtnReports: false, hooks: { onReport: (_v, r) => received.push(r) } },
  });
  const open = async () => startVenEndpoint({
    venName: 'GW1', vtnUrl: vtn.url, checkHostname: false, audit: new MemoryAuditSink(), store: venStore, material: await world.material('ven'), profile: 'R4',
    ven: { reports: sources() },
  });
  try {
    let ven = await open();
    await waitFor('reports before the restart', () => received.length >= 2 || undefined, 20_000);
    const requestIds = ven.ven.activeReports();
    const registrationID = ven.ven.registration!.registrationID;
    assert.equal(requestIds.length, 1);
    assert.deepEqual((await new StoreVenState(venStore, 'GW1').loadReportRequests()).map((r) => r.reportRequestID), requestIds, 'the accepted request is in the store');

    await ven.close();
    await sleep(1500);
    const restartedAt = Date.now();
    ven = await open();
    try {
      assert.deepEqual(ven.ven.activeReports(), requestIds, 'the restarted VEN serves the stored request at once');
      await waitFor('reports after the restart', () => received.filter((r) => (r.intervals?.[0]?.dtstart ?? 0) > restartedAt).length >= 2 || undefined, 20_000);
      assert.equal(ven.ven.registration!.registrationID, registrationID, 'no new registration');
      const after = received.filter((r) => (r.intervals?.[0]?.dtstart ?? 0) > restartedAt);
      assert.ok(after.every((r) => r.reportRequestID === requestIds[0]), 'under the request accepted before the restart');
      const keys = received.flatMap((r) => (r.intervals ?? []).map((iv) => `${r.reportRequestID}@${iv.dtstart}`));
      assert.equal(new Set(keys).size, keys.length, 'no report interval twice');
    } finally {
      await ven.close();
    }
  } finally {
    await vtn.close();
    await vtnStore.close();
    await venStore.close();
    world.close();
  }
});
