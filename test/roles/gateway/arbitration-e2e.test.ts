/**
 * Honest event answers and per-device arbitration, end to end (issue 11, item 3): our VTN on
 * mutual TLS signing with the aggregator's certificate, the gateway (`Gateway.start`) polling
 * it, and a simulated site (battery, EV charger/discharger and the smart meter) over real
 * ECHONET Lite UDP on a random 127.x.y.0/24 block. Every part shares one AcceleratedClock.
 *
 * The site's policy limits battery and EV discharge to 1500 W (the battery is rated 3000 W).
 * The tests run in order on one fixture:
 * 1. a 3000 W discharge for the battery and the meter is answered optOut 454, not 200 optIn;
 * 2. an event the gateway accepts for the battery (1000 W) and refuses for the EV (3000 W):
 *    optIn, plus an oadrCreateOpt opting the EV out with its reason; the VTN still holds optIn
 *    as the answer to the event;
 * 3. while that 1000 W event runs, a refused event and an accepted later one (same priority)
 *    come and are cancelled: the battery keeps delivering the 1000 W event;
 * 4. overlapping retailer (priority 2) and TSO (priority 1) events: the TSO's wins, and when
 *    it ends the retailer's resumes; at the end the battery goes back to its normal mode.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ORIGIN_PRIORITY } from '../../../src/roles/common/event-priority.js';
import { millis } from '../../../src/core/units.js';
import { waitFor } from '../../kit/index.js';
import { setpoint, startSingleSiteWorld, type SingleSiteWorld } from './single-site-world.js';

let w: SingleSiteWorld;
let bat = '';
let ev = '';
let meter = '';
const publish: SingleSiteWorld['publish'] = (...a) => w.publish(...a);
const answer: SingleSiteWorld['answer'] = (...a) => w.answer(...a);
const battery = (): ReturnType<SingleSiteWorld['battery']> => w.battery();
const polls = (n: number): Promise<void> => w.polls(n);

before(async () => {
  w = await startSingleSiteWorld({ prefix: 'erab-gw-arb-', serialPrefix: 'ARB', socPercent: 70, policy: { classes: { battery: { maxDischargeW: 1500 }, ev: { maxDischargeW: 1500 } } } });
  bat = w.deviceOf('battery');
  ev = w.deviceOf('ev');
  meter = w.deviceOf('meter');
  assert.ok(w.gw.admission.isControllable(meter), 'the smart meter is admitted like every device of the site');
});

after(async () => {
  await w?.close();
});

test('a 3000 W discharge beyond the 1500 W policy, for the battery and the smart meter, is answered optOut 454 (not 200 optIn)', async () => {
  // SIMPLE level 3 = the battery's full rated discharge (3000 W); the meter has nothing to do.
  await publish('BIG', 30_000, 120_000, [{ signalName: 'SIMPLE', signalType: 'level', signalID: 'big', intervals: [{ duration: millis(120_000), uid: '0', value: 3 }] }], { resources: [bat, meter] });
  const r = await answer('BIG');
  assert.notDeepEqual([r.responseCode, r.optType], [200, 'optIn'], 'the meter counted as accepting');
  assert.deepEqual([r.responseCode, r.optType], [454, 'optOut'], r.responseDescription);
  assert.match(r.responseDescription ?? '', /max-discharge-power/);
  await polls(3);
  assert.equal(battery().mode, 'standby', 'the battery was never commanded');
  assert.deepEqual(w.gw.engine.eventIds(), []);
});

test('accepted for the battery, refused for the EV: optIn plus an oadrCreateOpt opting the EV out with its reason', async () => {
  await publish('P', 0, 30 * 60_000, [setpoint(bat, -1000, 30 * 60_000), setpoint(ev, -3000, 30 * 60_000)]);
  const r = await answer('P');
  assert.deepEqual([r.responseCode, r.optType], [200, 'optIn'], r.responseDescription);
  const opt = await waitFor('oadrCreateOpt for the EV', () => w.opts.find((o) => o.qualifiedEventID?.eventID === 'P'), 30_000);
  assert.deepEqual(
    { optType: opt.optType, optReason: opt.optReason, target: opt.target, event: opt.qualifiedEventID, venID: opt.venID },
    { optType: 'optOut', optReason: 'x-max-discharge-power', target: { resourceID: [ev] }, event: { eventID: 'P', modificationNumber: 0 }, venID: 'GW1' },
  );
  assert.equal(w.opts.filter((o) => o.qualifiedEventID?.eventID === 'P').length, 1, 'only the refused resource is opted out');
  // The VTN keeps optIn as the gateway's answer to the event; the EV's opt out is kept apart.
  assert.deepEqual((await w.vtn.vtn.eventOpts('P')).map((o) => [o.venID, o.optType]), [['GW1', 'optIn']]);
  await waitFor('battery discharging 1000 W for P', () => battery().mode === 'discharging' && battery().discharge === 1000, 60_000);
  assert.equal(w.gw.engine.activeCommand(ev), undefined, 'the EV is not commanded');
  // Audited once the VTN answered the oadrCreateOpt (the capture above sees the request first).
  await waitFor('the opt out audited as delivered', () => w.audit.records.some((x) => x.action === 'gateway.opt_out' && x.target === ev && x.outcome === 'success'), 30_000);
});

test('while the accepted 1000 W event runs, a refused event and a later equal-priority one come and go: the battery keeps delivering 1000 W', async () => {
  // Refused (beyond the policy), then withdrawn by the aggregator.
  await publish('REFUSED', 0, 10 * 60_000, [{ signalName: 'SIMPLE', signalType: 'level', signalID: 'big', intervals: [{ duration: millis(10 * 60_000), uid: '0', value: 3 }] }], { resources: [bat, meter] });
  const r = await answer('REFUSED');
  assert.equal(r.optType, 'optOut', r.responseDescription);
  await w.vtn.vtn.cancelEvent('REFUSED', 'withdrawn by the aggregator');
  await answer('REFUSED', 1);
  await polls(3);
  assert.deepEqual([battery().mode, battery().discharge], ['discharging', 1000], 'withdrawing the refused event reset the battery P controls');
  // Accepted, but P was accepted first and has the same (no) priority: P keeps the battery.
  await publish('LATER', 0, 10 * 60_000, [setpoint(bat, -1200, 10 * 60_000)]);
  const l = await answer('LATER');
  assert.deepEqual([l.responseCode, l.optType], [200, 'optIn'], l.responseDescription);
  await polls(3);
  assert.deepEqual([battery().mode, battery().discharge], ['discharging', 1000], 'LATER took the battery from P');
  await w.vtn.vtn.cancelEvent('LATER', 'withdrawn by the aggregator');
  await answer('LATER', 1);
  await waitFor('LATER ended on the gateway', () => !w.gw.engine.eventIds().includes('LATER'), 30_000);
  await polls(3);
  await w.gw.site.poll();
  assert.deepEqual([battery().mode, battery().discharge], ['discharging', 1000], 'ending another event reset the battery P still controls');
  assert.equal(w.gw.site.reading(bat)?.mode, 'discharging', 'the gateway reads the battery back discharging, not standby');
  assert.equal(w.gw.engine.activeCommand(bat)?.powerW, 1000);
  // P ends: nobody else wants the battery, so it goes back to its owner's mode.
  await w.vtn.vtn.cancelEvent('P', 'done');
  await waitFor('battery back to standby after P', () => battery().mode === 'standby', 60_000);
});

test('overlapping retailer and TSO events on one battery: the TSO\'s wins; when it ends the retailer\'s resumes', async () => {
  const ret = await publish('RET', 20_000, 5 * 60_000, [setpoint(bat, 1000, 5 * 60_000)], { priority: ORIGIN_PRIORITY.retailer });
  assert.equal((await answer('RET')).optType, 'optIn');
  await waitFor('battery charging for the retailer', () => w.clock.now() >= ret.start && battery().mode === 'charging', 60_000);
  const tso = await publish('TSO', 20_000, 90_000, [setpoint(bat, -1500, 90_000)], { priority: ORIGIN_PRIORITY.tso });
  assert.equal((await answer('TSO')).optType, 'optIn');
  await waitFor('battery discharging 1500 W for the TSO', () => battery().mode === 'discharging' && battery().discharge === 1500, 60_000);
  assert.ok(w.clock.now() >= tso.start - 1000, 'the TSO event took the battery at its start');
  assert.ok(w.audit.records.some((x) => x.action === 'gateway.arbitration' && x.details?.from === 'RET' && x.details?.to === 'TSO'));
  await waitFor('battery charging again for the retailer after the TSO event', () => battery().mode === 'charging' && battery().charge === 1000, 90_000);
  assert.ok(w.clock.now() >= tso.end - 1000 && w.clock.now() < ret.end, 'the retailer event resumed when the TSO event ended, before its own end');
  await waitFor('battery back to its normal mode after the retailer event', () => battery().mode === 'standby', 120_000);
  assert.ok(w.clock.now() >= ret.end - 1000);
});
