/**
 * JSON routes that modules above the roles (secops, compliance) contribute to a role's operator
 * endpoint (the aggregator's console, the TSO/retailer operator API) through the composition hook
 * (composition.ts), and the one mapping of typed errors to HTTP statuses that every operator route
 * uses (400 with the parameter and rule, 403, 404, 409, 413; 500 without detail, never a stack
 * trace). The routes are served by operator-api.ts, which adds the operator's identity from the
 * certificate, the role check and one audit record per request (自家用GL 8-1-1).
 *
 * @example
 * const route: OperatorRoute = { method: 'GET', path: '/api/alerts', action: 'secops.alerts.list', handle: (r) => book.page(r.query) };
 */
import type { AuditSink } from '../../core/audit-port.js';
import { ErabError, explain, InvalidInputError, NotAuthorizedError, PolicyRefusedError, type Explained, type ExplainedLine } from '../../core/errors.js';
import { RequestBodyError } from './json-body.js';
import type { OperatorRole } from './operator-roles.js';

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
  readonly method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  /** `/api/alerts/:id/ack`: literal segments and `:name` parameters. */
  readonly path: string;
  /** The audit action recorded for each request, e.g. `secops.alert.ack`. */
  readonly action: string;
  /** The least operator role (operator-roles.ts); default viewer for GET, operator for POST. */
  readonly role?: OperatorRole | undefined;
  /** One line for the OpenAPI document (default: the action). */
  readonly summary?: string | undefined;
  /** The JSON answered with 200; throw the typed errors below for anything else. */
  handle(req: RouteRequest): Promise<unknown> | unknown;
}

/**
 * A query parameter broken: 400 naming the parameter and the rule (`rule`: English; the key
 * request.badQuery carries it in both languages).
 * @example throw new BadQueryError('limit', inBoth('rule.integerRange', { min: 1, max: 500 }))
 */
export class BadQueryError extends InvalidInputError {
  readonly rule: string;
  constructor(readonly parameter: string, rule: ExplainedLine) {
    super(explain('request.badQuery', { name: parameter.slice(0, 40), rule: rule.en, ruleJa: rule.ja }), { code: 'bad_query' });
    this.rule = rule.en;
  }
}

/** The thing named in the path does not exist: 404. */
export class NotFoundError extends ErabError {
  constructor(message: string | Explained) {
    super('not_found', message);
  }
}

/**
 * The HTTP status and JSON body of an error; the one mapping every contributed route uses. An
 * error thrown with a message key (core/errors.ts `explain`) carries `key` and `params` beside the
 * English `error`, so a client renders it in its operator's language (src/web/console-messages.ts,
 * src/cli `refusalText`).
 */
export function errorResponse(e: unknown): { status: number; body: Record<string, unknown> } {
  const body = (err: ErabError, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    error: err.message, code: err.code, ...extra, ...(err.key ? { key: err.key, params: err.params ?? {} } : {}),
  });
  if (e instanceof BadQueryError) return { status: 400, body: body(e, { parameter: e.parameter, rule: e.rule }) };
  if (e instanceof RequestBodyError) return { status: e.status, body: body(e) };
  if (e instanceof InvalidInputError) return { status: 400, body: body(e) };
  if (e instanceof NotFoundError) return { status: 404, body: body(e) };
  if (e instanceof NotAuthorizedError) return { status: 403, body: body(e) };
  if (e instanceof PolicyRefusedError || e instanceof ErabError) return { status: 409, body: body(e) };
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

  /** The routes, in the order added (served by operator-api.ts). */
  list(): readonly OperatorRoute[] {
    return this.compiled.map((c) => c.route);
  }
}
