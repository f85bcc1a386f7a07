/**
 * The aggregator's operator endpoint, on the operator API layer (src/roles/common/operator-api.ts:
 * mutual TLS with operator certificates on the console's allow-list, a role per operator, every
 * request audited, errors mapped once, OpenAPI 3.1 at /openapi.json). The certificate is the
 * operator's identity (自家用GL 8-1-1): commands are submitted, approved and rejected as the
 * presenting operator, and the two-person rule of approvals.ts decides whether a second, different
 * operator must approve (自家用GL 7-1-2).
 *
 *   GET  /                             the operator console page, when one is configured (src/web)     viewer
 *   GET  /status                       the status object (events, gateways, refusals...)               viewer
 *   GET  /events/<key>/series          target vs delivered samples of one event (key URL-encoded)      viewer
 *   GET  /commands                     operator commands and their state (an array, newest first)      viewer
 *   POST /commands                     submit {action, powerW, resources, durationMs, startAt?, reason} operator
 *                                      (resources "fleet", ids or {pool}; startAt: a later start, ≤ 24 h)
 *   POST /commands/<id>/approve        approve a held command (a different operator)                   approver
 *   POST /commands/<id>/reject         reject {reason} (an approver), or withdraw one's own             operator
 *   GET  /api/commands                 commands page, `state` filter (held: waiting for approval)      viewer
 *   GET  /api/commands/<id>            one command with its details                                    viewer
 *   GET  /api/events                   events page, `state` filter                                     viewer
 *   POST /api/events/<key>/cancel      cancel an event {reason}: its devices return to their owners    operator
 *   PATCH /api/events/<key>            modify an operator event {powerW?, durationMs?, reason}        operator
 *   GET  /api/fleet/pools              the pools of the fleet's resources, with their sizes             viewer
 *   GET  /api/fleet/sites              the portfolio's sites page, `q`, `pool`                          viewer
 *   GET  /api/fleet/gateways           gateways page, `q` search (with each one's erab version)        viewer
 *   GET  /api/fleet/devices            devices page, `q`, `gateway`, `online`, `admission` filters     viewer
 *   POST /api/fleet/devices/<id>/admit admit a device at the revision seen {revision}: 202 {eventId}     operator
 *   POST /api/fleet/devices/<id>/reject reject a device {reason}: 202 {eventId}                          operator
 *   POST /api/fleet/devices/<id>/quarantine quarantine an admitted or pending device {reason}: 202      security officer
 *   POST /api/fleet/devices/<id>/release release a quarantined device at the revision seen {revision, reason}: 202 security officer
 *   POST /api/portfolio                import a portfolio file while running {format, text, source?}   administrator
 *   GET  /api/events/stream            server-sent events: deltas of events, commands, gateways       viewer
 *   GET  /api/summary                  counts for the console's header (not the lists)                viewer
 *   GET  /api/audit                    audit log page newest first, `action` filter, with verification  viewer
 *   GET  /api/refusals                 refusals: dispatch refusals and refused requests and TLS peers  viewer
 *   ...                                the routes attached modules contribute (operator-routes.ts)
 *
 * A command whose power the addressed resources cannot take runs as far as it can and is `short`
 * (with `shortfallW`), never `executed`; one naming a resource the fleet does not have is refused.
 */
import { z } from 'zod';
import { explain, InvalidInputError, NotAuthorizedError, PolicyRefusedError } from '../../../core/errors.js';
import { epochMillis } from '../../../core/units.js';
import type { AllowListConfig } from '../../../security/allow-list.js';
import type { AuditSink } from '../../../security/audit/types.js';
import type { RefusalPage, TlsMaterial } from '../../../security/tls.js';
import type { RoleHealth } from '../../common/health.js';
import { LiveFeed } from '../../common/live-feed.js';
import { ApiAnswer, startOperatorApi, type ApiRoute } from '../../common/operator-api.js';
import { NotFoundError, type OperatorRoutes } from '../../common/operator-routes.js';
import { grants, type OperatorRoleTable } from '../../common/operator-roles.js';
import { pageOf, pageQuery } from '../../common/pages.js';
import { ADMISSION_STATES } from '../../common/admission-signal.js';
import type { RunningAggregator } from './aggregator.js';
import { COMMAND_STATES, parseStart, type ManualCommand, type OperatorIdentity } from './approvals.js';
import type { ResourceSpec } from './fleet.js';
import { AuditView } from './audit-view.js';
import { ADMISSION_DECISIONS } from './device-admission.js';

