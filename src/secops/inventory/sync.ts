/**
 * The inventory of sites (participants), gateways and devices, read from what the aggregator's
 * portfolio already stores (gateways upload their device inventories there: src/roles/gateway/
 * inventory.ts → src/roles/aggregator/portfolio/inventory.ts) and their own software (erab,
 * Node.js, npm packages: src/roles/common/software-report.ts → portfolio/software.ts). secops keeps its own copy so it
 * can keep a change history and derived identifiers, and the matcher never reads role tables.
 */
import type { Kysely } from 'kysely';
import type { AuditSink } from '../../core/audit-port.js';
import { InvalidInputError } from '../../core/errors.js';
import { type Clock, systemClock } from '../../core/clock.js';
import type { PortfolioTables } from '../../roles/aggregator/portfolio/tables.js';
import type { SecopsTables } from '../tables.js';
import { applyAssets, type ApplyResult, type AssetInput } from './apply.js';
import { deviceCpe, nodeCpe, npmPurl } from './identifiers.js';
import { softwareAssetId } from './software.js';

export const siteAssetId = (id: string) => `participant:site:${id}`;
export const gatewayAssetId = (id: string) => `gateway:${id}`;
export const deviceAssetId = (id: string) => `device:${id}`;
/** The role name a gateway's software is recorded under (`software:gateway:<id>:<purl>`). */
export const gatewaySoftwareRole = (id: string) => `gateway:${id}`;

type GatewaySoftwareRow = PortfolioTables['portfolio_gateway_software'];

/** A gateway's software as assets under it, in its site (so a finding reaches the site's contacts). */
function gatewaySoftwareAssets(g: { id: string; site_id: string }, sw: GatewaySoftwareRow, seen: number): AssetInput[] {
  const role = gatewaySoftwareRole(g.id);
  const base = { site_id: g.site_id, gateway_id: g.id, maker_code: null, product_code: null, serial_number: null, present: 1, parent_id: gatewayAssetId(g.id), last_seen: seen };
  const out: AssetInput[] = [
    { ...base, id: softwareAssetId(role, 'node'), kind: 'software', management_no: 'node', name: 'Node.js', class: 'runtime', version: sw.node_version, cpe: nodeCpe(sw.node_version), purl: `pkg:generic/node@${sw.node_version}` },
  ];
  let packages: { name: string; version: string }[] = [];
  try {
    packages = JSON.parse(sw.packages) as typeof packages;
  } catch {
    // validated on the way in; a damaged row only loses the package list
  }
  for (const p of packages) {
    const purl = npmPurl(p.name, p.version);
    out.push({ ...base, id: softwareAssetId(role, purl), kind: 'software', management_no: purl, name: p.name, class: 'library', version: p.version, cpe: null, purl });
  }
  return out;
}

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
  const software = new Map((await db.selectFrom('portfolio_gateway_software').selectAll().execute()).map((r) => [r.gateway_id, r]));
  for (const g of await db.selectFrom('portfolio_gateway').selectAll().execute()) {
    const sw = software.get(g.id);
    const last = Math.max(Number(g.inventory_at ?? g.updated_at), sw ? Number(sw.reported_at) : 0);
    gwSeen.set(g.id, last);
    // The gateway's software version is the erab it reported running (purl pkg:npm/erab@...), so
    // an advisory for erab's gateway matches by version range.
    assets.push({
      id: gatewayAssetId(g.id), kind: 'gateway', management_no: g.id, name: g.ven_id ?? g.id, site_id: g.site_id, gateway_id: g.id, class: 'gateway',
      maker_code: null, product_code: null, serial_number: null, version: sw?.erab_version ?? null, cpe: null, purl: sw ? npmPurl(sw.erab_name, sw.erab_version) : null,
      parent_id: siteAssetId(g.site_id), present: 1, first_seen: Number(g.created_at), last_seen: last,
    });
    if (sw) assets.push(...gatewaySoftwareAssets(g, sw, last));
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
  const result = await applyAssets(db, { prefixes: ['participant:site:', 'gateway:', 'device:', `software:${gatewaySoftwareRole('')}`] }, assets, now);
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
