/**
 * One gateway in front of one simulated site, driven by our VTN: the fixture the gateway's
 * end-to-end event tests share (arbitration-e2e, event-sequence).
 *
 * Real parts over real boundaries: our VTN on mutual TLS signing with the aggregator's
 * certificate (AGG1), the gateway (`Gateway.start`, GW1) polling it, and a simulated site
 * (battery, EV charger/discharger and the smart meter) over real ECHONET Lite UDP on a random
 * 127.x.y.0/24 block. Every part shares one AcceleratedClock (`speed`× real time). The world
 * records the gateway's oadrCreatedEvent and oadrCreateOpt messages as the VTN receives them.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { TlsMaterial } from '../../../src/security/tls.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { startVtnEndpoint, type RunningVtn } from '../../../src/endpoints/openadr/vtn-endpoint.js';
import { decodePayload } from '../../../src/protocols/openadr/payload.js';
import type { EventSignal, EventResponse, OadrCreatedEvent } from '../../../src/protocols/openadr/event.js';
import type { OadrCreateOpt } from '../../../src/protocols/openadr/opt.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { StorageBattery } from '../../../src/protocols/echonet/objects/storage-battery.js';
import { Gateway, gatewayConfigSchema } from '../../../src/roles/gateway/gateway.js';
import { epochMillis, millis } from '../../../src/core/units.js';
import { acceleratedClock, pkiWorld, waitFor, sleep, type Clock } from '../../kit/index.js';

/** How often the VTN asks the gateway to poll, in simulated milliseconds. */
export const POLL_MS = 10_000;
const W = { kind: 'powerReal' as const, itemDescription: 'RealPower', itemUnits: 'W', siScaleCode: 'none' as const, powerAttributes: { hertz: 50, voltage: 100, ac: true } };

/** The aggregator's form of an instruction: one LOAD_DISPATCH setpoint for one resource. */
export function setpoint(resourceID: string, watts: number, durationMs: number): EventSignal {
  return {
    signalName: 'LOAD_DISPATCH', signalType: 'setpoint', signalID: resourceID, target: { resourceID: [resourceID] },
    itemBase: W, intervals: [{ duration: millis(durationMs), uid: '0', value: watts }],
  };
}

export interface SingleSiteOptions {
  /** Temporary folder prefix, e.g. `erab-gw-arb-`. */
  prefix: string;
  /** The simulated devices' serial-number prefix, admitted by the gateway's allow-list. */
  serialPrefix: string;
  /** Battery and EV state of charge at the start. */
  socPercent: number;
  /** The site's gateway policy (`policy` in the gateway config), when the test needs limits. */
  policy?: unknown;
  speed?: number;
}

