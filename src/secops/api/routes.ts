/**
 * The secops routes of a role's operator endpoint (issues 13, 14: what the console lists and
 * does), attached through the composition hook so the role knows nothing of them:
 *
 *   GET  /api/vuln/inventory   assets by id: ?kind=participant|gateway|device|software &site &limit &cursor
 *   GET  /api/vuln/findings    findings by id: ?status=open,notified,... &advisory &site &limit &cursor
 *   GET  /api/vuln/imports     recorded feed imports, newest first: ?limit &cursor
 *   GET  /api/alerts           detection alerts, newest first: ?status=open|acknowledged &limit &cursor
 *   POST /api/alerts/:id/ack   acknowledge one as the certificate's operator: {note?}
 *
 * Lists answer `{ items, nextCursor }` (nextCursor null on the last page). The vulnerability routes
 * are the aggregator's (its store keeps the inventory); every VTN role has the alert routes.
 *
 * @example
 * startAggregator(cfg, { extraMigrations, attach: [detection.attach, secopsApiAttachment({ vuln: true, alerts: () => detection.running?.alerts })] });
 */
import type { Kysely } from 'kysely';
import { explain, InvalidInputError, PolicyRefusedError } from '../../core/errors.js';
import type { Attach, RoleContext } from '../../roles/common/composition.js';
import { NotFoundError, type OperatorRoute } from '../../roles/common/operator-routes.js';
import { AlertBook, type AlertStatus } from '../detect/alerts.js';
import { listImports } from '../feeds/import.js';
import { listAssets, type AssetKind } from '../inventory/query.js';
import { FINDING_STATUSES } from '../matching/findings.js';
import { listFindings } from '../matching/query.js';
import type { SecopsTables } from '../tables.js';
import { checkParams, decodeCursor, listOf, oneOf, pageLimit, pageOf, textParam } from './query.js';

const ASSET_KINDS: readonly AssetKind[] = ['participant', 'gateway', 'device', 'software'];
const ALERT_STATUSES: readonly AlertStatus[] = ['open', 'acknowledged'];

export interface SecopsApiOptions {
  /** Serve the vulnerability routes (the role's store has the secops tables: the aggregator). */
  vuln: boolean;
  /** The running detection's alert book (its cache of open alerts); else one over the role's store. */
  alerts?: () => AlertBook | undefined;
}

function vulnRoutes(db: Kysely<SecopsTables>): OperatorRoute[] {
  return [
    {
      method: 'GET', path: '/api/vuln/inventory', action: 'secops.api.inventory',
      async handle({ query }) {
        checkParams(query, ['kind', 'site', 'limit', 'cursor']);
        const limit = pageLimit(query);
        const kind = oneOf(query, 'kind', ASSET_KINDS);
        const siteId = textParam(query, 'site');
        const afterId = decodeCursor(query, 'string');
        const rows = await listAssets(db, { ...(kind ? { kind } : {}), ...(siteId !== undefined ? { siteId } : {}), ...(afterId !== undefined ? { afterId } : {}), limit: limit + 1 });
        return pageOf(rows, limit, (r) => r.id, (r) => ({
          id: r.id, kind: r.kind, managementNo: r.management_no, name: r.name, siteId: r.site_id, gatewayId: r.gateway_id, class: r.class,
          makerCode: r.maker_code, productCode: r.product_code, serialNumber: r.serial_number, version: r.version, cpe: r.cpe, purl: r.purl,
          parentId: r.parent_id, present: r.present === 1, firstSeen: r.first_seen, lastSeen: r.last_seen, updatedAt: r.updated_at,
        }));
      },
    },
    {
      method: 'GET', path: '/api/vuln/findings', action: 'secops.api.findings',
      async handle({ query }) {
        checkParams(query, ['status', 'advisory', 'site', 'limit', 'cursor']);
        const limit = pageLimit(query);
        const status = listOf(query, 'status', FINDING_STATUSES);
        const advisory = textParam(query, 'advisory');
        const siteId = textParam(query, 'site');
        const afterId = decodeCursor(query, 'string');
        const rows = await listFindings(db, {
          order: 'id', limit: limit + 1,
          ...(status ? { status } : {}), ...(advisory !== undefined ? { advisory } : {}), ...(siteId !== undefined ? { siteId } : {}), ...(afterId !== undefined ? { afterId } : {}),
        });
        return pageOf(rows, limit, (f) => f.id, (f) => f);
      },
    },
    {
      method: 'GET', path: '/api/vuln/imports', action: 'secops.api.imports',
      async handle({ query }) {
        checkParams(query, ['limit', 'cursor']);
        const limit = pageLimit(query);
        const rows = await listImports(db, limit + 1, decodeCursor(query, 'number'));
        return pageOf(rows, limit, (r) => Number(r.id), (r) => ({
          id: Number(r.id), format: r.format, source: r.source, sha256: r.sha256, bytes: Number(r.bytes), importedAt: Number(r.imported_at),
          records: Number(r.records), added: Number(r.added), updated: Number(r.updated), unchanged: Number(r.unchanged), actor: r.actor,
        }));
      },
    },
  ];
}

function alertRoutes(book: () => AlertBook): OperatorRoute[] {
  return [
    {
      method: 'GET', path: '/api/alerts', action: 'secops.api.alerts',
      async handle({ query }) {
        checkParams(query, ['status', 'limit', 'cursor']);
        const limit = pageLimit(query);
        const status = oneOf(query, 'status', ALERT_STATUSES);
        const beforeId = decodeCursor(query, 'number');
        const rows = await book().list({ limit: limit + 1, ...(status ? { status } : {}), ...(beforeId !== undefined ? { beforeId } : {}) });
        return pageOf(rows, limit, (a) => a.id, (a) => a);
      },
    },
    {
      method: 'POST', path: '/api/alerts/:id/ack', action: 'secops.api.alert.ack', role: 'security officer',
      async handle({ params, body, operator, audit }) {
        if (!/^[1-9]\d{0,15}$/.test(params.id!)) throw new InvalidInputError(`alert id "${params.id!.slice(0, 40)}": must be a positive integer`);
        const id = Number(params.id);
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidInputError('acknowledgement: body must be a JSON object');
        const b = body as Record<string, unknown>;
        for (const k of Object.keys(b)) if (k !== 'note') throw new InvalidInputError(`acknowledgement: unknown field "${k.slice(0, 40)}" (only note)`);
        if (b.note !== undefined && typeof b.note !== 'string') throw new InvalidInputError('acknowledgement: note must be a string');
        const alerts = book();
        const current = await alerts.get(id);
        if (!current) throw new NotFoundError(explain('notFound.alert', { id }));
        if (current.status === 'acknowledged') throw new PolicyRefusedError(explain('conflict.alertAcked', { id, by: current.ackedBy ?? '?' }), { code: 'already_acknowledged' });
        // The operator is the certificate's; AlertBook audits the acknowledgement under that id.
        return alerts.acknowledge(id, operator.id, b.note as string | undefined, audit);
      },
    },
  ];
}

/** The secops routes as an attachment (src/cli/role-secops.ts composes it). */
export function secopsApiAttachment(o: SecopsApiOptions): Attach {
  return (ctx: RoleContext) => {
    let own: AlertBook | undefined;
    const book = (): AlertBook => o.alerts?.() ?? (own ??= new AlertBook(ctx.store));
    return { routes: [...(o.vuln ? vulnRoutes(ctx.store.db.withTables<SecopsTables>()) : []), ...alertRoutes(book)] };
  };
}
