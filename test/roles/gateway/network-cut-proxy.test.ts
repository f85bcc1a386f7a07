/**
 * Reliability across real processes' boundaries (issue 12): the network between a gateway and
 * the aggregator's VTN cut for longer than the telemetry interval, at the TCP level — a proxy
 * on loopback that the test controls: it resets every open connection and refuses new ones,
 * then lets them through again. The VTN keeps its state in SQLite or PostgreSQL.
 *
 * The gateway must keep its devices safe (the running event goes on as scheduled from what the
 * gateway already holds; nothing else changes on the device), buffer its telemetry on disk, and
 * deliver every reading exactly once when the link returns (the VTN stores each report once).
 *
 * Time: an AcceleratedClock at 5× shared by every component (see gateway-e2e.test.ts), so the
 * 40 simulated seconds of cut take 8 real seconds. Telemetry every 5 s (simulated).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { TlsMaterial } from '../../../src/security/tls.js';
import { openadrStoreMigrations, StoreVtnStore } from '../../../src/endpoints/openadr/store.js';
import { startVtnEndpoint } from '../../../src/endpoints/openadr/vtn-endpoint.js';
import type { OadrReport } from '../../../src/protocols/openadr/report.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { StorageBattery } from '../../../src/protocols/echonet/objects/storage-battery.js';
import { Gateway, gatewayConfigSchema } from '../../../src/roles/gateway/gateway.js';
import { epochMillis, millis } from '../../../src/core/units.js';
import { describeEachEngine } from '../../store/harness.js';
import { acceleratedClock, pkiWorld, tcpProxy, waitFor } from '../../kit/index.js';

const SPEED = 5;
const TELEMETRY_MS = 5000;
const CUT_MS = 40_000;
const W = { kind: 'powerReal' as const, itemDescription: 'RealPower', itemUnits: 'W', siScaleCode: 'none' as const, powerAttributes: { hertz: 50, voltage: 100, ac: true } };

describeEachEngine('network cut between a gateway and the aggregator (TCP proxy)', (fx) => {
  test('the running event goes on, telemetry is buffered on disk, and every reading arrives once after the link returns', { timeout: 120_000 }, async () => {
    const NET = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
    const clock = acceleratedClock(SPEED);
    const pki = await pkiWorld({}, { prefix: 'erab-gw-cut-' });
    const agg = await pki.issue('agg', 'aggregator:AGG1');
    const gwCert = await pki.issue('gwCert', 'gateway:GW1');
    const loc = await fx.location();
    const vtnStore = await loc.open(openadrStoreMigrations);
    const reports: OadrReport[] = [];
    const vtn = await startVtnEndpoint({
      vtnID: 'vtn-AGG1', profile: 'R4', store: vtnStore, clock, audit: new MemoryAuditSink(),
      material: await TlsMaterial.fromPem({ credentials: [{ certPem: agg.certPem, keyPem: agg.keyPem }], caPem: pki.caPem }),
      allowList: { participants: ['gateway:GW1'] },
      vtn: { pollFreqMs: 2000, reportBackMs: TELEMETRY_MS, hooks: { onReport: (_v, r) => reports.push(r) } },
    });
    const link = await tcpProxy([vtn.port]);
    const site = await DeviceSite.start({ address: `${NET}.2`, speed: 1, tickMs: 1000, serialPrefix: 'SITEA', battery: { initialSocPercent: 80 } }, { clock });
    const audit = new MemoryAuditSink();
    const gw = await Gateway.start(gatewayConfigSchema.parse({
      gatewayId: 'GW1',
      database: join(pki.dir, 'gateway.db'),
      tls: { certFile: gwCert.files.certFile, keyFile: gwCert.files.keyFile, caFile: pki.caFile },
      aggregator: { id: 'AGG1', vtnUrl: `https://127.0.0.1:${link.port}`, certificateFile: agg.files.certFile, fingerprint: agg.identity.fingerprint, vtnId: 'vtn-AGG1' },
      echonet: { address: `${NET}.1`, devices: [`${NET}.2`], pollMs: 2500, timeoutMs: 20_000, retries: 1 },
      telemetry: { minPeriodMs: TELEMETRY_MS },
      admission: { allowList: [{ serialNumber: 'SITEA' }] },
      engine: { tickMs: 1000 },
      // The fail-safe (aggregator unreachable) is longer than this cut: the event must go on.
      policy: { failSafe: { aggregatorTimeoutMs: 300_000, maxForcedWhileUnreachableMs: 600_000 } },
    }), { clock, audit });
    try {
      const bat = gw.admission.list().find((r) => r.class === 'battery')?.deviceId as string;
      const rID = `${bat}/power`;
      const state = () => {
        const o = site.battery?.object as NonNullable<typeof site.battery>['object'];
        return { mode: o.get(StorageBattery.props.operationMode) as string, discharge: o.get(StorageBattery.props.dischargingPowerSetting) as number };
      };
      await waitFor('steady telemetry', () => reports.some((r) => (r.intervals ?? []).some((iv) => iv.payloads.some((p) => p.rID === rID))), 40_000);
      // An event that outlasts the cut: discharge 600 W for 10 simulated minutes.
      await vtn.vtn.createEvent({
        eventID: 'ev-cut', marketContext: 'urn:erab:aggregator:AGG1', target: { venID: ['GW1'] },
        activePeriod: { dtstart: epochMillis(clock.now()), duration: millis(600_000) },
        signals: [{ signalName: 'LOAD_DISPATCH', signalType: 'setpoint', signalID: `sp-${bat}`, target: { resourceID: [bat] }, itemBase: W, intervals: [{ duration: millis(600_000), uid: '0', value: -600 }] }],
      });
      await waitFor('battery discharging 600 W', () => state().mode === 'discharging' && state().discharge === 600, 30_000);

      const cutAt = clock.now();
      link.cut();
      // Through the cut (longer than the telemetry interval), sample the device: it must stay in the event's state.
      const seen = new Set<string>();
      const until = Date.now() + CUT_MS / SPEED;
      while (Date.now() < until) {
        seen.add(JSON.stringify(state()));
        await new Promise((r) => setTimeout(r, 200));
      }
      const buffered = await gw.pendingReports();
      const countAtRestore = reports.length;
      const restoredAt = clock.now();
      link.restore();
      assert.deepEqual([...seen], [JSON.stringify({ mode: 'discharging', discharge: 600 })], 'the device stayed in the running event\'s state through the cut');
      assert.ok(buffered >= 2, `${buffered} reports buffered on disk during a ${CUT_MS} ms cut (telemetry every ${TELEMETRY_MS} ms)`);
      await waitFor('buffered telemetry delivered', async () => (await gw.pendingReports()) === 0
        && reports.slice(countAtRestore).some((r) => (r.intervals ?? []).some((iv) => (iv.dtstart ?? 0) > restoredAt + TELEMETRY_MS)), 60_000);

      // Exactly once: every reading (request, point, instant) once; every report once in the VTN's store.
      const readings = new Map<string, number>();
      for (const r of reports) for (const iv of r.intervals ?? []) for (const p of iv.payloads) {
        const k = `${r.reportRequestID}|${p.rID}|${iv.dtstart}`;
        readings.set(k, (readings.get(k) ?? 0) + 1);
      }
      assert.deepEqual([...readings].filter(([, n]) => n > 1), [], 'no reading twice');
      const stored = await new StoreVtnStore(vtnStore, 'vtn-AGG1').listReports('GW1');
      assert.equal(new Set(stored.map((r) => r.eiReportID)).size, stored.length, 'each report stored once');
      // No gap: the battery power was sampled through the cut, one telemetry interval apart.
      const times = reports.flatMap((r) => (r.intervals ?? []).filter((iv) => iv.payloads.some((p) => p.rID === rID)).map((iv) => iv.dtstart as number)).sort((a, b) => a - b);
      const during = times.filter((t) => t > cutAt && t < restoredAt);
      assert.ok(during.length >= Math.floor(CUT_MS / TELEMETRY_MS) - 2, `${during.length} readings sampled during the cut`);
      const gaps = during.slice(1).map((t, i) => t - (during[i] as number));
      assert.ok(Math.max(0, ...gaps) < 2 * TELEMETRY_MS, `largest gap ${Math.max(0, ...gaps)} ms`);
      process.stdout.write(`# cut ${(restoredAt - cutAt) / 1000} s (simulated): ${buffered} reports on disk, ${during.length} readings sampled during it, all delivered once\n`);
      assert.equal(state().mode, 'discharging', 'the event still runs after the link returned');
    } finally {
      await gw.close();
      await link.close();
      await vtn.close();
      await site.close();
      pki.close();
    }
  });
});
