/**
 * What the running aggregator takes from the portfolio store at start: one ResourceSpec per
 * dispatchable resource (ratings, capacity, owner reserve, pool, the venID of its gateway).
 * Resources the portfolio does not know are still learned from their gateway's METADATA
 * reports (downstream.ts) with ratings from telemetry; portfolio figures win where both exist.
 */
import type { Kysely } from 'kysely';
import { deviceClass, isStorageKind } from '../../../core/domain/device-classes.js';
import type { WattHours } from '../../../core/units.js';
import { composeMigrations } from '../../../store/migrations.js';
import { openStore } from '../../../store/store.js';
import { DEFAULT_COST_PER_KWH, notDispatchableReason } from '../portfolio/allocatable.js';
import { listGateways, listResources } from '../portfolio/query.js';
import { portfolioMigrations, type PortfolioTables } from '../portfolio/tables.js';
import type { Resource } from '../portfolio/types.js';
import type { ResourceSpec } from './fleet.js';

/**
 * The spec of one portfolio resource behind the gateway with venID `venId`, or undefined when it
 * cannot be dispatched (absent, not admitted, a meter, no limits: see portfolio/allocatable.ts).
 * @example specFromPortfolio(resource, 'GW-0001')?.ratedReduceW // 3000
 */
export function specFromPortfolio(r: Resource, venId: string): ResourceSpec | undefined {
  // The state of charge is checked at dispatch time from telemetry, not here.
  if (notDispatchableReason(r, { socWh: 0 as WattHours }) !== undefined) return undefined;
  const storage = isStorageKind(r.class);
  return {
    id: r.id,
    venId,
    resourceClass: deviceClass(r.class).allocationClass,
    ratedReduceW: (storage ? r.maxDischargeW ?? r.maxReduceW : r.maxReduceW) ?? 0,
    ratedIncreaseW: (storage ? r.maxChargeW ?? r.maxIncreaseW : r.maxIncreaseW) ?? 0,
    ...(r.capacityWh !== null ? { capacityWh: r.capacityWh } : {}),
    ...(r.constraints.backupReservePercent !== undefined ? { reservePercent: r.constraints.backupReservePercent } : {}),
    costPerKWh: DEFAULT_COST_PER_KWH[r.class],
    ...(r.poolId !== null ? { pool: r.poolId } : {}),
  };
}

/**
 * Every dispatchable resource of an open portfolio database, as specs.
 * @example const specs = await readPortfolioSpecs(store.db);
 */
export async function readPortfolioSpecs(db: Kysely<PortfolioTables>): Promise<ResourceSpec[]> {
  const venOf = new Map((await listGateways(db)).map((g) => [g.id, g.venId ?? g.id]));
  const out: ResourceSpec[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await listResources(db, { presentOnly: true, limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const r of page.items) {
      if (r.gatewayId === null) continue; // only resources behind a gateway can be instructed
      const s = specFromPortfolio(r, venOf.get(r.gatewayId) ?? r.gatewayId);
      if (s) out.push(s);
    }
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}

/**
 * Reads every dispatchable resource of the portfolio at `url` (SQLite file or postgres:// URL),
 * applying the portfolio's migrations first, then closes the store.
 */
export async function loadPortfolioSpecs(url: string, schema?: string): Promise<ResourceSpec[]> {
  const store = await openStore<PortfolioTables>({ url, migrations: composeMigrations(portfolioMigrations), ignoreUnknownMigrations: true, ...(schema ? { schema } : {}) });
  try {
    return await readPortfolioSpecs(store.db);
  } finally {
    await store.close();
  }
}
