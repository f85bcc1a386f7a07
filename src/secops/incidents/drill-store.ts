/** Drill records kept in the incident desk's store (table erab_drill), beside the JSON file. */
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { fromDbBool, fromJsonText, toDbBool, toJsonText, toNumber } from '../../store/schema.js';
import type { Store } from '../../store/store.js';
import type { DrillRecord } from './drill.js';
import type { IncidentTables } from './tables.js';

/** Stores a drill record; returns its number. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function saveDrill(store: Store<any>, r: DrillRecord): Promise<number> {
  const db = store.db as unknown as Kysely<IncidentTables>;
  const row = await db.insertInto('erab_drill').values({
    scenario: r.scenario, target: r.target.participant, started_at: Date.parse(r.startedAt), finished_at: Date.parse(r.finishedAt),
    passed: toDbBool(r.passed), record: toJsonText(r),
  } as never).returning('id').executeTakeFirstOrThrow();
  return toNumber(row.id, 'erab_drill.id');
}

export interface DrillSummary { id: number; scenario: string; target: string; startedAt: number; passed: boolean }

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function listDrills(store: Store<any>, limit = 100): Promise<DrillSummary[]> {
  const db = store.db as unknown as Kysely<IncidentTables>;
  const rows = await db.selectFrom('erab_drill').select(['id', 'scenario', 'target', 'started_at', 'passed']).orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => ({ id: toNumber(r.id), scenario: r.scenario, target: r.target, startedAt: toNumber(r.started_at), passed: fromDbBool(r.passed) }));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function getDrill(store: Store<any>, id: number): Promise<DrillRecord | undefined> {
  const db = store.db as unknown as Kysely<IncidentTables>;
  const row = await db.selectFrom('erab_drill').select('record').where('id', '=', id as never).executeTakeFirst();
  return row ? fromJsonText(row.record, z.record(z.string(), z.unknown()), 'erab_drill.record') as unknown as DrillRecord : undefined;
}
