/**
 * Report delivery isolation (issue 11, item 7), across a real mutual-TLS socket.
 *
 * Found under attack: a VTN answering HTTP 500 to one report type made our VEN re-send it 14 times
 * in 12 s, and only one TELEMETRY_USAGE report arrived where five were due (the failing report
 * sat at the head of the one outbox and blocked everything behind it).
 *
 * Here the real VTN engine sits behind the endpoint layer's one OpenADR listener (listenOadr:
 * mutual TLS, the hardened HTTP/1 path); a thin wrapper around the engine's handler rejects every
 * oadrUpdateReport of the TELEMETRY_STATUS specifier (the listener answers HTTP 500) and hands
 * everything else to the engine. The real VEN (startVenEndpoint: keep-alive HTTPS with mutual TLS,
 * SQLite outbox) reports both streams every second. The failing stream must back off (attempts
 * spaced at least by the back-off, bounded by the budget, give-ups audited) while every due
 * TELEMETRY_USAGE report arrives on time, and the poll loop never backs off because of reports.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { IssuedCertificate } from '../../../src/security/pki/index.js';
import { pkiWorld, waitFor, type PkiWorld } from '../../kit/index.js';
import type { TlsMaterial } from '../../../src/security/tls.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { systemClock } from '../../../src/core/clock.js';
import type { Millis } from '../../../src/core/units.js';
import { openStore } from '../../../src/store/store.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { startVenEndpoint, type VenEndpointOptions } from '../../../src/endpoints/openadr/ven-endpoint.js';
import { listenOadr, type OadrListener, type OadrListenerOptions } from '../../../src/endpoints/openadr/listener.js';
import type { OadrServiceHandler } from '../../../src/protocols/openadr/http.js';
import { Vtn } from '../../../src/protocols/openadr/vtn.js';
import { MemoryVtnStore } from '../../../src/protocols/openadr/vtn-store.js';
import { decodePayload } from '../../../src/protocols/openadr/payload.js';
import { powerRealItem } from '../../../src/protocols/openadr/units.js';
import type { VenReportSource } from '../../../src/protocols/openadr/ven.js';

let world: PkiWorld;
let vtnCert: IssuedCertificate;
let venCert: IssuedCertificate;
let dir: string;

before(async () => {
  world = await pkiWorld({}, { prefix: 'erab-report-delivery-' });
  vtnCert = await world.issue('vtnCert', { role: 'aggregator', id: 'AGG1' });
  venCert = await world.issue('venCert', { role: 'gateway', id: 'GW1' });
  dir = world.dir;
});
after(() => world?.close());

const material = (c: IssuedCertificate): Promise<TlsMaterial> => world.material(c);

/** The fake VTN's listener: the endpoint layer's, with the aggregator's certificate on R4, for GW1 only. */
const vtnListener = async (): Promise<OadrListenerOptions> => ({
  material: await material(vtnCert), profile: 'R4', allowList: { participants: ['gateway:GW1'] }, audit: new MemoryAuditSink(),
  listener: 'test:openadr', maxBodyBytes: 1024 * 1024,
});

const PERIOD_MS = 1000;
const period = PERIOD_MS as Millis;

const sources: VenReportSource[] = [
  {
    reportSpecifierID: 'usage', reportName: 'TELEMETRY_USAGE',
    descriptions: [{ rID: 'p', reportType: 'usage', readingType: 'Direct Read', itemBase: powerRealItem('none'), samplingRate: { minPeriod: period, maxPeriod: period, onChange: false } }],
    read: () => 1500,
  },
  {
    reportSpecifierID: 'status', reportName: 'TELEMETRY_STATUS',
    descriptions: [{ rID: 's', reportType: 'x-resourceStatus', readingType: 'x-notApplicable', samplingRate: { minPeriod: period, maxPeriod: period, onChange: false } }],
    read: () => ({ online: true, manualOverride: false }),
  },
];