export interface ConsoleOptions {
  /**
   * The page served at `/` with its Content-Security-Policy (src/web/console-page.ts), and the
   * page a browser whose certificate is refused reads instead of an empty reply.
   */
  page?: { html: string; csp: string; refused?: RefusalPage } | undefined;
  material: TlsMaterial;
  allowList: AllowListConfig;
  audit: AuditSink;
  host: string;
  port: number;
  /** Serves /healthz, /readyz and /metrics (src/roles/common/health.ts). */
  health?: RoleHealth | undefined;
  /** Routes the attached modules contribute (composition.ts), e.g. secops' /api/vuln/... and /api/alerts. */
  routes?: OperatorRoutes | undefined;
  /** Who may do what (operator-roles.ts); undefined: every admitted operator is an administrator. */
  roles?: OperatorRoleTable | undefined;
  /** How often the live feed compares (ms). */
  liveIntervalMs?: number | undefined;
  /** Whether a resource answered recently enough to count as online (default: its last status said so). */
  online?: ((resourceId: string) => boolean) | undefined;
}

export interface RunningConsole {
  port: number;
  close(): Promise<void>;
}

const poolAddress = z.object({ pool: z.string().describe('a pool id the fleet knows (GET /api/fleet/pools)') }).strict();

// Shapes only: the rules (power > 0, 1 ms-24 h, a reason, known resources) are approvals.ts's, so
// their messages are the same for every caller.
const commandBody = z.object({
  action: z.enum(['reduce', 'increase', 'release']),
  powerW: z.number().default(0).describe('total power over the addressed resources, W (> 0 unless release)'),
  resources: z.union([z.literal('fleet'), z.array(z.string()), poolAddress]).optional().describe('"fleet", resource ids, or {"pool": "<pool id>"} for the resources of one portfolio pool (required)'),
  durationMs: z.number().default(0).describe('how long it holds, ms (1 ms-24 h unless release)'),
  startAt: z.union([z.number(), z.string()]).optional()
    .describe('when the event starts: epoch ms or ISO 8601 with an offset (e.g. 2026-12-07T17:00:00+09:00); in the future, at most 24 h ahead. Absent: at once (on submission, or on approval when held)'),
  reason: z.string().optional().describe('why, 1-500 characters (required; recorded in the audit log)'),
}).strict();

const reasonBody = z.object({ reason: z.string().trim().min(1).max(500) }).strict();
const operatorOf = (r: { operator: OperatorIdentity }): OperatorIdentity => ({ id: r.operator.id, role: r.operator.role, fingerprint: r.operator.fingerprint });

const commandRecord = z.object({
  id: z.string(), state: z.enum(COMMAND_STATES), submittedAt: z.number(), expiresAt: z.number(),
  submittedBy: z.object({ id: z.string() }).loose(), approvedBy: z.object({ id: z.string() }).loose().optional(),
  needsSecondBecause: z.string().optional(), allocatedW: z.number().optional(), shortfallW: z.number().optional(),
  failure: z.string().optional().describe('a failed command: why it could not be sent to the fleet (nothing of it runs)'),
  leftOut: z.string().optional().describe('a short command: the addressed resources that could not take part and why, e.g. "2 no fresh telemetry"'),
  command: z.object({
    action: z.string(), powerW: z.number(), resources: z.union([z.literal('fleet'), z.array(z.string()), poolAddress]), durationMs: z.number(), reason: z.string(),
    startAt: z.number().optional().describe('when its event starts, epoch ms (absent: when it runs)'),
  }),
}).loose();
const commandOutcome = z.object({ record: commandRecord, result: z.object({ key: z.string(), allocatedW: z.number(), shortfallW: z.number() }).optional() });
const pageOfSchema = (item: z.ZodType) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });
const deviceView = z.object({
  id: z.string(), gateway: z.string(), resourceClass: z.string(), ratedReduceW: z.number(), ratedIncreaseW: z.number(), online: z.boolean(),
  admission: z.enum(ADMISSION_STATES).nullable().describe('the device\'s admission at its gateway (null: no inventory of its gateway accepted)'),
  admissionRevision: z.number().int().nullable().describe('the revision of its admission record: admit names it'),
  version: z.string().optional().describe('firmware version, from the portfolio'),
  notReady: z.string().optional().describe('why the device cannot take part in a dispatch now (offline, no fresh telemetry, power limits not known yet, state of charge unknown, under manual override…); absent when it can'),
}).loose();
const admissionSent = z.object({ eventId: z.string(), deviceId: z.string(), gateway: z.string(), decision: z.enum(ADMISSION_DECISIONS), revision: z.number().int() });

