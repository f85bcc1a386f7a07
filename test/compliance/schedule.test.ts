/**
 * Scheduled runs: the service runs at start and every interval on the injected clock, each run is
 * kept, and a setting changed between two runs shows in the control's history.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { manualClock, waitFor } from '../kit/index.js';
import { AuditLog } from '../../src/security/audit/log.js';
import { ComplianceService } from '../../src/compliance/service.js';
import { ComplianceSchedule } from '../../src/compliance/schedule.js';
import { deployment } from './deployment.js';

const d = await deployment();
after(() => d.close());

test('the schedule runs now and every interval; the history records the flip of R4 when the allow-list is widened', async () => {
  const clock = manualClock(Date.now());
  const audit = AuditLog.open({ dir: join(d.dir, 'sched-audit'), origin: 'erab.test/sched' });
  const s = await ComplianceService.open(d.profile({ store: join(d.dir, 'sched.db') }), { audit, now: () => clock.now() });
  const runs: number[] = [];
  const schedule = new ComplianceSchedule(s, { clock, intervalMs: 3_600_000, onRun: (r) => runs.push(r.runId), onError: (e) => assert.fail(e) });
  try {
    schedule.start();
    await waitFor(() => runs.length === 1 && clock.pending() === 1, { what: 'the first run at start' });
    d.editConfig('aggregator', (c) => { c.downstream.allowList.anyCertifiedPeer = true; });
    clock.advance(3_599_000);
    assert.equal(runs.length, 1, 'no run before the interval');
    clock.advance(1_000);
    await waitFor(() => runs.length === 2 && clock.pending() === 1, { what: 'the second run' });
    const history = await s.history('erab-3.3.3-1');
    assert.deepEqual(history.map((h) => h.status), ['not-satisfied', 'satisfied']);
    assert.equal(history[0]!.at - history[1]!.at, 3_600_000);
  } finally {
    d.editConfig('aggregator', (c) => { delete c.downstream.allowList.anyCertifiedPeer; });
    await schedule.stop();
    await s.close();
    audit.close();
  }
  assert.equal(clock.pending(), 0, 'stop cancels the next run');
  assert.throws(() => new ComplianceSchedule(s, { clock, intervalMs: 10 }), /at least 1000 ms/);
});
