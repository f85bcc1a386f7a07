/**
 * The TSO's (or retailer's) operator API: HTTPS with mutual TLS, operator certificates only, JSON.
 *
 *   GET    /api/status                 registered aggregators, dispatches, refusals
 *   GET    /api/dispatches             every dispatch with its requested-vs-delivered view
 *   GET    /api/dispatches/<eventId>   one dispatch
 *   POST   /api/dispatches             issue one: {product, direction, quantityKw, start, periods, to?}
 *   DELETE /api/dispatches/<eventId>   cancel it
 *   ...                                the routes attached modules contribute (operator-routes.ts)
 *
 * Every write is attributed to the operator's certificate and recorded in the audit log
 * (自家用GL 8-1-1). Errors are JSON `{ error }` with 400 (bad input), 404, 405, 413 or 500.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ErabError, InvalidInputError } from '../../core/errors.js';
import type { AuditSink } from '../../security/audit/types.js';
import { readJsonBody } from '../common/json-body.js';
import { createMutualTlsServer, peerOf, type TlsMaterial } from '../../security/tls.js';
import type { RoleHealth } from '../common/health.js';
import type { OperatorRoutes } from '../common/operator-routes.js';
import type { DispatchInput, RunningTso } from './tso.js';

const MAX_BODY = 64 * 1024;

export interface RunningApi {
  server: Server;
  url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function dispatchInput(body: unknown): DispatchInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidInputError('body: must be a JSON object');
  const b = body as Record<string, unknown>;
  const str = (k: string) => { if (typeof b[k] !== 'string') throw new InvalidInputError(`${k}: must be a string`); return b[k] as string; };
  const quantity = b.quantityKw;
  if (typeof quantity !== 'number' && !(Array.isArray(quantity) && quantity.every((q) => typeof q === 'number'))) throw new InvalidInputError('quantityKw: must be a number or an array of numbers');
  if (typeof b.start !== 'string' && typeof b.start !== 'number') throw new InvalidInputError('start: must be an ISO 8601 date-time or epoch ms');
  if (typeof b.periods !== 'number') throw new InvalidInputError('periods: must be a number');
  if (b.to !== undefined && !(Array.isArray(b.to) && b.to.every((t) => typeof t === 'string'))) throw new InvalidInputError('to: must be an array of participant ids');
  return {
    product: str('product'), direction: str('direction'), quantityKw: quantity as number | number[], start: b.start, periods: b.periods,
    ...(b.to ? { to: b.to as string[] } : {}),
    ...(typeof b.eventId === 'string' ? { eventId: b.eventId } : {}),
    ...(b.ignoreLeadTime === true ? { ignoreLeadTime: true } : {}),
  };
}

/** Starts the operator API for a running TSO/retailer on mutual TLS (operator role only). */
export async function startTsoApi(tso: RunningTso, opts: { material: TlsMaterial; audit: AuditSink; host: string; port: number; operators: string[]; health?: RoleHealth; routes?: OperatorRoutes }): Promise<RunningApi> {
  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (opts.health?.handle(req, res)) return; // /healthz, /readyz, /metrics
    // Contributed routes check the operator themselves, audit each request and map their errors.
    if (opts.routes?.handle(req, res, opts.audit)) return;
    const peer = peerOf(req);
    const actor = { kind: 'operator' as const, id: peer?.id ?? '?', role: peer?.role, fingerprint: peer?.fingerprint };
    const url = new URL(req.url ?? '/', 'https://api');
    const parts = url.pathname.split('/').filter(Boolean);
    try {
      if (parts[0] !== 'api') return send(res, 404, { error: `no such resource ${url.pathname}` });
      if (parts[1] === 'status' && parts.length === 2) {
        if (req.method !== 'GET') return send(res, 405, { error: 'use GET' });
        return send(res, 200, tso.status());
      }
      if (parts[1] === 'dispatches' && parts.length === 2) {
        if (req.method === 'GET') return send(res, 200, tso.ledger.list().map((d) => tso.view(d.eventId)));
        if (req.method !== 'POST') return send(res, 405, { error: 'use GET or POST' });
        const input = dispatchInput(await readJsonBody(req, MAX_BODY));
        try {
          const issued = await tso.dispatch(input);
          opts.audit.append({ actor, action: 'api.dispatch', target: issued.eventId, outcome: 'success' });
          return send(res, 201, tso.view(issued.eventId));
        } catch (err) {
          opts.audit.append({ actor, action: 'api.dispatch', outcome: 'failure', reason: (err as Error).message });
          throw err;
        }
      }
      if (parts[1] === 'dispatches' && parts.length === 3) {
        const id = decodeURIComponent(parts[2]!);
        const view = tso.view(id);
        if (!view) return send(res, 404, { error: `no dispatch ${id}` });
        if (req.method === 'GET') return send(res, 200, view);
        if (req.method !== 'DELETE') return send(res, 405, { error: 'use GET or DELETE' });
        await tso.cancel(id);
        opts.audit.append({ actor, action: 'api.cancel', target: id, outcome: 'success' });
        return send(res, 200, tso.view(id));
      }
      return send(res, 404, { error: `no such resource ${url.pathname}` });
    } catch (err) {
      const status = (err as { status?: number }).status ?? (err instanceof InvalidInputError ? 400 : err instanceof ErabError ? 400 : 500);
      if (!res.headersSent) send(res, status, { error: status === 500 ? 'internal error' : (err as Error).message });
    }
  };
  const { server } = createMutualTlsServer(
    {
      material: opts.material,
      profile: 'console',
      allowList: opts.operators.length > 0 ? { participants: opts.operators.map((o) => `operator:${o}`) } : { roles: ['operator'] },
      audit: opts.audit,
      listener: `${tso.config.id}:api`,
    },
    (req, res) => { void handler(req, res); },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    url: `https://${opts.host}:${port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
