/** Reading the inventory: assets by kind and presence, and one asset's change history. */
import type { Kysely } from 'kysely';
import type { SecopsTables } from '../tables.js';
import type { AssetRow } from './apply.js';

export type AssetKind = 'participant' | 'gateway' | 'device' | 'software';

/** Assets by id; `afterId` and `limit` page through them (the operator API). */
export async function listAssets(db: Kysely<SecopsTables>, q: { kind?: AssetKind; presentOnly?: boolean; siteId?: string; afterId?: string; limit?: number } = {}): Promise<AssetRow[]> {
  let sel = db.selectFrom('secops_asset').selectAll();
  if (q.kind) sel = sel.where('kind', '=', q.kind);
  if (q.presentOnly) sel = sel.where('present', '=', 1);
  if (q.siteId !== undefined) sel = sel.where('site_id', '=', q.siteId);
  if (q.afterId !== undefined) sel = sel.where('id', '>', q.afterId);
  if (q.limit !== undefined) sel = sel.limit(q.limit);
  return (await sel.orderBy('id').execute()).map((r) => ({ ...r, present: Number(r.present), first_seen: Number(r.first_seen), last_seen: Number(r.last_seen), updated_at: Number(r.updated_at) }));
}

export interface AssetChange {
  at: number;
  field: string;
  oldValue: string | null;
  newValue: string | null;
}

/** The change history of one asset, oldest first. */
export async function assetHistory(db: Kysely<SecopsTables>, assetId: string): Promise<AssetChange[]> {
  const rows = await db.selectFrom('secops_asset_change').selectAll().where('asset_id', '=', assetId).orderBy('id').execute();
  return rows.map((r) => ({ at: Number(r.at), field: r.field, oldValue: r.old_value, newValue: r.new_value }));
}
