/**
 * Portfolio export as CSV in exactly the import format (./import.ts), so an operator can
 * export, edit in a spreadsheet and import again; an export imported into an empty store
 * reproduces the pools, sites, gateways and resources (identity data included).
 */
import type { Kysely } from 'kysely';
import { fromJsonText } from '../../../store/schema.js';
import { constraintsSchema } from './model.js';
import type { PortfolioTables } from './tables.js';
import { openSites } from './query.js';
import type { PersonalDataVault } from '../../../store/vault.js';

export const EXPORT_COLUMNS = [
  'resource_id', 'site_id', 'site_name', 'tso_area', 'site_address', 'pool_id', 'pool_name', 'product', 'program',
  'gateway_id', 'ven_id', 'class', 'name', 'capacity_w', 'capacity_wh', 'max_charge_w', 'max_discharge_w',
  'max_reduce_w', 'max_increase_w', 'backup_reserve_percent', 'comfort_min_c', 'comfort_max_c', 'max_reduction_minutes',
  'maker_code', 'product_code', 'serial_number', 'firmware_version', 'standard_version', 'installation_location',
] as const;

/** RFC 4180 quoting, only where needed. */
export function csvCell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Writes every resource (optionally of one pool) as CSV lines through `write`, in id order,
 * reading in chunks so a 100 000-resource portfolio never sits in memory at once.
 * @example await exportPortfolioCsv(db, (line) => process.stdout.write(line));
 */
export async function exportPortfolioCsv(db: Kysely<PortfolioTables>, write: (text: string) => void, filter: { poolId?: string } = {}, vault?: PersonalDataVault): Promise<number> {
  write(`${EXPORT_COLUMNS.join(',')}\r\n`);
  let after: string | undefined;
  let n = 0;
  for (;;) {
    let q = db
      .selectFrom('portfolio_resource as r')
      .innerJoin('portfolio_site as s', 's.id', 'r.site_id')
      .leftJoin('portfolio_pool as p', 'p.id', 'r.pool_id')
      .leftJoin('portfolio_gateway as g', 'g.id', 'r.gateway_id')
      .select([
        'r.id', 'r.site_id', 's.name as site_name', 's.tso_area', 's.address as site_address', 'r.pool_id', 'p.name as pool_name',
        'p.product', 'p.program', 'r.gateway_id', 'g.ven_id', 'r.class', 'r.name', 'r.capacity_w', 'r.capacity_wh',
        'r.max_charge_w', 'r.max_discharge_w', 'r.max_reduce_w', 'r.max_increase_w', 'r.constraints', 'r.maker_code',
        'r.product_code', 'r.serial_number', 'r.firmware_version', 'r.standard_version', 'r.installation_location',
      ])
      .orderBy('r.id')
      .limit(2000);
    if (filter.poolId !== undefined) q = q.where('r.pool_id', '=', filter.poolId);
    if (after !== undefined) q = q.where('r.id', '>', after);
    const rows = await q.execute();
    const lines: string[] = [];
    const personal = await openSites(db, rows.map((r) => ({ id: r.site_id, name: r.site_name, address: r.site_address })), vault);
    for (const [i, r] of rows.entries()) {
      const c = fromJsonText(r.constraints, constraintsSchema, `portfolio_resource ${r.id}.constraints`);
      const cells = [
        r.id, r.site_id, personal[i]!.name, r.tso_area, personal[i]!.address, r.pool_id, r.pool_name, r.product, r.program,
        r.gateway_id, r.ven_id, r.class, r.name, r.capacity_w, r.capacity_wh, r.max_charge_w, r.max_discharge_w,
        r.max_reduce_w, r.max_increase_w, c.backupReservePercent, c.comfortBand?.minC, c.comfortBand?.maxC, c.maxReductionMinutes,
        r.maker_code, r.product_code, r.serial_number, r.firmware_version, r.standard_version, r.installation_location,
      ];
      lines.push(cells.map(csvCell).join(','));
    }
    if (lines.length > 0) write(`${lines.join('\r\n')}\r\n`);
    n += rows.length;
    if (rows.length < 2000) return n;
    after = rows.at(-1)!.id;
  }
}
