/**
 * The one API layer of every role's operator listener (aggregator console, TSO/retailer API,
 * gateway operator listener): Fastify on the listener's own mutual-TLS server.
 *
 * The TLS server is made by createMutualTlsServer exactly as before (profile `console`, the
 * listener's allow-list, refusals audited as `tls.refused`) and handed to Fastify through
 * `serverFactory`, so the certificate checks do not change. On top, for every route:
 *
 * - the operator's identity from the certificate (`urn:erab:operator:<id>`, never the request) and
 *   its role from the listener's `roles` table (operator-roles.ts); a route declares the least role
 *   it needs, and a lesser one is answered 403;
 * - query and body checked against the route's zod schemas (strict: unknown or repeated query
 *   parameters are a 400 naming them), the same schemas published as JSON Schema in the OpenAPI
 *   3.1 document at `/openapi.json`;
 * - one audit record per request (GET included): operator id, role, certificate fingerprint,
 *   the route's action, outcome `success`, `failure` or `refused` (403), the cause in `reason`;
 * - one mapping of typed errors to statuses (operator-routes.ts errorResponse): 400, 403, 404,
 *   405 (the path is served with another method), 409, 413, 500 without detail.
 *
 * @example
 * const api = await startOperatorApi({ material, allowList: { roles: ['operator'] }, audit, listener: 'aggregator:AGG1:console',
 *   host: '127.0.0.1', port: 0, title: 'erab aggregator', routes: [{ method: 'GET', path: '/status', action: 'console.status', role: 'viewer', summary: 'Status', handle: () => agg.status() }] });
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyReply, type FastifyRequest, type RouteGenericInterface } from 'fastify';
import { z } from 'zod';
import type { AuditSink } from '../../core/audit-port.js';
import { explain, inBoth, InvalidInputError, NotAuthorizedError } from '../../core/errors.js';
import { issueRule } from '../../core/zod-rules.js';
import type { AllowListConfig } from '../../security/allow-list.js';
import { createMutualTlsServer, peerOf, type RefusalPage, type TlsMaterial } from '../../security/tls.js';
import type { RoleHealth } from './health.js';
import { readJsonBody } from './json-body.js';
import { BadQueryError, errorResponse, type OperatorRoute, type RouteRequest } from './operator-routes.js';
import { grants, OPERATOR_ROLES, OperatorRoleTable, type OperatorRole } from './operator-roles.js';

const MAX_BODY = 64 * 1024;

type Reply = FastifyReply<RouteGenericInterface, https.Server>;

/** What a route's handler receives: the contributed-route request, plus the role and parsed query. */
export interface ApiRequest<Q = Record<string, unknown>, B = unknown> extends RouteRequest {
  readonly role: OperatorRole;
  /** The query parsed by the route's `query` schema (`{}` without one). */
  readonly args: Q;
  readonly body: B;
  /** The raw exchange, for a route that streams (`produces: 'event-stream'`). */
  readonly raw: { req: IncomingMessage; res: ServerResponse };
}

/** A status other than 200, or a body that is not JSON (the console page). */
export class ApiAnswer {
  constructor(readonly status: number, readonly body: unknown, readonly headers: Readonly<Record<string, string>> = {}) {}
}

