/**
 * The aggregator's operator endpoint: HTTPS + JSON behind mutual TLS, admitting only operator
 * certificates (role `operator`, `urn:erab:operator:<id>`) on its allow-list. The certificate is
 * the operator's identity (自家用GL 8-1-1: every administrative action attributed): commands are
 * submitted, approved and rejected as the presenting operator, and the two-person rule of
 * approvals.ts decides whether a second, different operator must approve (自家用GL 7-1-2).
 *
 *   GET  /                           the operator console page, when one is configured (src/web)
 *   GET  /status                     the status object (events, gateways, refusals...)
 *   GET  /events/<key>/series        target vs delivered samples of one event, an array (key URL-encoded)
 *   GET  /commands                   operator commands and their state
 *   POST /commands                   submit {action, powerW, resources, durationMs, reason}
 *   POST /commands/<id>/approve      approve a held command (a different operator)
 *   POST /commands/<id>/reject       reject {reason}
 *   ...                              the routes attached modules contribute (operator-routes.ts)
 *
 * Errors map once, here: bad input 400, not an operator / same operator 403, refused by policy
 * (not held, expired) 409, unknown path 404; anything else 500 without detail.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErabError, InvalidInputError, NotAuthorizedError, PolicyRefusedError } from '../../../core/errors.js';
import type { AllowListConfig } from '../../../security/allow-list.js';
import type { AuditSink } from '../../../security/audit/types.js';
import { createMutualTlsServer, peerOf, type TlsMaterial } from '../../../security/tls.js';
import { readJsonBody, RequestBodyError } from '../../common/json-body.js';
import type { RoleHealth } from '../../common/health.js';
import type { OperatorRoutes } from '../../common/operator-routes.js';
import type { RunningAggregator } from './aggregator.js';
import type { ManualCommand, OperatorIdentity } from './approvals.js';

const MAX_BODY = 64 * 1024;

export interface ConsoleOptions {
  /** The page served at `/` with its Content-Security-Policy (src/web/console-page.ts). */
  page?: { html: string; csp: string } | undefined;
  material: TlsMaterial;
  allowList: AllowListConfig;
  audit: AuditSink;
  host: string;
  port: number;
  /** Serves /healthz, /readyz and /metrics (src/roles/common/health.ts). */
  health?: RoleHealth | undefined;
  /** Routes the attached modules contribute (composition.ts), e.g. secops' /api/vuln/... and /api/alerts. */
  routes?: OperatorRoutes | undefined;
}

export interface RunningConsole {
  port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function asCommand(body: unknown): ManualCommand {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidInputError('command: body must be a JSON object');
  const b = body as Record<string, unknown>;
  const allowed = new Set(['action', 'powerW', 'resources', 'durationMs', 'reason']);
  for (const k of Object.keys(b)) if (!allowed.has(k)) throw new InvalidInputError(`command: unknown field "${k.slice(0, 40)}"`);
  return {
    action: b.action as ManualCommand['action'],
    powerW: (b.powerW ?? 0) as number,
    resources: b.resources as ManualCommand['resources'],
    durationMs: (b.durationMs ?? 0) as number,
    reason: b.reason as string,
  };
}

/**
 * Starts the operator endpoint for a running aggregator.
 * @example const c = await startConsole(agg, { material, allowList: { roles: ['operator'] }, audit, host: '127.0.0.1', port: 0 });
 */
export async function startConsole(agg: RunningAggregator, o: ConsoleOptions): Promise<RunningConsole> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const send = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' }).end(text);
    };
    const peer = peerOf(req);
    // Contributed routes check the operator themselves, audit each request and map their errors.
    if (o.routes?.handle(req, res, o.audit)) return;
    void (async () => {
      if (!peer || peer.role !== 'operator') throw new NotAuthorizedError(`only operator certificates may use the operator endpoint, not ${peer?.role ?? 'none'}`);
      if (o.health?.handle(req, res)) return; // /healthz, /readyz, /metrics
      const op: OperatorIdentity = { id: peer.id, role: peer.role, fingerprint: peer.fingerprint };
      const url = new URL(req.url ?? '/', 'https://console');
      const parts = url.pathname.split('/').filter(Boolean);
      if (req.method === 'GET' && url.pathname === '/' && o.page) {
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(o.page.html), 'cache-control': 'no-store',
          'content-security-policy': o.page.csp, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer',
        }).end(o.page.html);
        return;
      }
      if (req.method === 'GET' && url.pathname === '/status') return send(200, agg.status());
      if (req.method === 'GET' && parts.length === 3 && parts[0] === 'events' && parts[2] === 'series') {
        return send(200, agg.eventSeries(decodeURIComponent(parts[1]!)));
      }
      if (req.method === 'GET' && url.pathname === '/commands') return send(200, agg.commands());
      if (req.method === 'POST' && url.pathname === '/commands') {
        const out = await agg.submitCommand(op, asCommand(await readJsonBody(req, MAX_BODY)));
        return send(out.record.state === 'held' ? 202 : 200, out);
      }
      if (req.method === 'POST' && parts.length === 3 && parts[0] === 'commands' && parts[2] === 'approve') {
        return send(200, await agg.approveCommand(parts[1]!, op));
      }
      if (req.method === 'POST' && parts.length === 3 && parts[0] === 'commands' && parts[2] === 'reject') {
        const body = (await readJsonBody(req, MAX_BODY)) as { reason?: unknown };
        const reason = typeof body.reason === 'string' && body.reason.trim() ? body.reason.slice(0, 500) : 'rejected';
        return send(200, agg.rejectCommand(parts[1]!, op, reason));
      }
      throw new HttpError(404, `no ${req.method ?? '?'} ${url.pathname.slice(0, 100)}`);
    })().catch((e: unknown) => {
      if (res.headersSent) return;
      if (e instanceof HttpError || e instanceof RequestBodyError) return send(e.status, { error: e.message });
      if (e instanceof NotAuthorizedError) return send(403, { error: e.message, code: e.code });
      if (e instanceof PolicyRefusedError) return send(409, { error: e.message, code: e.code });
      if (e instanceof InvalidInputError) return send(400, { error: e.message, code: e.code });
      if (e instanceof ErabError) return send(409, { error: e.message, code: e.code });
      o.audit.append({ actor: { kind: 'system', id: agg.id }, action: 'aggregator.console.error', outcome: 'failure', reason: String((e as Error)?.message ?? e).slice(0, 200) });
      return send(500, { error: 'internal error' });
    });
  };
  const { server } = createMutualTlsServer(
    { material: o.material, profile: 'console', allowList: o.allowList, audit: o.audit, listener: `aggregator:${agg.id}:console`, serverOptions: { requestTimeout: 30_000 } },
    handler,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
