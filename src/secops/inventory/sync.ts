/**
 * The inventory of sites (participants), gateways and devices, read from what the aggregator's
 * portfolio already stores (gateways upload their device inventories there: src/roles/gateway/
 * inventory.ts → src/roles/aggregator/portfolio/inventory.ts). secops keeps its own copy so it
 * can keep a change history and derived identifiers, and the matcher never reads role tables.
 */
import type { Kysely } from 'kysely';
import type { AuditSink } from '../../core/audit-port.js';
import { InvalidInputError } from '../../core/errors.js';
import { type Clock, systemClock } from '../../core/clock.js';
import type { PortfolioTables } from '../../roles/aggregator/portfolio/tables.js';
import type { SecopsTables } from '../tables.js';
import { applyAssets, type ApplyResult, type AssetInput } from './apply.js';
import { deviceCpe } from './identifiers.js';

export const siteAssetId = (id: string) => `participant:site:${id}`;
export const gatewayAssetId = (id: string) => `gateway:${id}`;
export const deviceAssetId = (id: string) => `device:${id}`;

/**
 * Brings secops_asset up to date with the portfolio (sites, gateways, devices).
 * @example await syncInventoryFromPortfolio(store.db.withTables<PortfolioTables>())
 */
export async function syncInventoryFromPortfolio(db: Kysely<SecopsTables & PortfolioTables>, opts: { clock?: Clock; audit?: AuditSink } = {}): Promise<ApplyResult> {
  const now = (opts.clock ?? systemClock).now();
  const makers = new Map((await db.selectFrom('secops_maker').selectAll().execute()).map((m) => [m.maker_code.toUpperCase(), m]));
  const assets: AssetInput[] = [];
  for (const s of await db.selectFrom('portfolio_site').selectAll().execute()) {
    assets.push({
      // Named by its id: the household's name is personal data (src/store/classification.ts) and
      // the asset inventory needs none (it may be sealed at rest, see src/store/vault.ts).
      id: siteAssetId(s.id), kind: 'participant', management_no: s.id, name: s.id, site_id: s.id, gateway_id: null, class: 'site',
      maker_code: null, product_code: null, serial_number: null, version: null, cpe: null, purl: null, parent_id: null, present: 1,
      first_seen: Number(s.created_at), last_seen: Number(s.updated_at),
    });
  }
  const gwSeen = new Map<string, number>();
  for (const g of await db.selectFrom('portfolio_gateway').selectAll().execute()) {
    const last = Number(g.inventory_at ?? g.updated_at);
    gwSeen.set(g.id, last);
    assets.push({
      id: gatewayAssetId(g.id), kind: 'gateway', management_no: g.id, name: g.ven_id ?? g.id, site_id: g.site_id, gateway_id: g.id, class: 'gateway',
      maker_code: null, product_code: null, serial_number: null, version: null, cpe: null, purl: null, parent_id: siteAssetId(g.site_id), present: 1,
      first_seen: Number(g.created_at), last_seen: last,
    });
  }
  for (const r of await db.selectFrom('portfolio_resource').selectAll().execute()) {
    const maker = r.maker_code ? makers.get(r.maker_code.toUpperCase()) : undefined;
    assets.push({
      id: deviceAssetId(r.id), kind: 'device', management_no: r.id, name: r.name, site_id: r.site_id, gateway_id: r.gateway_id, class: r.class,
      maker_code: r.maker_code, product_code: r.product_code, serial_number: r.serial_number, version: r.firmware_version,
      cpe: deviceCpe(maker?.cpe_vendor, r.product_code, r.firmware_version) ?? null, purl: null,
      parent_id: r.gateway_id ? gatewayAssetId(r.gateway_id) : siteAssetId(r.site_id), present: Number(r.present) ? 1 : 0,
      first_seen: Number(r.created_at), last_seen: r.gateway_id ? Math.max(gwSeen.get(r.gateway_id) ?? 0, Number(r.updated_at)) : Number(r.updated_at),
    });
  }
  const result = await applyAssets(db, { prefixes: ['participant:site:', 'gateway:', 'device:'] }, assets, now);
  opts.audit?.append({ actor: { kind: 'system', id: 'secops.inventory' }, action: 'vuln.inventory.sync', outcome: 'success', details: { ...result } });
  return result;
}

/** Records the CPE vendor (and name) of an ECHONET Lite maker code, so its devices get CPE names. */
export async function setMaker(db: Kysely<SecopsTables>, makerCode: string, cpeVendor: string, name: string, now: number): Promise<void> {
  const code = makerCode.toUpperCase();
  if (!/^[0-9A-F]{6}$/.test(code)) throw new InvalidInputError(`maker code "${makerCode}" is not 6 hex digits (ECHONET Lite 0x8A)`);
  await db.insertInto('secops_maker').values({ maker_code: code, cpe_vendor: cpeVendor.toLowerCase(), name, updated_at: now })
    .onConflict((oc) => oc.column('maker_code').doUpdateSet({ cpe_vendor: cpeVendor.toLowerCase(), name, updated_at: now })).execute();
}
