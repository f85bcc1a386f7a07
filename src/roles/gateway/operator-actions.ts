/**
 * The gateway's operator actions, served on its operator listener (the operator API layer:
 * mutual TLS, operator certificates only, a role per operator, every request audited — the same
 * listener as /healthz and /metrics; see health.ts):
 *
 *   GET  /safe-mode                      {safeMode: {by, reason, since} | null}                        viewer
 *   POST /safe-mode                      {reason}: every device back to the owner's mode, events refused security officer
 *   POST /safe-mode/leave                {reason}: events accepted again                               security officer
 *   GET  /api/devices                    the devices and their admission, `q`, `state` filters, paged   viewer
 *   GET  /api/devices/<id>               one device                                                   viewer
 *   POST /api/devices/<id>/admit         {revision}: a pending (or rejected) device may be controlled   operator
 *   POST /api/devices/<id>/reject        {reason}: never controlled, not "new" again                   operator
 *   POST /api/devices/<id>/quarantine    {reason}: back to the owner's mode, then not controlled        security officer
 *   POST /devices/<id>/quarantine        the same (the path `erab incident act` uses)                  security officer
 *   POST /api/devices/<id>/release       {revision, reason}: a quarantined device admitted again       security officer
 *   POST /devices/<id>/repin             {address, reason, revision?}: the operator confirms that an   security officer
 *                                        admitted device really moved (protected R5: until then, its
 *                                        identity from another source is refused as a clone); its pin
 *                                        becomes `address` and the device is identified there
 *
 * Admission is decided here, on the gateway, as well as relayed by the aggregator: the registry
 * and the devices are here, the operator's own certificate is the audited actor of the decision
 * (an admission event signed by the aggregator names only the aggregator), and it works while
 * the aggregator is unreachable — which is when a quarantine is most needed. `revision` is the
 * record's revision the operator saw: a device whose record changed since is refused (409).
 * After each decision the gateway sends its inventory upstream, so the aggregator sees it at once.
 */
import { z } from 'zod';
import { explain, PolicyRefusedError } from '../../core/errors.js';
import type { ApiRoute } from '../common/operator-api.js';
import { NotFoundError } from '../common/operator-routes.js';
import { pageOf, pageQuery } from '../common/pages.js';
import { isIP } from 'node:net';
import { isWebApiAddress } from '../../protocols/echonet/webapi/client.js';
import type { AdmissionRegistry, DeviceRecord } from './admission.js';
import type { EventEngine } from './engine.js';

const reasonBody = z.object({ reason: z.string({ error: 'must be a non-empty string' }).trim().min(1, { error: 'must be a non-empty string' }).max(500) }).strict();
const revisionBody = z.object({ revision: z.number().int().min(1), reason: z.string().trim().min(1).max(500).optional() }).strict();
const deviceView = z.object({ deviceId: z.string(), class: z.string(), state: z.enum(['admitted', 'pending', 'quarantined', 'rejected']), revision: z.number(), online: z.boolean() }).loose();
const repinAddress = z.string().max(300).refine((a) => isIP(a) !== 0 || (isWebApiAddress(a) && URL.canParse(a)), {
  error: 'must be the IPv4 or IPv6 address the device now answers from (or the https:// base URL of its ECHONET Lite Web API node)',
});
const repinBody = z.object({ address: repinAddress, reason: z.string().trim().min(1).max(500), revision: z.number().int().min(1).optional() }).strict();
const safeModeView = z.object({ safeMode: z.object({ by: z.string(), reason: z.string(), since: z.number() }).nullable() }).loose();

/**
 * Quarantines a device as an operator decided, here or at the aggregator (an admission signal of
 * value -1): back to its owner's mode first, then the record is quarantined, so the device gets no
 * command at all until released. Returns what was released, or undefined for an unknown device.
 * @example await quarantineDevice(engine, admission, '027D01-ab12cd34ef', 'alice', 'suspected of compromise')
 */