test('a VTN failing one report stream with HTTP 500: that stream backs off within its budget, the other delivers every report on time', async () => {
  const audit = new MemoryAuditSink();
  const usageArrivals: number[] = [];
  /** Every attempt to send a TELEMETRY_STATUS report: when, and which report instance. */
  const statusAttempts: { at: number; eiReportID: string }[] = [];
  const vtn = new Vtn({
    vtnID: 'AGG1-vtn', store: new MemoryVtnStore(), clock: systemClock, audit: new MemoryAuditSink(), pollFreqMs: 2000,
    hooks: { onReport: (_venID, r) => { if (r.reportSpecifierID === 'usage') usageArrivals.push(Date.now()); } },
  });
  await vtn.start();
  const listener = await listenOadr(async (service, body, peer) => {
    const m = decodePayload(body.toString('utf8')).message;
    const r = m.type === 'oadrUpdateReport' ? m.reports[0] : undefined;
    if (r?.reportSpecifierID === 'status') {
      statusAttempts.push({ at: Date.now(), eiReportID: r.eiReportID ?? '' });
      throw new Error('this VTN fails TELEMETRY_STATUS'); // the listener answers HTTP 500
    }
    return vtn.handle(service, body, peer);
  }, await vtnListener());
  const url = listener.url;
  const store = await openStore({ url: join(dir, 'ven.db'), migrations: openadrStoreMigrations });
  const retry = { initialMs: 400, maxMs: 3000, maxAttempts: 4, maxAgeMs: 5000 };
  // random 0.5: each back-off is exactly 0.75 × min(maxMs, initialMs × 2^(n−1)).
  const venOptions = { reports: sources, random: () => 0.5, reportRetry: retry };
  const delayAfter = (failures: number): number => Math.min(retry.maxMs, retry.initialMs * 2 ** (failures - 1)) * 0.75;
  const opts: VenEndpointOptions = {
    venName: 'GW1', vtnUrl: url, material: await material(venCert), profile: 'R4', audit, store,
    expectVtn: { role: 'aggregator', id: 'AGG1' }, ven: venOptions,
  };
  const running = await startVenEndpoint(opts);
  try {
    await waitFor('the first TELEMETRY_USAGE report', () => usageArrivals.length > 0);
    const from = usageArrivals[0] as number;
    const RUN_MS = 9000;
    await new Promise((r) => setTimeout(r, RUN_MS));
    const until = Date.now();

    // The healthy stream: every period's report, none late by more than a period or so.
    const usage = usageArrivals.filter((t) => t <= until);
    const due = Math.floor((until - from) / PERIOD_MS) + 1;
    const gaps = usage.slice(1).map((t, i) => t - (usage[i] as number));
    console.log(`# usage: ${usage.length} delivered of ${due} due, largest gap ${Math.max(...gaps)} ms; status attempts: ${statusAttempts.length}`);
    assert.ok(usage.length >= due - 1, `TELEMETRY_USAGE: ${usage.length} reports arrived where ${due} were due`);
    assert.ok(Math.max(...gaps) <= 2.5 * PERIOD_MS, `a TELEMETRY_USAGE report was late: gaps ${gaps.join(', ')} ms`);

    // The failing stream: attempts spaced by the growing back-off, never a burst.
    assert.ok(statusAttempts.length >= 3, `the failing stream was retried (${statusAttempts.length} attempts)`);
    statusAttempts.slice(1).forEach((a, i) => {
      const gap = a.at - (statusAttempts[i] as { at: number }).at;
      const min = delayAfter(i + 1) - 30; // timers never fire early; 30 ms for clock granularity
      assert.ok(gap >= min, `status attempt ${i + 2} came ${gap} ms after the previous one; the back-off was ${delayAfter(i + 1)} ms (all: ${statusAttempts.map((x) => x.at - from).join(', ')})`);
    });
    // Bounded: the back-off sums to more than the run long before maxAttempts × instances.
    let t = 0;
    let bound = 1;
    while (t <= until - (statusAttempts[0] as { at: number }).at) t += delayAfter(bound++);
    assert.ok(statusAttempts.length <= bound, `${statusAttempts.length} attempts, at most ${bound} fit the back-off`);
    // The budget per report instance: never more than maxAttempts sends of one report.
    const perInstance = new Map<string, number>();
    for (const a of statusAttempts) perInstance.set(a.eiReportID, (perInstance.get(a.eiReportID) ?? 0) + 1);
    assert.ok(Math.max(...perInstance.values()) <= retry.maxAttempts, `one report was sent ${Math.max(...perInstance.values())} times`);

    // Give-ups are audited, naming the report; the first instance used its whole attempt budget.
    const givenUp = audit.records.filter((r) => r.action === 'openadr.ven.report-given-up');
    assert.ok(givenUp.length >= 1, `no give-up audited (actions: ${[...new Set(audit.records.map((r) => r.action))].join(', ')})`);
    const first = givenUp[0];
    assert.equal(first?.details?.reportSpecifierID, 'status');
    assert.equal(first?.details?.attempts, retry.maxAttempts);
    assert.equal(first?.details?.eiReportID, statusAttempts[0]?.eiReportID);
    assert.match(first?.reason ?? '', /HTTP 500/);
    // The age budget gives up the backlog of the failing stream too.
    assert.ok(givenUp.some((r) => (r.details?.ageMs as number) >= retry.maxAgeMs), 'no report given up for its age');
    // No usage report was ever given up, and the poll loop never backed off because of a report.
    assert.ok(givenUp.every((r) => r.details?.reportSpecifierID === 'status'));
    assert.deepEqual(audit.records.filter((r) => r.action === 'openadr.ven.retry').map((r) => r.reason), []);
  } finally {
    await running.close();
    await store.close();
    await listener.close();
  }
});

