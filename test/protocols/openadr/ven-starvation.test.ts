/**
 * Regression: report sending must not starve the VEN's poll loop.
 *
 * Found by `erab demo` (10 sites, ×60 clock on a loaded 2-core machine): each report period
 * appended a "queue the report and send the outbox" task to the VEN's serial chain; sending
 * took longer than the period, so the chain grew without end and the poll iteration queued
 * behind it ran later and later. The gateways kept reporting but never fetched the retailer's
 * event (the aggregator's VTN kept their distribute markers pending).
 *
 * Here the real VEN and VTN engines are joined in-process on a ManualClock; every
 * oadrUpdateReport takes 90 s (simulated) to be answered while the VTN asks for a report every
 * 60 s — sending is slower than the report rate. An event created after 20 minutes must still
 * be fetched within a poll interval plus one report send, and every sample must still arrive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import type { Millis } from '../../../src/core/units.js';
import { epochMillis, millis } from '../../../src/core/units.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { Vtn } from '../../../src/protocols/openadr/vtn.js';
import { MemoryVtnStore } from '../../../src/protocols/openadr/vtn-store.js';
import { MemoryVenOutbox, Ven, type VenReportSource } from '../../../src/protocols/openadr/ven.js';
import type { OadrPeer, OadrTransport } from '../../../src/protocols/openadr/http.js';
import { decodePayload } from '../../../src/protocols/openadr/payload.js';
import { powerRealItem } from '../../../src/protocols/openadr/units.js';
import type { ServiceName } from '../../../src/protocols/openadr/register-party.js';

const min = (n: number): Millis => (n * 60_000) as Millis;
const POLL_MS = 10_000;
const SEND_MS = 90_000;

/** Lets every pending promise continuation run (the engines are async but in-process). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
};

test('a report send slower than the report period does not starve the poll: a new event is still fetched at once', async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 15, 8, 0));
  const audit = new MemoryAuditSink();
  let samples = 0;
  const vtn = new Vtn({
    vtnID: 'AGG1-vtn', store: new MemoryVtnStore(), clock, audit, pollFreqMs: POLL_MS, reportBackMs: 60_000,
    hooks: { onReport: (_v, r) => { samples += (r.intervals ?? []).length; } },
  });
  await vtn.start();
  const peer: OadrPeer = { fingerprint: 'AA:BB:CC:DD:EE:FF:00:11:22:33', id: 'GW1', role: 'gateway' };
  const transport: OadrTransport = {
    async post(service: ServiceName, xml: string): Promise<string> {
      const reply = await vtn.handle(service, Buffer.from(xml), peer);
      // A slow path for reports only: the VTN has the report, its answer takes SEND_MS.
      if (decodePayload(xml).message.type === 'oadrUpdateReport') await new Promise<void>((r) => clock.setTimeout(r, SEND_MS));
      return reply;
    },
    close() {},
  };
  const usage: VenReportSource = {
    reportSpecifierID: 'telemetry-usage', reportName: 'TELEMETRY_USAGE',
    descriptions: [{ rID: 'power', reportType: 'usage', readingType: 'Direct Read', itemBase: powerRealItem('none'), samplingRate: { minPeriod: min(1), maxPeriod: min(1), onChange: false } }],
    read: () => 1500,
  };
  const fetched = new Map<string, number>();
  const ven = new Ven({
    venName: 'GW1', transport, clock, audit, outbox: new MemoryVenOutbox(), random: () => 0.5, reports: [usage],
    onEvent: (info) => { fetched.set(info.event.descriptor.eventID, clock.now()); return 'optIn'; },
  });
  await ven.start();
  const run = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 1000) {
      clock.advance(1000);
      await settle();
    }
  };
  try {
    await run(30_000);
    assert.equal(ven.activeReports().length, 1, 'the VTN asked for the report');
    const start = clock.now();
    await run(20 * 60_000);
    const createdAt = clock.now();
    await vtn.createEvent({
      eventID: 'ev-late', marketContext: 'urn:erab:aggregator:AGG1',
      activePeriod: { dtstart: epochMillis(createdAt + 30 * 60_000), duration: millis(30 * 60_000) },
      signals: [{ signalName: 'SIMPLE', signalType: 'level', signalID: 's', intervals: [{ duration: millis(30 * 60_000), uid: '0', value: 1 }] }],
    });
    await run(5 * 60_000);
    const at = fetched.get('ev-late');
    assert.ok(at !== undefined, `event not fetched 5 minutes after it was created (pending at the VTN: ${await vtn.pendingCount('GW1')})`);
    // Worst case: the iteration waits for the one report send in progress, then one poll interval.
    assert.ok(at - createdAt <= POLL_MS + 2 * SEND_MS, `fetched ${(at - createdAt) / 1000} s after creation`);
    assert.equal(await vtn.pendingCount('GW1'), 0);
    // No sample is lost to the coalescing: one per minute since the reports started, bar the last ones in flight.
    const minutes = Math.floor((clock.now() - start) / 60_000);
    console.log(`# event fetched ${(at - createdAt) / 1000} s after creation; ${samples} samples for ${minutes} report periods`);
    assert.ok(samples >= minutes - 4, `${samples} samples arrived for ${minutes} report periods`);
  } finally {
    ven.stop();
  }
});