export interface SingleSiteWorld {
  readonly clock: Clock;
  readonly vtn: RunningVtn;
  readonly gw: Gateway;
  readonly site: DeviceSite;
  readonly audit: MemoryAuditSink;
  /** oadrCreatedEvent and oadrCreateOpt messages received by the VTN, in order. */
  readonly created: OadrCreatedEvent[];
  readonly opts: OadrCreateOpt[];
  /** The gateway's resource id for a device class (`battery`, `ev`, `meter`). */
  deviceOf(cls: string): string;
  /** Creates an event for GW1 starting `startInMs` from now (simulated). */
  publish(eventID: string, startInMs: number, durationMs: number, signals: EventSignal[], o?: { priority?: number; resources?: string[] }): Promise<{ start: number; end: number }>;
  /** Waits for the gateway's answer to an event modification. */
  answer(eventID: string, modificationNumber?: number): Promise<EventResponse>;
  /** The simulated battery's mode and power settings, read from the ECHONET Lite object. */
  battery(): { mode: string; discharge: number; charge: number };
  /** Lets `n` VTN polls (and the device polls between them) happen. */
  polls(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startSingleSiteWorld(o: SingleSiteOptions): Promise<SingleSiteWorld> {
  const speed = o.speed ?? 20;
  const net = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
  const clock = acceleratedClock(speed);
  const audit = new MemoryAuditSink();
  const created: OadrCreatedEvent[] = [];
  const opts: OadrCreateOpt[] = [];
  const pki = await pkiWorld({}, { prefix: o.prefix });
  const dir = pki.dir;
  let vtnStore: Store | undefined;
  let vtn: RunningVtn | undefined;
  let site: DeviceSite | undefined;
  let gw: Gateway | undefined;
  const close = async (): Promise<void> => {
    await gw?.close();
    await vtn?.close();
    await site?.close();
    await vtnStore?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const agg = await pki.issue('agg', 'aggregator:AGG1');
    const gwCert = await pki.issue('gwCert', 'gateway:GW1');
    vtnStore = await openStore({ url: join(dir, 'vtn.db'), migrations: openadrStoreMigrations });
    vtn = await startVtnEndpoint({
      vtnID: 'vtn-AGG1',
      material: await TlsMaterial.fromPem({ credentials: [{ certPem: agg.certPem, keyPem: agg.keyPem }], caPem: pki.caPem }),
      profile: 'R4',
      allowList: { participants: ['gateway:GW1'] },
      audit: new MemoryAuditSink(),
      store: vtnStore,
      clock,
      vtn: {
        pollFreqMs: POLL_MS,
        reportBackMs: 30_000,
        onXml: (d, service, xml) => {
          if (d !== 'in' || (service !== 'EiEvent' && service !== 'EiOpt')) return;
          const m = decodePayload(xml).message;
          if (m.type === 'oadrCreatedEvent') created.push(m);
          if (m.type === 'oadrCreateOpt') opts.push(m);
        },
      },
    });
    const soc = o.socPercent;
    site = await DeviceSite.start({ address: `${net}.2`, speed: 1, tickMs: 1000, serialPrefix: o.serialPrefix, battery: { initialSocPercent: soc }, ev: { initialSocPercent: soc, pluggedIn: true } }, { clock });
    const config = gatewayConfigSchema.parse({
      gatewayId: 'GW1',
      database: join(dir, 'gateway.db'),
      tls: { certFile: gwCert.files.certFile, keyFile: gwCert.files.keyFile, caFile: pki.caFile },
      aggregator: { id: 'AGG1', vtnUrl: vtn.url, certificateFile: agg.files.certFile, vtnId: 'vtn-AGG1' },
      echonet: { address: `${net}.1`, devices: [`${net}.2`], pollMs: 30_000, timeoutMs: 20_000, retries: 1 },
      telemetry: { minPeriodMs: 30_000 },
      admission: { allowList: [{ serialNumber: o.serialPrefix }] },
      ...(o.policy !== undefined ? { policy: o.policy } : {}),
      engine: { tickMs: 5000 },
      security: { maxClockSkewMs: 3_600_000 },
    });
    gw = await Gateway.start(config, { clock, audit });
    const running = { vtn, gw, site };
    await waitFor('registration and report requests', () => running.vtn.vtn.registration('GW1') && running.gw.ven.activeReports().length > 0, 30_000);
    return {
      clock, vtn, gw, site, audit, created, opts, close,
      deviceOf: (cls) => {
        const record = running.gw.admission.list().find((r) => r.class === cls);
        if (!record) throw new Error(`the site has no ${cls}`);
        return record.deviceId;
      },
      async publish(eventID, startInMs, durationMs, signals, p = {}) {
        const start = clock.now() + startInMs;
        await running.vtn.vtn.createEvent({
          eventID, marketContext: 'urn:erab:aggregator:AGG1',
          activePeriod: { dtstart: epochMillis(start), duration: millis(durationMs) },
          signals, target: { venID: ['GW1'], ...(p.resources ? { resourceID: p.resources } : {}) }, venIDs: ['GW1'], responseRequired: 'always',
          ...(p.priority !== undefined ? { priority: p.priority } : {}),
        });
        return { start, end: start + durationMs };
      },
      answer: (eventID, modificationNumber = 0) => waitFor(`oadrCreatedEvent for ${eventID} #${modificationNumber}`, () => {
        for (const c of created) {
          const r = c.eventResponses?.find((x) => x.qualifiedEventID.eventID === eventID && x.qualifiedEventID.modificationNumber === modificationNumber);
          if (r) return r;
        }
        return undefined;
      }, 60_000),
      battery: () => {
        const b = running.site.battery!.object;
        return { mode: b.get(StorageBattery.props.operationMode), discharge: b.get(StorageBattery.props.dischargingPowerSetting), charge: b.get(StorageBattery.props.chargingPowerSetting) };
      },
      polls: (n) => sleep((n * POLL_MS) / speed),
    };
  } catch (e) {
    await close();
    throw e;
  }
}