export interface ApiRoute {
  readonly method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  /** `/api/commands/:id/approve`: literal segments and `:name` parameters. */
  readonly path: string;
  /** The audit action recorded for each request, e.g. `console.commands.approve`; also the operationId. */
  readonly action: string;
  /** The least role that may use it (operator-roles.ts grants). */
  readonly role: OperatorRole;
  readonly summary: string;
  /** A zod object of the query parameters (strict); routes without one read `query` themselves. */
  readonly query?: z.ZodObject | undefined;
  readonly body?: z.ZodType | undefined;
  /** What a success answers, for the document. */
  readonly response?: z.ZodType | undefined;
  /** The success status for the document (default 200; an ApiAnswer may choose per request). */
  readonly status?: number | undefined;
  /** `json` (default), `html` (the console page) or `event-stream` (the handler writes `raw.res`). */
  readonly produces?: 'json' | 'html' | 'event-stream' | undefined;
  handle(req: ApiRequest<any, any>): unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface OperatorApiOptions {
  material: TlsMaterial;
  allowList: AllowListConfig;
  audit: AuditSink;
  /** The listener's name in TLS audit records, e.g. `aggregator:AGG1:console`. */
  listener: string;
  host: string;
  port: number;
  /** The document's title, e.g. `erab aggregator operator API`. */
  title: string;
  routes: readonly ApiRoute[];
  /** The routes attached modules contribute (secops, compliance). */
  contributed?: readonly OperatorRoute[] | undefined;
  /** Who may do what (operator-roles.ts); undefined: every admitted operator is an administrator. */
  roles?: OperatorRoleTable | undefined;
  /** Serves /healthz, /readyz and /metrics (health.ts) to operator certificates. */
  health?: RoleHealth | undefined;
  /** The page a refused browser reads instead of an empty reply (security/tls/server.ts). */
  refusalPage?: RefusalPage | undefined;
}

export interface RunningOperatorApi {
  port: number;
  url: string;
  /** The OpenAPI 3.1 document served at /openapi.json. */
  readonly document: Record<string, unknown>;
  close(): Promise<void>;
}

/** A contributed route (operator-routes.ts) as an API route: reads for viewers, writes for operators unless it says. */
export function contributedRoute(r: OperatorRoute): ApiRoute {
  return {
    method: r.method, path: r.path, action: r.action, role: r.role ?? (r.method === 'GET' ? 'viewer' : 'operator'),
    summary: r.summary ?? r.action, handle: (req) => r.handle(req),
  };
}

function segmentsOf(path: string): string[] {
  return path.split('/').filter(Boolean);
}

function matches(route: ApiRoute, parts: readonly string[]): boolean {
  const s = segmentsOf(route.path);
  return s.length === parts.length && s.every((x, i) => x.startsWith(':') || x === parts[i]);
}

/** The query as the route's schema wants it; unknown or repeated parameters are refused. */
function parseQuery(schema: z.ZodObject | undefined, query: URLSearchParams): Record<string, unknown> {
  if (!schema) return {};
  const known = new Set(Object.keys(schema.shape));
  const raw: Record<string, string> = {};
  for (const [k, v] of query) {
    if (!known.has(k)) throw new BadQueryError(k, inBoth('rule.notRouteParameter', { names: [...known].join(', ') || 'none' }));
    if (k in raw) throw new BadQueryError(k, inBoth('rule.givenTwice'));
    raw[k] = v;
  }
  // reportInput: the Japanese rule names the type received (zod-rules.ts); the input stays out of the answer.
  const out = schema.safeParse(raw, { reportInput: true });
  if (!out.success) {
    const issue = out.error.issues[0]!;
    throw new BadQueryError(String(issue.path[0] ?? '?'), issueRule(issue));
  }
  return out.data as Record<string, unknown>;
}

/** The body as the route's schema wants it; the first problem is a 400 naming its path and rule (request.badBody). */
function parseBody(schema: z.ZodType | undefined, body: unknown): unknown {
  if (!schema) return body;
  const out = schema.safeParse(body, { reportInput: true });
  if (out.success) return out.data;
  const issue = out.error.issues[0]!;
  const rule = issueRule(issue);
  const path = `body${issue.path.length ? `.${issue.path.join('.')}` : ''}`;
  throw new InvalidInputError(explain('request.badBody', { path, rule: rule.en, ruleJa: rule.ja }), { code: 'bad_body' });
}

/** Body parsing is deferred to the route, so a bad body is audited with the request. */
interface DeferredBody { ok?: unknown; err?: unknown }

/**
 * Starts an operator listener serving `routes` (and the contributed ones) on mutual TLS.
 * The same method and path twice is refused at start-up.
 */
export async function startOperatorApi(o: OperatorApiOptions): Promise<RunningOperatorApi> {
  const roles = o.roles ?? new OperatorRoleTable();
  const all: ApiRoute[] = [...o.routes, ...(o.contributed ?? []).map(contributedRoute)];
  const shape = (r: ApiRoute) => `${r.method} ${segmentsOf(r.path).map((s) => (s.startsWith(':') ? ':' : s)).join('/')}`;
  const seen = new Set<string>();
  for (const r of all) {
    if (!r.path.startsWith('/')) throw new InvalidInputError(`operator route ${r.path}: must start with /`);
    if (seen.has(shape(r))) throw new InvalidInputError(`operator route ${r.method} ${r.path}: contributed twice`);
    seen.add(shape(r));
  }
  let document: Record<string, unknown> = {};
  all.push(meRoute(all), documentRoute(() => document));
  document = openApiDocument(o.title, all);

  let tlsServer: https.Server | undefined;
  const app = Fastify<https.Server, IncomingMessage, ServerResponse>({
    logger: false,
    bodyLimit: MAX_BODY,
    requestTimeout: 30_000,
    forceCloseConnections: true,
    // Only the documented methods: a HEAD on the event stream would hold a connection for nothing.
    exposeHeadRoutes: false,
    routerOptions: { maxParamLength: 500 },
    serverFactory: (handler) => {
      tlsServer = createMutualTlsServer({
        material: o.material, profile: 'console', allowList: o.allowList, audit: o.audit, listener: o.listener, serverOptions: { requestTimeout: 30_000 },
        ...(o.refusalPage ? { refusalPage: o.refusalPage } : {}),
      }, (req, res) => {
        if (peerOf(req)?.role === 'operator' && o.health?.handle(req, res)) return; // /healthz, /readyz, /metrics
        handler(req, res);
      }).server;
      return tlsServer;
    },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => {
    readJsonBody(payload as IncomingMessage, MAX_BODY).then((ok) => done(null, { ok } satisfies DeferredBody), (err: unknown) => done(null, { err } satisfies DeferredBody));
  });
  const sendError = (reply: Reply, e: unknown): void => {
    const { status, body } = errorResponse(e);
    // 413: the rest of the body is still arriving; the answer ends the connection with it.
    if (status === 413) void reply.header('connection', 'close');
    void reply.code(status).header('cache-control', 'no-store').send(body);
  };
  app.setErrorHandler((err: Error, _req, reply) => {
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) return void reply.code(status).send({ error: err.message, code: (err as { code?: string }).code });
    sendError(reply, err);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = new URL(req.url, 'https://operator').pathname;
    let parts: string[];
    try {
      parts = segmentsOf(path).map((p) => decodeURIComponent(p));
    } catch {
      parts = [];
    }
    // Keyed like every other error, so the console and the CLI say it in the operator's language.
    const params = { method: req.method.slice(0, 16), path: path.slice(0, 100) };
    if (all.some((r) => matches(r, parts))) {
      return void reply.code(405).send({ error: explain('request.methodNotAllowed', params).text, code: 'method_not_allowed', key: 'request.methodNotAllowed', params });
    }
    void reply.code(404).send({ error: explain('request.notFound', params).text, code: 'not_found', key: 'request.notFound', params });
  });

  for (const route of all) {
    app.route({
      method: route.method,
      url: route.path,
      handler: async (request: FastifyRequest<{ Params: Record<string, string> }, https.Server>, reply: Reply) => {
        const req = request.raw;
        const res = reply.raw;
        const url = new URL(req.url ?? '/', 'https://operator');
        const peer = peerOf(req);
        const role = peer ? roles.roleOf(peer) : 'viewer';
        const actor = { kind: 'operator' as const, id: peer?.id ?? 'unknown', role, fingerprint: peer?.fingerprint };
        const target = url.pathname.slice(0, 200);
        const query = url.search ? { query: url.search.slice(0, 300) } : {};
        try {
          if (!peer || peer.role !== 'operator') throw new NotAuthorizedError(explain('access.notOperatorCertificate', { path: route.path, role: peer?.role ?? 'none' }));
          if (!grants(role, route.role)) throw new NotAuthorizedError(explain('access.needsRole', { method: route.method, path: route.path, needed: route.role, operator: peer.id, role }));
          const deferred = request.body as DeferredBody | undefined;
          if (deferred?.err) throw deferred.err;
          const raw = route.method === 'GET' ? undefined : (deferred?.ok ?? {});
          const args = parseQuery(route.query, url.searchParams);
          const body = parseBody(route.body, raw);
          if (route.produces === 'event-stream') reply.hijack();
          const out = await route.handle({
            operator: { id: peer.id, role: peer.role, fingerprint: peer.fingerprint }, role, params: request.params,
            query: url.searchParams, args, body, audit: o.audit, raw: { req, res },
          });
          o.audit.append({ actor, action: route.action, target, outcome: 'success', details: { operatorRole: role, ...query } });
          if (route.produces === 'event-stream') return;
          if (out instanceof ApiAnswer) {
            void reply.code(out.status).headers({ 'cache-control': 'no-store', ...out.headers });
            return reply.send(out.body);
          }
          void reply.code(200).header('cache-control', 'no-store');
          return reply.send(out);
        } catch (e) {
          const { status } = errorResponse(e);
          o.audit.append({
            actor, action: route.action, target, outcome: status === 403 ? 'refused' : 'failure',
            // A 500's cause is for the audit log, not for the client.
            reason: String((e as Error)?.message ?? e).slice(0, 200), details: { operatorRole: role, ...query },
          });
          if (reply.sent || res.headersSent) {
            if (!res.writableEnded) res.end();
            return;
          }
          sendError(reply, e);
          return reply;
        }
      },
    });
  }
  await app.listen({ host: o.host, port: o.port });
  const port = (tlsServer!.address() as AddressInfo).port;
  return {
    port,
    url: `https://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`,
    document,
    close: async () => {
      tlsServer?.closeAllConnections();
      await app.close();
    },
  };
}

/** GET /openapi.json: every listener serves its own document. */
function documentRoute(doc: () => Record<string, unknown>): ApiRoute {
  return {
    method: 'GET', path: '/openapi.json', action: 'api.openapi', role: 'viewer', summary: 'This OpenAPI 3.1 document',
    response: z.object({ openapi: z.string() }).loose(), handle: doc,
  };
}

/** What GET /api/me answers. */
export const meResponse = z.object({
  /** The operator id of the certificate (`urn:erab:operator:<id>`). */
  id: z.string(),
  /** The role this listener's `roles` table gives the operator. */
  role: z.enum(OPERATOR_ROLES),
  /** Every role whose routes the operator may use (grants(role, x)). */
  grants: z.array(z.enum(OPERATOR_ROLES)),
  /** `<METHOD> <path>` of each route that is not a read (`/commands/:id/approve`) → the least role it needs. */
  needs: z.record(z.string(), z.enum(OPERATOR_ROLES)),
}).strict();

/**
 * GET /api/me: the operator, the role and what each action needs, for a page to show only the
 * actions the operator may take (the routes still check the role themselves).
 */
function meRoute(routes: readonly ApiRoute[]): ApiRoute {
  return {
    method: 'GET', path: '/api/me', action: 'api.me', role: 'viewer', summary: 'The operator of this certificate, the role, and the least role of each action',
    response: meResponse,
    handle: (req): z.infer<typeof meResponse> => ({
      id: req.operator.id,
      role: req.role,
      grants: OPERATOR_ROLES.filter((r) => grants(req.role, r)),
      needs: Object.fromEntries(routes.filter((r) => r.method !== 'GET').map((r) => [`${r.method} ${r.path}`, r.role])),
    }),
  };
}

/**
 * The document a listener with these routes serves at /openapi.json (itself included), without
 * starting it (the route-coverage test reads it).
 */
export function operatorApiDocument(title: string, routes: readonly ApiRoute[], contributed: readonly OperatorRoute[] = []): Record<string, unknown> {
  const all = [...routes, ...contributed.map(contributedRoute)];
  return openApiDocument(title, [...all, meRoute(all), documentRoute(() => ({}))]);
}

const errorBody = {
  type: 'object',
  properties: {
    error: { type: 'string' }, code: { type: 'string' }, parameter: { type: 'string' }, rule: { type: 'string' },
    key: { type: 'string', description: 'the message key (core/error-messages.ts) a client renders in its operator\'s language, e.g. request.badQuery' },
    params: { type: 'object', additionalProperties: { type: ['string', 'number'] }, description: 'the values of the key\'s placeholders' },
  },
  required: ['error'],
};

/** JSON Schema (2020-12, as OpenAPI 3.1 takes it) of a zod schema, without the `$schema` key. */
function jsonSchema(s: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

/**
 * The OpenAPI 3.1 document of a listener's routes: each with its least role (`x-erab-role`) and
 * audit action, parameters and body from the zod schemas, and the shared error answers.
 */
export function openApiDocument(title: string, routes: readonly ApiRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const params: Record<string, unknown>[] = segmentsOf(r.path).filter((s) => s.startsWith(':')).map((s) => ({ name: s.slice(1), in: 'path', required: true, schema: { type: 'string' } }));
    if (r.query) {
      const q = jsonSchema(r.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) params.push({ name, in: 'query', required: (q.required ?? []).includes(name), schema });
    }
    const content = r.produces === 'html'
      ? { 'text/html': { schema: { type: 'string' } } }
      : r.produces === 'event-stream'
        ? { 'text/event-stream': { schema: { type: 'string' } } }
        : { 'application/json': { schema: r.response ? jsonSchema(r.response, 'output') : {} } };
    const err = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
    paths[path] ??= {};
    paths[path]![r.method.toLowerCase()] = {
      operationId: `${r.action}.${r.method.toLowerCase()}`,
      summary: r.summary,
      'x-erab-role': r.role,
      'x-erab-audit-action': r.action,
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: false, content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } } } : {}),
      responses: {
        [String(r.status ?? 200)]: { description: 'success', content },
        400: err('bad input: the query parameter or body field and the rule it breaks'),
        403: err('not an operator certificate, or the operator\'s role is below the route\'s'),
        409: err('refused by the state of things (e.g. already decided)'),
        500: err('internal error, without detail (the detail is in the audit log)'),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title, version: '1', description: 'Mutual TLS with an operator certificate (urn:erab:operator:<id>); the role of each operator comes from the listener\'s `roles` table. Every request is audited.' },
    security: [{ operatorCertificate: [] }],
    paths,
    components: {
      securitySchemes: { operatorCertificate: { type: 'mutualTLS', description: 'A client certificate issued by the deployment\'s CA with the operator role' } },
      schemas: { Error: errorBody },
    },
  };
}