export async function quarantineDevice(engine: EventEngine, admission: AdmissionRegistry, deviceId: string, by: string, reason: string): Promise<{ record: DeviceRecord; released: unknown } | undefined> {
  if (!admission.get(deviceId)) return undefined;
  const released = engine.releaseToOwner(deviceId, `quarantined by ${by}: ${reason}`);
  await engine.idle();
  return { record: admission.quarantineByOperator(deviceId, by, reason)!, released };
}

/**
 * @example startOperatorListener(health, { ..., routes: gatewayOperatorRoutes({ engine, admission, persistSafeMode, online, inventoryChanged }) })
 */
export function gatewayOperatorRoutes(g: {
  engine: EventEngine; admission: AdmissionRegistry;
  /** Keeps the safe mode across restarts (persistence.ts saveSafeMode). */
  persistSafeMode: (state: { by: string; reason: string; since: number } | undefined) => Promise<void>;
  /** Whether a device answers (its last reading). */
  online?: ((deviceId: string) => boolean) | undefined;
  /** Sends the inventory upstream after a decision. */
  inventoryChanged?: (() => Promise<void>) | undefined;
  /** Identifies the node at an address again (EchonetSite.identify), so a repinned device is reached there. */
  identify?: ((address: string) => Promise<void>) | undefined;
}): ApiRoute[] {
  const online = g.online ?? (() => false);
  const view = (r: DeviceRecord) => ({ ...r, online: online(r.deviceId) });
  const known = (id: string): DeviceRecord => g.admission.get(id) ?? (() => { throw new NotFoundError(explain('notFound.device', { id: id.slice(0, 100) })); })();
  const decided = async (r: { ok: true; record: DeviceRecord } | { ok: false; reason: string }) => {
    if (!r.ok) throw new PolicyRefusedError(r.reason);
    await g.inventoryChanged?.().catch(() => undefined); // the next periodic upload retries
    return view(r.record);
  };
  const quarantine = async (deviceId: string, by: string, reason: string) => {
    known(deviceId);
    const { record: r, released } = (await quarantineDevice(g.engine, g.admission, deviceId, by, reason))!;
    await g.inventoryChanged?.().catch(() => undefined);
    return { deviceId: r.deviceId, state: r.state, revision: r.revision, released };
  };
  const quarantineRoute = (path: string, summary: string): ApiRoute => ({
    method: 'POST', path, action: 'gateway.api.device.quarantine', role: 'security officer', summary, body: reasonBody,
    response: z.object({ deviceId: z.string(), state: z.string(), revision: z.number(), released: z.unknown() }),
    handle: (r) => quarantine(r.params.deviceId!, r.operator.id, (r.body as { reason: string }).reason),
  });
  return [
    { method: 'GET', path: '/safe-mode', action: 'gateway.api.safe-mode', role: 'viewer', summary: 'Whether the gateway is in safe mode', response: safeModeView, handle: () => ({ safeMode: g.engine.safeMode() ?? null }) },
    {
      method: 'POST', path: '/safe-mode', action: 'gateway.api.safe-mode.enter', role: 'security officer', body: reasonBody, response: safeModeView,
      summary: 'Safe mode: every device back to its owner\'s mode, events refused until left',
      handle: async (r) => {
        const devices = g.engine.enterSafeMode(r.operator.id, (r.body as { reason: string }).reason);
        await g.persistSafeMode(g.engine.safeMode());
        await g.engine.idle();
        return { safeMode: g.engine.safeMode(), released: devices };
      },
    },
    {
      method: 'POST', path: '/safe-mode/leave', action: 'gateway.api.safe-mode.leave', role: 'security officer', body: reasonBody, response: safeModeView,
      summary: 'Leave safe mode: events accepted again',
      handle: async (r) => {
        g.engine.leaveSafeMode(r.operator.id, (r.body as { reason: string }).reason);
        await g.persistSafeMode(undefined);
        return { safeMode: null };
      },
    },
    {
      method: 'GET', path: '/api/devices', action: 'gateway.api.devices', role: 'viewer', summary: 'Devices by id with their admission state; `q` searches id and class, `state` filters',
      query: z.object({ q: z.string().max(100).optional(), state: z.enum(['admitted', 'pending', 'quarantined', 'rejected']).optional(), ...pageQuery }),
      response: z.object({ items: z.array(deviceView), nextCursor: z.string().nullable() }),
      handle: (r) => {
        const a = r.args as { q?: string; state?: string; limit: number; cursor?: string };
        const q = a.q?.toLowerCase();
        const sorted = g.admission.list().sort((x, y) => (x.deviceId < y.deviceId ? -1 : 1));
        const page = pageOf(sorted, (d) => d.deviceId, {
          limit: a.limit, cursor: a.cursor,
          filter: q || a.state ? (d) => (!a.state || d.state === a.state) && (!q || d.deviceId.toLowerCase().includes(q) || d.class.includes(q)) : undefined,
        });
        return { items: page.items.map(view), nextCursor: page.nextCursor };
      },
    },
    { method: 'GET', path: '/api/devices/:deviceId', action: 'gateway.api.device', role: 'viewer', summary: 'One device and its admission record', response: deviceView, handle: (r) => view(known(r.params.deviceId!)) },
    {
      method: 'POST', path: '/api/devices/:deviceId/admit', action: 'gateway.api.device.admit', role: 'operator', body: revisionBody, response: deviceView,
      summary: 'Admit a pending or rejected device at the revision the operator saw: it may be controlled from now on',
      handle: async (r) => {
        const id = r.params.deviceId!;
        if (known(id).state === 'quarantined') throw new PolicyRefusedError(`device ${id.slice(0, 100)}: quarantined; a security officer releases it`);
        return decided(g.admission.admit(id, (r.body as { revision: number }).revision, r.operator.id));
      },
    },
    {
      method: 'POST', path: '/api/devices/:deviceId/reject', action: 'gateway.api.device.reject', role: 'operator', body: reasonBody, response: deviceView,
      summary: 'Reject a device: it stays known and is never controlled',
      handle: async (r) => {
        const id = r.params.deviceId!;
        known(id);
        g.engine.releaseToOwner(id, `rejected by ${r.operator.id}: ${(r.body as { reason: string }).reason}`);
        await g.engine.idle();
        return decided(g.admission.reject(id, r.operator.id));
      },
    },
    quarantineRoute('/api/devices/:deviceId/quarantine', 'Quarantine a device: back to its owner\'s mode, then not controlled until released'),
    quarantineRoute('/devices/:deviceId/quarantine', 'Quarantine a device (the path `erab incident act` uses)'),
    {
      method: 'POST', path: '/api/devices/:deviceId/release', action: 'gateway.api.device.release', role: 'security officer', body: revisionBody, response: deviceView,
      summary: 'Release a quarantined device at the revision the operator saw: its observed identity becomes its admitted one',
      handle: async (r) => {
        const id = r.params.deviceId!;
        if (known(id).state !== 'quarantined') throw new PolicyRefusedError(`device ${id.slice(0, 100)}: ${known(id).state}, not quarantined`);
        return decided(g.admission.admit(id, (r.body as { revision: number }).revision, r.operator.id));
      },
    },
    {
      method: 'POST', path: '/devices/:deviceId/repin', action: 'gateway.api.device.repin', role: 'security officer', body: repinBody,
      response: z.object({ deviceId: z.string(), address: z.string(), from: z.string(), revision: z.number(), state: z.string(), identified: z.boolean() }),
      summary: 'Confirm that an admitted device moved: its R5 pin becomes the new address (`erab gateway repin`)',
      handle: async (r) => {
        const id = r.params.deviceId!;
        const record = known(id);
        const b = r.body as { address: string; reason: string; revision?: number };
        const moved = g.admission.repin(id, b.revision ?? record.revision, b.address, r.operator.id, b.reason);
        if (!moved.ok) throw new PolicyRefusedError(`repin of ${id.slice(0, 100)} refused: ${moved.reason}`);
        // The device is reached at its new pin from now on (not waiting for the next discovery).
        const identified = (await g.identify?.(b.address).then(() => true, () => false)) ?? false;
        await g.inventoryChanged?.().catch(() => undefined);
        return { deviceId: moved.record.deviceId, address: moved.record.address, from: record.address, revision: moved.record.revision, state: moved.record.state, identified };
      },
    },
  ];
}