test('a VTN that cannot be reached at all charges no report budget: after the outage every sample arrives, none given up', async () => {
  const audit = new MemoryAuditSink();
  const samples: number[] = [];
  const vtn = new Vtn({
    vtnID: 'AGG1-vtn', store: new MemoryVtnStore(), clock: systemClock, audit: new MemoryAuditSink(), pollFreqMs: 2000,
    hooks: { onReport: (_venID, r) => { if (r.reportSpecifierID === 'usage') for (const i of r.intervals ?? []) if (i.dtstart !== undefined) samples.push(i.dtstart); } },
  });
  await vtn.start();
  const listenerOptions = await vtnListener();
  const handler: OadrServiceHandler = (service, body, peer) => vtn.handle(service, body, peer);
  /** The VTN's listener while it is up (the outage closes it; it comes back on the same port). */
  let listener: OadrListener | undefined = await listenOadr(handler, listenerOptions);
  const port = listener.port;
  const store = await openStore({ url: join(dir, 'ven-outage.db'), migrations: openadrStoreMigrations });
  // An age budget shorter than the outage: it must not apply to reports the VTN never saw.
  const venOptions = { reports: sources.slice(0, 1), random: () => 0.5, reportRetry: { initialMs: 400, maxMs: 3000, maxAttempts: 2, maxAgeMs: 1500 } };
  const running = await startVenEndpoint({
    venName: 'GW1', vtnUrl: `https://127.0.0.1:${port}`, material: await material(venCert), profile: 'R4', audit, store,
    expectVtn: { role: 'aggregator', id: 'AGG1' }, ven: venOptions,
  } satisfies VenEndpointOptions);
  const close = async (): Promise<void> => {
    const l = listener;
    listener = undefined;
    await l?.close();
  };
  try {
    await waitFor('the first TELEMETRY_USAGE report', () => samples.length > 0);
    await close();
    const down = Date.now();
    await new Promise((r) => setTimeout(r, 4000));
    listener = await listenOadr(handler, { ...listenerOptions, port });
    const up = Date.now();
    await waitFor('the samples taken during the outage', () => samples.some((t) => t > up), 30_000);
    const sorted = [...samples].sort((a, b) => a - b);
    const gaps = sorted.slice(1).map((t, i) => t - (sorted[i] as number));
    console.log(`# outage ${up - down} ms; ${samples.length} samples, largest gap between sample times ${Math.max(...gaps)} ms`);
    assert.ok(sorted.filter((t) => t > down && t < up).length >= Math.floor((up - down) / PERIOD_MS) - 1, `samples taken during the outage are missing: ${sorted.map((t) => t - down).join(', ')}`);
    assert.ok(Math.max(...gaps) <= 1.8 * PERIOD_MS, `a sample was lost: gaps ${gaps.join(', ')} ms`);
    assert.deepEqual(audit.records.filter((r) => r.action.startsWith('openadr.ven.report-')).map((r) => r.action), [], 'an unreachable VTN is not a report failure');
  } finally {
    await running.close();
    await store.close();
    await close();
  }
});