const bool = z.enum(['true', 'false']).transform((v) => v === 'true');

/** The console's own routes and the live feed its stream serves. */
export function consoleRoutes(agg: RunningAggregator, o: Pick<ConsoleOptions, 'page' | 'liveIntervalMs' | 'online'> & { audit?: AuditSink | undefined }): { routes: ApiRoute[]; feed: LiveFeed } {
  const online = o.online ?? ((id: string) => agg.fleet.state(id)?.online ?? false);
  const feed = new LiveFeed({
    event: () => new Map(agg.status().events.map((e) => [e.key, e])),
    command: () => new Map(agg.commands().map((c) => [c.id, c])),
    gateway: () => new Map(agg.status().gateways.map((g) => [g.venId, g])),
  }, o.liveIntervalMs ?? 1000);
  const acted = <T>(v: T): T => {
    feed.poke();
    return v;
  };
  const admissionOf = (id: string) => agg.fleet.state(id)?.admission;
  const deviceOf = (s: ResourceSpec) => {
    const a = admissionOf(s.id);
    const notReady = agg.engine.notReady(s.id);
    return {
      id: s.id, gateway: s.venId, resourceClass: s.resourceClass, ratedReduceW: s.ratedReduceW, ratedIncreaseW: s.ratedIncreaseW, ...(s.pool ? { pool: s.pool } : {}), online: online(s.id),
      admission: a?.state ?? null, admissionRevision: a?.revision ?? null,
      ...(notReady !== undefined ? { notReady } : {}),
    };
  };
  const eventOr404 = (key: string) => {
    const ev = agg.engine.get(key);
    if (!ev) throw new NotFoundError(`event ${key.slice(0, 200)}: not known to this aggregator`);
    return ev;
  };

  const auditView = new AuditView(o.audit ?? { append() {} });
  // Versions of the items of one page (the bench's stand-in aggregator has none to give).
  const versionsOf = async (gateways: string[], devices: string[]) => (agg.versions ? agg.versions({ gateways, devices }) : { gateways: {} as Record<string, { erab: string; node: string }>, devices: {} as Record<string, string> });
  const routes: ApiRoute[] = [
    ...(o.page ? [{
      method: 'GET', path: '/', action: 'console.page', role: 'viewer', summary: 'The operator console page', produces: 'html',
      handle: () => new ApiAnswer(200, o.page!.html, {
        'content-type': 'text/html; charset=utf-8', 'content-security-policy': o.page!.csp, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer',
      }),
    } satisfies ApiRoute] : []),
    { method: 'GET', path: '/status', action: 'console.status', role: 'viewer', summary: 'Events, gateways, resources, refusals and pending approvals', response: z.object({ id: z.string() }).loose(), handle: () => agg.status() },
    { method: 'GET', path: '/events/:key/series', action: 'console.event.series', role: 'viewer', summary: 'Target vs instructed vs delivered samples of one event', response: z.array(z.object({ t: z.number() }).loose()), handle: (r) => agg.eventSeries(r.params.key!) },
    { method: 'GET', path: '/commands', action: 'console.commands.list', role: 'viewer', summary: 'Every operator command, newest first', response: z.array(commandRecord), handle: () => agg.commands() },
    {
      method: 'POST', path: '/commands', action: 'console.commands.submit', role: 'operator', status: 200, body: commandBody, response: commandOutcome,
      summary: 'Submit a manual command; answered 202 when held for a second operator, state `short` when the fleet cannot take all of it',
      handle: async (r) => {
        const b = r.body as Omit<ManualCommand, 'startAt'> & { startAt?: number | string };
        const command: ManualCommand = { ...b, startAt: b.startAt === undefined ? undefined : parseStart(b.startAt) };
        if (command.startAt === undefined) delete command.startAt;
        const out = await agg.submitCommand(operatorOf(r), command);
        return acted(new ApiAnswer(out.record.state === 'held' ? 202 : 200, out));
      },
    },
    { method: 'POST', path: '/commands/:id/approve', action: 'console.commands.approve', role: 'approver', summary: 'Approve a held command (not its submitter)', response: commandOutcome, handle: async (r) => acted(await agg.approveCommand(r.params.id!, operatorOf(r))) },
    {
      method: 'POST', path: '/commands/:id/reject', action: 'console.commands.reject', role: 'operator',
      summary: 'Reject a held command (an approver) or withdraw one\'s own (its submitter)',
      body: z.object({ reason: z.string().optional() }).strict(), response: commandRecord,
      handle: (r) => {
        const rec = agg.approvals.get(r.params.id!);
        if (rec && rec.submittedBy.id !== r.operator.id && !grants(r.role, 'approver')) {
          throw new NotAuthorizedError(explain('access.rejectNeedsApprover', { id: rec.id, submitter: rec.submittedBy.id, operator: r.operator.id, role: r.role }));
        }
        return acted(agg.rejectCommand(r.params.id!, operatorOf(r), (r.body as { reason?: string }).reason?.trim().slice(0, 500) || 'rejected'));
      },
    },
    {
      method: 'GET', path: '/api/commands', action: 'console.api.commands', role: 'viewer', summary: 'Commands newest first; `state=held` lists those waiting for a second operator',
      query: z.object({ state: z.enum(COMMAND_STATES).optional(), ...pageQuery }), response: pageOfSchema(commandRecord),
      handle: (r) => {
        const a = r.args as { state?: string; limit: number; cursor?: string };
        // Newest first: the key sorts descending time, then id, so the keyset order is stable.
        const sorted = agg.commands().map((c) => ({ c, k: `${(9e15 - c.submittedAt).toString().padStart(16, '0')}|${c.id}` })).sort((x, y) => (x.k < y.k ? -1 : 1));
        const page = pageOf(sorted, (x) => x.k, { limit: a.limit, cursor: a.cursor, filter: a.state ? (x) => x.c.state === a.state : undefined });
        return { items: page.items.map((x) => x.c), nextCursor: page.nextCursor };
      },
    },
    {
      method: 'GET', path: '/api/commands/:id', action: 'console.api.command', role: 'viewer', summary: 'One command with its details', response: commandRecord,
      handle: (r) => agg.approvals.get(r.params.id!) ?? (() => { throw new NotFoundError(`command ${r.params.id!.slice(0, 100)}: unknown`); })(),
    },
    {
      method: 'GET', path: '/api/events', action: 'console.api.events', role: 'viewer', summary: 'Events by key, with target, instructed and delivered power and the uncovered part',
      query: z.object({ state: z.enum(['accepted', 'active', 'completed', 'cancelled']).optional(), ...pageQuery }), response: pageOfSchema(z.object({ key: z.string() }).loose()),
      handle: (r) => {
        const a = r.args as { state?: string; limit: number; cursor?: string };
        const events = agg.status().events.sort((x, y) => (x.key < y.key ? -1 : 1));
        return pageOf(events, (e) => e.key, { limit: a.limit, cursor: a.cursor, filter: a.state ? (e) => e.state === a.state : undefined });
      },
    },
    {
      method: 'POST', path: '/api/events/:key/cancel', action: 'console.api.event.cancel', role: 'operator', summary: 'Cancel an event: every gateway withdraws it and its devices return to their owners',
      body: reasonBody, response: z.object({ key: z.string(), state: z.string() }),
      handle: async (r) => {
        const key = r.params.key!;
        eventOr404(key);
        const done = await agg.engine.cancel(key, `cancelled by operator ${r.operator.id}: ${(r.body as { reason: string }).reason}`);
        if (!done) throw new PolicyRefusedError(`event ${key.slice(0, 200)}: already ${agg.engine.get(key)?.state ?? 'over'}`);
        return acted({ key, state: agg.engine.get(key)?.state ?? 'cancelled' });
      },
    },
    {
      method: 'PATCH', path: '/api/events/:key', action: 'console.api.event.modify', role: 'operator',
      summary: 'Modify an operator event (power, remaining duration): it is replaced by a command with the new figures, under the same two-person rule',
      body: z.object({ powerW: z.number().positive().optional(), durationMs: z.number().int().positive().optional(), reason: z.string().trim().min(1).max(500) }).strict(),
      response: commandOutcome,
      handle: async (r) => {
        const key = r.params.key!;
        const ev = eventOr404(key);
        if (!key.startsWith('operator/')) throw new PolicyRefusedError(`event ${key.slice(0, 200)}: only operator events can be modified here; an upstream party's event is modified by that party`);
        if (ev.state === 'cancelled' || ev.state === 'completed') throw new PolicyRefusedError(`event ${key.slice(0, 200)}: already ${ev.state}`);
        const old = agg.approvals.get(key.slice('operator/'.length));
        if (!old) throw new NotFoundError(`event ${key.slice(0, 200)}: its command is no longer kept`);
        const b = r.body as { powerW?: number; durationMs?: number; reason: string };
        // An event that has not started keeps its start (and, unless given, its duration).
        const notStarted = ev.state === 'accepted' && Number(ev.plan.start) > Date.now();
        const replacement: ManualCommand = {
          action: old.command.action, resources: old.command.resources, reason: `modifies ${key}: ${b.reason}`,
          powerW: b.powerW ?? old.command.powerW, replaces: key,
          durationMs: b.durationMs ?? (notStarted ? Number(ev.plan.end) - Number(ev.plan.start) : Math.max(1, Number(ev.plan.end) - Date.now())),
          ...(notStarted ? { startAt: Number(ev.plan.start) } : {}),
        };
        // The new command is checked (and held, if large) before the old event is touched; it
        // cancels the old one when it runs.
        const out = await agg.submitCommand(operatorOf(r), replacement);
        return acted(new ApiAnswer(out.record.state === 'held' ? 202 : 200, out));
      },
    },
    {
      method: 'GET', path: '/api/fleet/gateways', action: 'console.api.fleet.gateways', role: 'viewer', summary: 'Gateways registered with the downstream VTN by venID; `q` searches the venID',
      query: z.object({ q: z.string().max(100).optional(), ...pageQuery }), response: pageOfSchema(z.object({ venId: z.string(), version: z.string().optional(), nodeVersion: z.string().optional() }).loose()),
      handle: async (r) => {
        const a = r.args as { q?: string; limit: number; cursor?: string };
        const gws = agg.downstream.gateways().sort((x, y) => (x.venId < y.venId ? -1 : 1));
        const q = a.q?.toLowerCase();
        const page = pageOf(gws, (g) => g.venId, { limit: a.limit, cursor: a.cursor, filter: q ? (g) => g.venId.toLowerCase().includes(q) : undefined });
        const v = await versionsOf(page.items.map((g) => g.venId), []);
        return { items: page.items.map((g) => (v.gateways[g.venId] ? { ...g, version: v.gateways[g.venId]!.erab, nodeVersion: v.gateways[g.venId]!.node } : g)), nextCursor: page.nextCursor };
      },
    },
    {
      method: 'GET', path: '/api/fleet/pools', action: 'console.api.fleet.pools', role: 'viewer',
      summary: 'The portfolio pools the fleet\'s resources belong to, with how many resources each has (a command may address one: resources {"pool": "<id>"})',
      response: z.object({ items: z.array(z.object({ id: z.string(), resources: z.number().int() })) }),
      handle: () => ({ items: [...agg.fleet.pools()].map(([id, resources]) => ({ id, resources })) }),
    },
    {
      method: 'GET', path: '/api/fleet/sites', action: 'console.api.fleet.sites', role: 'viewer',
      summary: 'The portfolio\'s sites by id (TSO area, pool; names and addresses are personal data and stay out); `q` searches the id (or a sealed name exactly), `pool` filters',
      query: z.object({ q: z.string().max(100).optional(), pool: z.string().max(128).optional(), ...pageQuery }),
      response: z.object({ items: z.array(z.object({ id: z.string(), tsoArea: z.string(), poolId: z.string().nullable() })), nextCursor: z.string().nullable(), total: z.number() }),
      handle: (r) => agg.sites(r.args as { q?: string; pool?: string; limit: number; cursor?: string }),
    },
    {
      method: 'GET', path: '/api/fleet/devices', action: 'console.api.fleet.devices', role: 'viewer',
      summary: 'Devices (resources) by id with their admission at the gateway and firmware version; `q` searches id and gateway, `gateway`, `online` and `admission` (e.g. pending) filter',
      query: z.object({ q: z.string().max(100).optional(), gateway: z.string().max(128).optional(), online: bool.optional(), admission: z.enum(ADMISSION_STATES).optional(), ...pageQuery }), response: pageOfSchema(deviceView),
      handle: async (r) => {
        const a = r.args as { q?: string; gateway?: string; online?: boolean; admission?: string; limit: number; cursor?: string };
        const q = a.q?.toLowerCase();
        const filter = q || a.gateway || a.online !== undefined || a.admission
          ? (s: ResourceSpec) => (!a.gateway || s.venId === a.gateway) && (!q || s.id.toLowerCase().includes(q) || s.venId.toLowerCase().includes(q))
            && (a.online === undefined || online(s.id) === a.online) && (!a.admission || admissionOf(s.id)?.state === a.admission)
          : undefined;
        const page = pageOf(agg.fleet.sorted(), (s) => s.id, { limit: a.limit, cursor: a.cursor, filter });
        const v = await versionsOf([], page.items.map((s) => s.id));
        return { items: page.items.map((s) => (v.devices[s.id] ? { ...deviceOf(s), version: v.devices[s.id] } : deviceOf(s))), nextCursor: page.nextCursor };
      },
    },
    {
      method: 'POST', path: '/api/fleet/devices/:id/admit', action: 'console.api.device.admit', role: 'operator', status: 202,
      summary: 'Admit a device at the revision the operator saw (409 when stale): a signed admission event goes to its gateway; its next inventory shows the device admitted',
      body: z.object({ revision: z.number().int().min(1).describe('the admissionRevision the operator saw') }).strict(), response: admissionSent,
      handle: async (r) => acted(new ApiAnswer(202, await agg.decideAdmission(operatorOf(r), r.params.id!, { decision: 'admit', revision: (r.body as { revision: number }).revision }))),
    },
    {
      method: 'POST', path: '/api/fleet/devices/:id/reject', action: 'console.api.device.reject', role: 'operator', status: 202,
      summary: 'Reject a device: a signed admission event goes to its gateway, which never controls it; its next inventory shows the device rejected',
      body: reasonBody, response: admissionSent,
      handle: async (r) => acted(new ApiAnswer(202, await agg.decideAdmission(operatorOf(r), r.params.id!, { decision: 'reject', reason: (r.body as { reason: string }).reason }))),
    },
    {
      method: 'POST', path: '/api/fleet/devices/:id/quarantine', action: 'console.api.device.quarantine', role: 'security officer', status: 202,
      summary: 'Quarantine an admitted or pending device: a signed admission event goes to its gateway, which returns it to its owner\'s mode and never commands it until released; its next inventory shows it quarantined',
      body: reasonBody, response: admissionSent,
      handle: async (r) => acted(new ApiAnswer(202, await agg.decideAdmission(operatorOf(r), r.params.id!, { decision: 'quarantine', reason: (r.body as { reason: string }).reason }))),
    },
    {
      method: 'POST', path: '/api/fleet/devices/:id/release', action: 'console.api.device.release', role: 'security officer', status: 202,
      summary: 'Release a quarantined device at the revision the officer saw (409 when stale): its gateway admits it again; its next inventory shows it admitted',
      body: z.object({ revision: z.number().int().min(1).describe('the admissionRevision the officer saw'), reason: z.string().trim().min(1).max(500) }).strict(), response: admissionSent,
      handle: async (r) => {
        const b = r.body as { revision: number; reason: string };
        return acted(new ApiAnswer(202, await agg.decideAdmission(operatorOf(r), r.params.id!, { decision: 'release', revision: b.revision, reason: b.reason })));
      },
    },
    {
      method: 'POST', path: '/api/portfolio', action: 'console.api.portfolio.import', role: 'administrator',
      summary: 'Import a portfolio file (CSV or JSON, all or nothing) while running: its resources are dispatchable at once and the gateways\' inventories are accepted again without a restart',
      body: z.object({ format: z.enum(['csv', 'json']), text: z.string().min(1), source: z.string().min(1).max(200).default('console') }).strict(),
      response: z.object({ summary: z.object({}).loose(), gateways: z.array(z.object({ venId: z.string(), accepted: z.boolean(), reason: z.string().optional() })), fleet: z.number() }),
      handle: async (r) => {
        const b = r.body as { format: 'csv' | 'json'; text: string; source: string };
        return acted(await agg.importPortfolio(b.text, b.format, b.source, operatorOf(r)));
      },
    },
    {
      method: 'GET', path: '/api/events/stream', action: 'console.api.stream', role: 'viewer', produces: 'event-stream',
      summary: 'Server-sent events: `hello`, then one message per changed event, command or gateway ({op: upsert|remove, id, value})',
      handle: (r) => feed.subscribe(r.raw.res, { aggregator: agg.id, time: epochMillis(Date.now()) }),
    },
    {
      method: 'GET', path: '/api/summary', action: 'console.api.summary', role: 'viewer',
      summary: 'Counts for the console\'s header: resources (online), gateways, events by state, commands held; a few hundred bytes whatever the fleet\'s size',
      response: z.object({ id: z.string(), time: z.number(), resources: z.object({ total: z.number(), online: z.number() }), gateways: z.number(), events: z.record(z.string(), z.number()), held: z.number() }),
      handle: () => {
        const s = agg.status();
        const events: Record<string, number> = {};
        for (const e of s.events) events[e.state] = (events[e.state] ?? 0) + 1;
        return { id: s.id, time: s.time, resources: s.resources, gateways: s.gateways.length, events, held: agg.commands().filter((c) => c.state === 'held').length };
      },
    },
    {
      method: 'GET', path: '/api/audit', action: 'console.api.audit', role: 'viewer',
      summary: 'The role\'s audit log newest first, with the log\'s verification result; `action` is one action or a prefix ending in "." (e.g. tls.), `outcome` filters',
      query: z.object({ action: z.string().max(100).optional(), outcome: z.enum(['success', 'failure', 'refused']).optional(), ...pageQuery }),
      response: z.object({ items: z.array(z.object({ index: z.number(), time: z.number(), action: z.string(), outcome: z.string() }).loose()), nextCursor: z.string().nullable(), verification: z.object({ ok: z.boolean().nullable(), checkedAt: z.number(), problems: z.array(z.string()) }).loose() }),
      handle: (r) => {
        const a = r.args as { action?: string; outcome?: string; limit: number; cursor?: string };
        try {
          return auditView.page(a);
        } catch (err) {
          if (err instanceof RangeError) throw new InvalidInputError(err.message);
          throw err;
        }
      },
    },
    {
      method: 'GET', path: '/api/refusals', action: 'console.api.refusals', role: 'viewer',
      summary: 'Refusals newest first: dispatches the engine refused (kind dispatch), peers refused at the TLS handshake (kind tls) and requests refused by policy or role (kind request)',
      query: z.object({ kind: z.enum(['dispatch', 'tls', 'request']).optional(), limit: pageQuery.limit }),
      response: z.object({ items: z.array(z.object({ kind: z.string(), time: z.number(), by: z.string(), what: z.string(), reason: z.string() })) }),
      handle: (r) => {
        const a = r.args as { kind?: 'dispatch' | 'tls' | 'request'; limit: number };
        const dispatch = a.kind && a.kind !== 'dispatch' ? [] : agg.engine.recentRefusals().map((n) => ({ kind: 'dispatch', time: n.time, by: n.by, what: n.what, reason: n.reason }));
        const audited = a.kind === 'dispatch' ? [] : auditView.page({ limit: a.limit, outcome: 'refused', ...(a.kind === 'tls' ? { action: 'tls.' } : {}) }).items
          .map((e) => ({ kind: e.action.startsWith('tls.') ? 'tls' : 'request', time: e.time, by: e.actor.address ? `${e.actor.id} (${e.actor.address})` : e.actor.id, what: e.target ? `${e.action} ${e.target}` : e.action, reason: e.reason ?? '' }))
          .filter((x) => !a.kind || x.kind === a.kind);
        return { items: [...dispatch, ...audited].sort((x, y) => y.time - x.time).slice(0, a.limit) };
      },
    },
  ];
  return { routes, feed };
}

/**
 * Starts the operator endpoint for a running aggregator.
 * @example const c = await startConsole(agg, { material, allowList: { roles: ['operator'] }, audit, host: '127.0.0.1', port: 0 });
 */
export async function startConsole(agg: RunningAggregator, o: ConsoleOptions): Promise<RunningConsole> {
  const { routes, feed } = consoleRoutes(agg, o);
  const api = await startOperatorApi({
    material: o.material, allowList: o.allowList, audit: o.audit, listener: `aggregator:${agg.id}:console`, host: o.host, port: o.port,
    title: `erab aggregator ${agg.id} operator API`, routes, contributed: o.routes?.list(), roles: o.roles, health: o.health,
    refusalPage: o.page?.refused,
  });
  return {
    port: api.port,
    close: async () => {
      feed.close();
      await api.close();
    },
  };
}

