/**
 * The incident desk's tables (migration list `incidentMigrations`, SQLite and PostgreSQL):
 * `erab_incident` (one row per incident, its status) and `erab_incident_event` (its timeline:
 * alerts, actions, notes and status changes, each with actor and time), plus `erab_drill` (drill
 * records with their timeline, ERAB §4.1.3 訓練).
 */
import type { Migration } from '../../store/migrations.js';
import { addIdColumn, columnType } from '../../store/schema.js';

export const incidentMigrations: readonly Migration[] = [
  {
    name: '0001_incidents',
    async up(db, ctx) {
      await db.schema.createTable('erab_incident')
        .$call((t) => addIdColumn(t, 'id', ctx.dialect))
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('drill', columnType.bool, (c) => c.notNull().defaultTo(0))
        .addColumn('opened_by', 'text', (c) => c.notNull())
        .addColumn('opened_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('updated_at', columnType.epochMillis, (c) => c.notNull())
        .execute();
      await db.schema.createTable('erab_incident_event')
        .$call((t) => addIdColumn(t, 'id', ctx.dialect))
        .addColumn('incident_id', columnType.bigint, (c) => c.notNull())
        .addColumn('at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('details', columnType.json, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('erab_incident_event_incident').on('erab_incident_event').columns(['incident_id', 'id']).execute();
      await db.schema.createTable('erab_drill')
        .$call((t) => addIdColumn(t, 'id', ctx.dialect))
        .addColumn('scenario', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('started_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('finished_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('passed', columnType.bool, (c) => c.notNull())
        .addColumn('record', columnType.json, (c) => c.notNull())
        .execute();
    },
  },
];

export interface IncidentRow {
  id: unknown; title: string; severity: string; status: string; drill: unknown; opened_by: string; opened_at: unknown; updated_at: unknown;
}
export interface IncidentEventRow {
  id: unknown; incident_id: unknown; at: unknown; actor: string; kind: string; summary: string; details: string;
}
export interface DrillRow {
  id: unknown; scenario: string; target: string; started_at: unknown; finished_at: unknown; passed: unknown; record: string;
}

export type IncidentTables = {
  erab_incident: IncidentRow;
  erab_incident_event: IncidentEventRow;
  erab_drill: DrillRow;
};
