/**
 * Writes a set of assets into secops_asset and records every change of a tracked field in
 * secops_asset_change (the inventory's change history, 自家用GL 8-2): new assets, version or
 * serial changes, assets that disappear (present → 0) and reappear.
 */
import type { Kysely, Transaction } from 'kysely';
import type { SecopsTables } from '../tables.js';

export type AssetRow = SecopsTables['secops_asset'];
/** An asset as a source describes it (times are set by `applyAssets`). */
export type AssetInput = Omit<AssetRow, 'updated_at' | 'first_seen' | 'last_seen'> & { first_seen?: number; last_seen?: number };

const TRACKED = ['name', 'site_id', 'gateway_id', 'class', 'maker_code', 'product_code', 'serial_number', 'version', 'cpe', 'purl', 'present'] as const;

export interface ApplyResult {
  added: number;
  changed: number;
  missing: number;
  total: number;
}

/**
 * Makes the assets in scope — ids starting with one of `scope.prefixes`, or equal to one of
 * `scope.ids` — equal to `desired`: inserts the new, updates the changed, marks absent ones not
 * present. Every change goes to the history.
 */
export async function applyAssets(db: Kysely<SecopsTables>, scope: { prefixes: readonly string[]; ids?: readonly string[] }, desired: readonly AssetInput[], now: number): Promise<ApplyResult> {
  return db.transaction().execute(async (trx) => {
    const existing = new Map<string, AssetRow>();
    for (const p of scope.prefixes) {
      // `_` and `%` in a prefix only widen the LIKE (escaping differs between the engines);
      // startsWith keeps the exact scope.
      for (const r of await trx.selectFrom('secops_asset').selectAll().where('id', 'like', `${p}%`).execute()) {
        if (r.id.startsWith(p)) existing.set(r.id, r);
      }
    }
    if (scope.ids && scope.ids.length > 0) for (const r of await trx.selectFrom('secops_asset').selectAll().where('id', 'in', [...scope.ids]).execute()) existing.set(r.id, r);
    const changes: Omit<SecopsTables['secops_asset_change'], 'id'>[] = [];
    const inserts: AssetRow[] = [];
    let changed = 0;
    const seen = new Set<string>();
    for (const d of desired) {
      seen.add(d.id);
      const old = existing.get(d.id);
      const lastSeen = d.last_seen ?? now;
      if (!old) {
        inserts.push({ ...d, first_seen: d.first_seen ?? now, last_seen: lastSeen, updated_at: now });
        changes.push({ asset_id: d.id, at: now, field: 'created', old_value: null, new_value: d.version });
        continue;
      }
      const diff: Partial<AssetRow> = {};
      for (const f of TRACKED) {
        if (String(old[f] ?? '') !== String(d[f] ?? '')) {
          (diff as Record<string, unknown>)[f] = d[f];
          changes.push({ asset_id: d.id, at: now, field: f, old_value: old[f] === null ? null : String(old[f]), new_value: d[f] === null ? null : String(d[f]) });
        }
      }
      if (Object.keys(diff).length > 0 || Number(old.last_seen) !== lastSeen || old.management_no !== d.management_no || old.parent_id !== d.parent_id) {
        if (Object.keys(diff).length > 0) changed++;
        await trx.updateTable('secops_asset').set({ ...diff, management_no: d.management_no, parent_id: d.parent_id, last_seen: Math.max(lastSeen, Number(old.last_seen)), updated_at: now }).where('id', '=', d.id).execute();
      }
    }
    let missing = 0;
    for (const old of existing.values()) {
      if (seen.has(old.id) || Number(old.present) === 0) continue;
      missing++;
      changes.push({ asset_id: old.id, at: now, field: 'present', old_value: '1', new_value: '0' });
      await trx.updateTable('secops_asset').set({ present: 0, updated_at: now }).where('id', '=', old.id).execute();
    }
    for (let i = 0; i < inserts.length; i += 200) await trx.insertInto('secops_asset').values(inserts.slice(i, i + 200)).execute();
    for (let i = 0; i < changes.length; i += 500) await (trx as Transaction<SecopsTables>).insertInto('secops_asset_change').values(changes.slice(i, i + 500) as never).execute();
    return { added: inserts.length, changed, missing, total: desired.length };
  });
}
