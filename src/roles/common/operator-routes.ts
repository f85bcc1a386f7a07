/**
 * JSON routes that modules above the roles (secops, compliance) contribute to a role's operator
 * endpoint (the aggregator's console, the TSO/retailer operator API) through the composition hook
 * (composition.ts). The endpoint keeps its mutual TLS and operator allow-list; this module adds,
 * for every contributed route: the operator's identity from the certificate (role `operator`
 * only), one audit record per request naming that operator (自家用GL 8-1-1), and one mapping of
 * typed errors to HTTP statuses (400 with the parameter and rule, 403, 404, 409, 413; 500 without
 * detail, never a stack trace).
 *
 * @example
 * const route: OperatorRoute = { method: 'GET', path: '/api/alerts', action: 'secops.alerts.list', handle: (r) => book.page(r.query) };
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditSink } from '../../core/audit-port.js';
import { ErabError, InvalidInputError, NotAuthorizedError, PolicyRefusedError } from '../../core/errors.js';
import { peerOf } from '../../security/tls.js';
import { readJsonBody, RequestBodyError } from './json-body.js';

const MAX_BODY = 64 * 1024;

/** The operator behind a request: from the client certificate, never from the request itself. */
export interface RouteOperator {
  readonly id: string;
  readonly role: string;
  readonly fingerprint: string;
}

export interface RouteRequest {
  readonly operator: RouteOperator;
  /** The `:name` segments of the route's path, decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The parsed JSON body (POST; `{}` when empty); undefined for GET. */
  readonly body: unknown;
  /** The role's audit sink (an action route that audits its own change, e.g. an acknowledgement). */
  readonly audit: AuditSink;
}

export interface OperatorRoute {
  readonly method: 'GET' | 'POST';
  /** `/api/alerts/:id/ack`: literal segments and `:name` parameters. */
  readonly path: string;
  /** The audit action recorded for each request, e.g. `secops.alert.ack`. */
  readonly action: string;
  /** The JSON answered with 200; throw the typed errors below for anything else. */
  handle(req: RouteRequest): Promise<unknown> | unknown;
}

/** A query parameter broken: 400 naming the parameter and the rule. */
export class BadQueryError extends InvalidInputError {
  constructor(readonly parameter: string, readonly rule: string) {
    super(`query parameter "${parameter.slice(0, 40)}": ${rule}`, { code: 'bad_query' });
  }
}

/** The thing named in the path does not exist: 404. */
export class NotFoundError extends ErabError {
  constructor(message: string) {
    super('not_found', message);
  }
}

/** The HTTP status and JSON body of an error; the one mapping every contributed route uses. */
export function errorResponse(e: unknown): { status: number; body: Record<string, unknown> } {
  if (e instanceof BadQueryError) return { status: 400, body: { error: e.message, code: e.code, parameter: e.parameter, rule: e.rule } };
  if (e instanceof RequestBodyError) return { status: e.status, body: { error: e.message, code: e.code } };
  if (e instanceof InvalidInputError) return { status: 400, body: { error: e.message, code: e.code } };
  if (e instanceof NotFoundError) return { status: 404, body: { error: e.message, code: e.code } };
  if (e instanceof NotAuthorizedError) return { status: 403, body: { error: e.message, code: e.code } };
  if (e instanceof PolicyRefusedError || e instanceof ErabError) return { status: 409, body: { error: e.message, code: e.code } };
  return { status: 500, body: { error: 'internal error' } };
}

interface Compiled {
  route: OperatorRoute;
  segments: string[];
}

function compile(route: OperatorRoute): Compiled {
  if (!route.path.startsWith('/')) throw new InvalidInputError(`operator route ${route.path}: must start with /`);
  return { route, segments: route.path.split('/').filter(Boolean) };
}

function match(c: Compiled, parts: string[]): Record<string, string> | undefined {
  if (c.segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const s = c.segments[i]!;
    if (s.startsWith(':')) params[s.slice(1)] = parts[i]!;
    else if (s !== parts[i]) return undefined;
  }
  return params;
}

/** The contributed routes of one role, served by its operator endpoint. */
export class OperatorRoutes {
  private readonly compiled: Compiled[] = [];

  constructor(routes: readonly OperatorRoute[] = []) {
    for (const r of routes) this.add(r);
  }

  /** Adds a route; the same method and path twice is refused (two attachments would shadow each other). */
  add(route: OperatorRoute): void {
    const c = compile(route);
    const shape = (x: Compiled) => `${x.route.method} ${x.segments.map((s) => (s.startsWith(':') ? ':' : s)).join('/')}`;
    if (this.compiled.some((x) => shape(x) === shape(c))) throw new InvalidInputError(`operator route ${route.method} ${route.path}: contributed twice`);
    this.compiled.push(c);
  }

  get size(): number {
    return this.compiled.length;
  }

  /**
   * Serves the request when a contributed route matches its path, and answers it (returns true);
   * returns false, touching nothing, when none does (the endpoint's own routes or its 404).
   * A path that matches with another method is answered 405.
   */
  handle(req: IncomingMessage, res: ServerResponse, audit: AuditSink): boolean {
    const url = new URL(req.url ?? '/', 'https://operator');
    let parts: string[];
    try {
      parts = url.pathname.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
    } catch {
      return false;
    }
    let found: { c: Compiled; params: Record<string, string> } | undefined;
    let otherMethod = false;
    for (const c of this.compiled) {
      const params = match(c, parts);
      if (!params) continue;
      if (c.route.method === req.method) {
        found = { c, params };
        break;
      }
      otherMethod = true;
    }
    const send = (status: number, body: unknown): void => {
      if (res.headersSent) return;
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' }).end(text);
    };
    if (!found) {
      if (!otherMethod) return false;
      send(405, { error: `${req.method ?? '?'} not allowed on ${url.pathname.slice(0, 100)}`, code: 'method_not_allowed' });
      return true;
    }
    const { route } = found.c;
    const peer = peerOf(req);
    const actor = { kind: 'operator' as const, id: peer?.id ?? 'unknown', role: peer?.role, fingerprint: peer?.fingerprint };
    const target = url.pathname.slice(0, 200);
    void (async () => {
      if (!peer || peer.role !== 'operator') throw new NotAuthorizedError(`only operator certificates may use ${route.path}, not ${peer?.role ?? 'none'}`);
      const body = route.method === 'POST' ? await readJsonBody(req, MAX_BODY) : undefined;
      const out = await route.handle({ operator: { id: peer.id, role: peer.role, fingerprint: peer.fingerprint }, params: found.params, query: url.searchParams, body, audit });
      audit.append({ actor, action: route.action, target, outcome: 'success', ...(url.search ? { details: { query: url.search.slice(0, 300) } } : {}) });
      send(200, out);
    })().catch((e: unknown) => {
      const { status, body } = errorResponse(e);
      audit.append({
        actor, action: route.action, target, outcome: status === 403 ? 'refused' : 'failure',
        // A 500's cause is for the audit log, not for the client.
        reason: String((e as Error)?.message ?? e).slice(0, 200),
      });
      send(status, body);
    });
    return true;
  }
}
