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
 * Served by the operator API layer (src/roles/common/operator-api.ts): every request is attributed
 * to the operator's certificate, checked against its role (reads: viewer; dispatch and cancel:
 * operator) and recorded in the audit log (自家用GL 8-1-1); errors map once (400, 403, 404, 405,
 * 409, 413, 500); OpenAPI 3.1 at /openapi.json.
 */
import { z } from 'zod';
import type { AuditSink } from '../../security/audit/types.js';
import type { TlsMaterial } from '../../security/tls.js';
import type { RoleHealth } from '../common/health.js';
import { ApiAnswer, startOperatorApi, type ApiRoute } from '../common/operator-api.js';
import { NotFoundError, type OperatorRoutes } from '../common/operator-routes.js';
import { explain } from '../../core/errors.js';
import type { OperatorRoleTable } from '../common/operator-roles.js';
import type { DispatchInput, RunningTso } from './tso.js';

export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

const dispatchBody = z.object({
  product: z.string({ error: 'must be a string' }),
  direction: z.string({ error: 'must be a string' }),
  quantityKw: z.union([z.number(), z.array(z.number())], { error: 'must be a number or an array of numbers' }),
  start: z.union([z.string(), z.number()], { error: 'must be an ISO 8601 date-time or epoch ms' }),
  periods: z.number({ error: 'must be a number' }),
  to: z.array(z.string(), { error: 'must be an array of participant ids' }).optional(),
  eventId: z.string().optional(),
  ignoreLeadTime: z.boolean().optional(),
}).strict();

const dispatchView = z.object({ eventId: z.string(), product: z.string() }).loose();

/** The TSO/retailer's own operator routes. */
export function tsoApiRoutes(tso: RunningTso): ApiRoute[] {
  const found = (id: string) => tso.view(id) ?? (() => { throw new NotFoundError(explain('notFound.dispatch', { id: id.slice(0, 100) })); })();
  return [
    { method: 'GET', path: '/api/status', action: 'api.status', role: 'viewer', summary: 'Registered aggregators, dispatches (requested vs delivered) and refusals', response: z.object({ id: z.string() }).loose(), handle: () => tso.status() },
    { method: 'GET', path: '/api/dispatches', action: 'api.dispatches', role: 'viewer', summary: 'Every dispatch with its requested-vs-delivered view', response: z.array(dispatchView), handle: () => tso.ledger.list().map((d) => tso.view(d.eventId)) },
    {
      method: 'POST', path: '/api/dispatches', action: 'api.dispatch', role: 'operator', status: 201, body: dispatchBody, response: dispatchView,
      summary: 'Issue a dispatch: {product, direction, quantityKw, start, periods, to?}',
      handle: async (r) => {
        const b = r.body as z.output<typeof dispatchBody>;
        const input: DispatchInput = { ...b, quantityKw: b.quantityKw, ...(b.ignoreLeadTime === true ? { ignoreLeadTime: true } : {}) } as DispatchInput;
        const issued = await tso.dispatch(input);
        return new ApiAnswer(201, tso.view(issued.eventId));
      },
    },
    { method: 'GET', path: '/api/dispatches/:eventId', action: 'api.dispatch.view', role: 'viewer', summary: 'One dispatch', response: dispatchView, handle: (r) => found(r.params.eventId!) },
    {
      method: 'DELETE', path: '/api/dispatches/:eventId', action: 'api.cancel', role: 'operator', summary: 'Cancel a dispatch at every aggregator', response: dispatchView,
      handle: async (r) => {
        found(r.params.eventId!);
        await tso.cancel(r.params.eventId!);
        return tso.view(r.params.eventId!);
      },
    },
  ];
}

/** Starts the operator API for a running TSO/retailer on mutual TLS (operator certificates only). */
export async function startTsoApi(tso: RunningTso, opts: {
  material: TlsMaterial; audit: AuditSink; host: string; port: number; operators: string[]; health?: RoleHealth; routes?: OperatorRoutes;
  roles?: OperatorRoleTable | undefined;
}): Promise<RunningApi> {
  const routes = tsoApiRoutes(tso);
  const api = await startOperatorApi({
    material: opts.material, audit: opts.audit, host: opts.host, port: opts.port, listener: `${tso.config.id}:api`,
    allowList: opts.operators.length > 0 ? { participants: opts.operators.map((o) => `operator:${o}`) } : { roles: ['operator'] },
    title: `erab ${tso.config.kind} ${tso.config.id} operator API`, routes, contributed: opts.routes?.list(), roles: opts.roles, health: opts.health,
  });
  return { url: api.url, close: () => api.close() };
}
