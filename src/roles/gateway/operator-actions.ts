/**
 * The gateway's operator actions for incident response, served on its operator listener (mutual
 * TLS, operator certificates only — the same listener as /healthz and /metrics; see health.ts):
 *
 *   GET  /safe-mode                  {safeMode: {by, reason, since} | null}
 *   POST /safe-mode                  {reason}: every device back to the owner's mode, events refused
 *   POST /safe-mode/leave            {reason}: events accepted again
 *   POST /devices/<id>/quarantine    {reason}: back to the owner's mode, then not controlled until admitted again
 *   POST /devices/<id>/repin         {address, reason, revision?}: the operator confirms that an admitted
 *                                    device really moved (protected R5: until then, its identity from
 *                                    another source is refused as a clone); its pin becomes `address`
 *                                    and the device is identified there. `revision` (from `erab gateway
 *                                    devices`) guards against deciding on a record that changed meanwhile.
 *
 * The presenting operator certificate is the actor of the audit record (自家用GL 8-1-1).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { peerOf } from '../../security/tls.js';
import { readJsonBody, RequestBodyError } from '../common/json-body.js';
import { isWebApiAddress } from '../../protocols/echonet/webapi/client.js';
import type { AdmissionRegistry } from './admission.js';
import type { EventEngine } from './engine.js';

const MAX_BODY = 16 * 1024;

function reasonOf(body: unknown): string {
  const r = (body as { reason?: unknown } | null)?.reason;
  if (typeof r !== 'string' || r.trim().length === 0) throw new RequestBodyError(400, 'body: "reason" must be a non-empty string');
  return r.trim().slice(0, 500);
}

/** The body of a repin: the new address (an IP address) and, optionally, the revision the operator saw. */
function repinOf(body: unknown): { address: string; revision: number | undefined } {
  const b = (body ?? {}) as { address?: unknown; revision?: unknown };
  const web = typeof b.address === 'string' && isWebApiAddress(b.address) && URL.canParse(b.address) && b.address.length <= 300;
  if (typeof b.address !== 'string' || (isIP(b.address) === 0 && !web)) {
    throw new RequestBodyError(400, 'body: "address" must be the IPv4 or IPv6 address the device now answers from (or the https:// base URL of its ECHONET Lite Web API node)');
  }
  if (b.revision !== undefined && (!Number.isSafeInteger(b.revision) || (b.revision as number) < 1)) throw new RequestBodyError(400, 'body: "revision" must be a positive integer (the record\'s revision)');
  return { address: b.address, revision: b.revision as number | undefined };
}

/**
 * @example startOperatorListener(health, { ..., routes: gatewayOperatorRoutes({ engine, admission }) })
 */
export function gatewayOperatorRoutes(g: {
  engine: EventEngine; admission: AdmissionRegistry;
  /** Keeps the safe mode across restarts (persistence.ts saveSafeMode). */
  persistSafeMode: (state: { by: string; reason: string; since: number } | undefined) => Promise<void>;
  /** Identifies the node at an address again (EchonetSite.identify), so a repinned device is reached there. */
  identify?: (address: string) => Promise<void>;
}): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'https://gateway').pathname;
    const parts = path.split('/').filter(Boolean);
    const isSafe = path === '/safe-mode' || path === '/safe-mode/leave';
    const isQuarantine = parts.length === 3 && parts[0] === 'devices' && parts[2] === 'quarantine';
    const isRepin = parts.length === 3 && parts[0] === 'devices' && parts[2] === 'repin';
    if (!isSafe && !isQuarantine && !isRepin) return false;
    const send = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' }).end(text);
    };
    const operator = peerOf(req);
    void (async () => {
      if (!operator || operator.role !== 'operator') return send(403, { error: 'only operator certificates may act on the gateway' });
      if (req.method === 'GET' && path === '/safe-mode') return send(200, { safeMode: g.engine.safeMode() ?? null });
      if (req.method !== 'POST') return send(405, { error: `${req.method ?? '?'} ${path}: use POST` });
      const body = await readJsonBody(req, MAX_BODY);
      const reason = reasonOf(body);
      if (path === '/safe-mode') {
        const devices = g.engine.enterSafeMode(operator.id, reason);
        await g.persistSafeMode(g.engine.safeMode());
        await g.engine.idle();
        return send(200, { safeMode: g.engine.safeMode(), released: devices });
      }
      if (path === '/safe-mode/leave') {
        g.engine.leaveSafeMode(operator.id, reason);
        await g.persistSafeMode(undefined);
        return send(200, { safeMode: null });
      }
      const deviceId = decodeURIComponent(parts[1]!);
      const record = g.admission.get(deviceId);
      if (!record) return send(404, { error: `device ${deviceId.slice(0, 100)}: not known to this gateway` });
      if (isRepin) {
        const { address, revision } = repinOf(body);
        const r = g.admission.repin(deviceId, revision ?? record.revision, address, operator.id, reason);
        if (!r.ok) return send(409, { error: `repin of ${deviceId.slice(0, 100)} refused: ${r.reason}` });
        // The device is reached at its new pin from now on (not waiting for the next discovery).
        const identified = await g.identify?.(address).then(() => true, () => false);
        return send(200, { deviceId: r.record.deviceId, address: r.record.address, from: record.address, revision: r.record.revision, state: r.record.state, identified: identified ?? false });
      }
      // Back to the owner's mode first: once quarantined, the device gets no command at all.
      const released = g.engine.releaseToOwner(deviceId, `quarantined by ${operator.id}: ${reason}`);
      await g.engine.idle();
      const r = g.admission.quarantineByOperator(deviceId, operator.id, reason)!;
      return send(200, { deviceId: r.deviceId, state: r.state, revision: r.revision, released });
    })().catch((e: unknown) => {
      if (res.headersSent) return;
      if (e instanceof RequestBodyError) return send(e.status, { error: e.message });
      return send(500, { error: 'internal error' });
    });
    return true;
  };
}
