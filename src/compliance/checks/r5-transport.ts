/**
 * R5 (controller/gateway ↔ the customer's devices, ERAB §3.3.4, 推奨): mutual authentication and
 * encryption. Judged per device from the gateway's own state: which admitted devices it reaches
 * how. ECHONET Lite over UDP (the standard's LAN transport) has neither; erab's compensating
 * measures there are shown as evidence — the controller bound to one address of the home network,
 * each admitted device pinned to its source address and EOJ (a changed source, a duplicate
 * identity or an unexpected INF is ignored and raised as a security event). A device reached over
 * a transport with mutual TLS (the ECHONET Lite Web API: the gateway pins such a device to its
 * https:// base URL, deviceTransport in src/roles/gateway/admission.ts) counts as protected.
 * Not satisfied while any admitted device is reached without it: the operator may
 * record the pinning as a compensating control (a 推奨 item).
 */
import { SqlAdmissionStore } from '../../roles/gateway/persistence.js';
import { deviceTransport as transportOf, type DeviceRecord, type DeviceTransport } from '../../roles/gateway/admission.js';
import { redactUrl } from '../../store/url.js';
import type { Check } from '../registry.js';
import { rowsOrNone } from './peers.js';

/** Transports with mutual authentication and encryption on the wire. */
const PROTECTED = new Set<DeviceTransport>(['echonet-lite-web-api']);

export const r5TransportCheck: Check = {
  id: 'transport.r5',
  title: 'R5: every admitted device is reached with mutual authentication and encryption',
  reads: "gateway config echonet (bound address); the gateway's admitted devices (gateway_device): transport, pinned address and EOJ",
  async run(ctx) {
    if (!ctx.profile.roles.includes('ems')) return { status: 'not-applicable', evidence: [{ source: 'profile roles', observed: 'no gateway operated', at: ctx.now }] };
    const g = ctx.config('gateway');
    if (!g) return { status: 'not-satisfied', evidence: [{ source: 'profile configs.gateway', observed: 'no gateway configuration named', at: ctx.now }] };
    const bound = g.echonet.address === '0.0.0.0' ? `on EVERY interface (${g.echonet.address}:${g.echonet.port})` : `on ${g.echonet.address}:${g.echonet.port} only`;
    const evidence = [{ source: `${ctx.configFile('gateway')}#echonet`, observed: `ECHONET Lite controller bound ${bound}; discovery ${g.echonet.multicast ? 'by multicast and ' : ''}at ${g.echonet.devices.length} listed addresses`, at: ctx.now }];
    const records = await rowsOrNone(ctx, g.database, async () => (await SqlAdmissionStore.open(await ctx.store(g.database))).load());
    const source = `${redactUrl(g.database)} gateway_device (${g.gatewayId})`;
    if (!records) {
      evidence.push({ source, observed: 'no store or device table yet (the gateway has not run): no device reached', at: ctx.now });
      return { status: 'satisfied', evidence };
    }
    const admitted = records.filter((r) => r.state === 'admitted');
    const byTransport = new Map<DeviceTransport, DeviceRecord[]>();
    for (const r of admitted) byTransport.set(transportOf(r), [...(byTransport.get(transportOf(r)) ?? []), r]);
    const open = admitted.filter((r) => !PROTECTED.has(transportOf(r)));
    const lines = [...byTransport].map(([t, rs]) => `${rs.length} over ${t}${PROTECTED.has(t) ? ' (mutual TLS)' : ''}: ${rs.slice(0, 10).map((r) => `${r.deviceId} pinned to ${r.address} EOJ ${r.eoj}`).join(', ')}${rs.length > 10 ? ', …' : ''}`);
    evidence.push({
      source,
      observed: `${admitted.length} admitted of ${records.length} devices seen${lines.length ? `; ${lines.join('; ')}` : ''}` +
        (open.length ? `; ${open.length} reached WITHOUT mutual authentication or encryption (compensated only by the address/EOJ pin and the spoofed-source events)` : ''),
      at: ctx.now,
    });
    return { status: open.length ? 'not-satisfied' : 'satisfied', evidence };
  },
};
