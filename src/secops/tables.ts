/**
 * The secops tables and their migrations (compose `secopsMigrations` into a role's store, next to
 * the portfolio's: the inventory is read from there). Column conventions of src/store/schema.ts.
 */
import type { Migration } from '../store/migrations.js';
import { addIdColumn, columnType } from '../store/schema.js';

export type SecopsTables = {
  secops_asset: {
    /** `device:<resource id>`, `gateway:<id>`, `participant:<id>`, `software:<role>:<purl>` */
    id: string; kind: string; management_no: string; name: string;
    site_id: string | null; gateway_id: string | null; class: string | null;
    maker_code: string | null; product_code: string | null; serial_number: string | null;
    version: string | null; cpe: string | null; purl: string | null; parent_id: string | null;
    present: number; first_seen: number; last_seen: number; updated_at: number;
  };
  secops_asset_change: {
    id: number; asset_id: string; at: number; field: string; old_value: string | null; new_value: string | null;
  };
  /** ECHONET Lite maker code → CPE vendor and the maker's name (operator-maintained). */
  secops_maker: { maker_code: string; cpe_vendor: string; name: string; updated_at: number };
  secops_feed_import: {
    id: number; format: string; source: string; sha256: string; bytes: number; imported_at: number;
    records: number; added: number; updated: number; unchanged: number; actor: string;
  };
  secops_advisory: {
    /** `<source>:<advisory id>`: one row per advisory and source, whatever the number of imports. */
    uid: string; source: string; advisory_id: string; title: string; description: string; aliases: string;
    published: string | null; modified: string | null; cvss_version: string | null; cvss_vector: string | null; cvss_score: number | null;
    known_exploited: number; fix: string | null; refs: string; affected: string; status: string | null; level: string;
    content_sha256: string; import_id: number; created_at: number; updated_at: number;
  };
  secops_finding: {
    id: string; asset_id: string; advisory_uid: string; status: string; confidence: string; match_kind: string;
    matched_version: string | null; affected_range: string; cvss_vector: string | null; cvss_score: number | null;
    known_exploited: number; fix: string | null; site_id: string | null; gateway_id: string | null;
    accepted_reason: string | null; accepted_by: string | null; accepted_until: number | null;
    status_reason: string | null; status_by: string | null;
    first_found: number; updated_at: number;
  };
};

export const secopsMigrations: readonly Migration[] = [
  {
    name: '0001_secops_inventory',
    async up(db, ctx) {
      await db.schema.createTable('secops_asset')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('management_no', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('site_id', 'text').addColumn('gateway_id', 'text').addColumn('class', 'text')
        .addColumn('maker_code', 'text').addColumn('product_code', 'text').addColumn('serial_number', 'text')
        .addColumn('version', 'text').addColumn('cpe', 'text').addColumn('purl', 'text').addColumn('parent_id', 'text')
        .addColumn('present', columnType.bool, (c) => c.notNull())
        .addColumn('first_seen', columnType.epochMillis, (c) => c.notNull())
        .addColumn('last_seen', columnType.epochMillis, (c) => c.notNull())
        .addColumn('updated_at', columnType.epochMillis, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('secops_asset_kind').on('secops_asset').columns(['kind', 'id']).execute();
      await db.schema.createTable('secops_asset_change')
        .$call((t) => addIdColumn(t, 'id', ctx.dialect))
        .addColumn('asset_id', 'text', (c) => c.notNull())
        .addColumn('at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('field', 'text', (c) => c.notNull())
        .addColumn('old_value', 'text').addColumn('new_value', 'text')
        .execute();
      await db.schema.createIndex('secops_asset_change_asset').on('secops_asset_change').columns(['asset_id', 'id']).execute();
      await db.schema.createTable('secops_maker')
        .addColumn('maker_code', 'text', (c) => c.primaryKey())
        .addColumn('cpe_vendor', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('updated_at', columnType.epochMillis, (c) => c.notNull())
        .execute();
    },
  },
  {
    name: '0001_secops_feeds',
    async up(db, ctx) {
      await db.schema.createTable('secops_feed_import')
        .$call((t) => addIdColumn(t, 'id', ctx.dialect))
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('bytes', columnType.bigint, (c) => c.notNull())
        .addColumn('imported_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('records', columnType.integer, (c) => c.notNull())
        .addColumn('added', columnType.integer, (c) => c.notNull())
        .addColumn('updated', columnType.integer, (c) => c.notNull())
        .addColumn('unchanged', columnType.integer, (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createTable('secops_advisory')
        .addColumn('uid', 'text', (c) => c.primaryKey())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('advisory_id', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('aliases', columnType.json, (c) => c.notNull())
        .addColumn('published', 'text').addColumn('modified', 'text')
        .addColumn('cvss_version', 'text').addColumn('cvss_vector', 'text').addColumn('cvss_score', columnType.real)
        .addColumn('known_exploited', columnType.bool, (c) => c.notNull())
        .addColumn('fix', 'text')
        .addColumn('refs', columnType.json, (c) => c.notNull())
        .addColumn('affected', columnType.json, (c) => c.notNull())
        .addColumn('status', 'text')
        .addColumn('level', 'text', (c) => c.notNull())
        .addColumn('content_sha256', 'text', (c) => c.notNull())
        .addColumn('import_id', columnType.integer, (c) => c.notNull())
        .addColumn('created_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('updated_at', columnType.epochMillis, (c) => c.notNull())
        .addUniqueConstraint('secops_advisory_id_source', ['advisory_id', 'source'])
        .execute();
    },
  },
  {
    name: '0001_secops_findings',
    async up(db) {
      await db.schema.createTable('secops_finding')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('asset_id', 'text', (c) => c.notNull())
        .addColumn('advisory_uid', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('confidence', 'text', (c) => c.notNull())
        .addColumn('match_kind', 'text', (c) => c.notNull())
        .addColumn('matched_version', 'text')
        .addColumn('affected_range', 'text', (c) => c.notNull())
        .addColumn('cvss_vector', 'text').addColumn('cvss_score', columnType.real)
        .addColumn('known_exploited', columnType.bool, (c) => c.notNull())
        .addColumn('fix', 'text').addColumn('site_id', 'text').addColumn('gateway_id', 'text')
        .addColumn('accepted_reason', 'text').addColumn('accepted_by', 'text').addColumn('accepted_until', columnType.epochMillis)
        .addColumn('status_reason', 'text').addColumn('status_by', 'text')
        .addColumn('first_found', columnType.epochMillis, (c) => c.notNull())
        .addColumn('updated_at', columnType.epochMillis, (c) => c.notNull())
        .addUniqueConstraint('secops_finding_asset_advisory', ['asset_id', 'advisory_uid'])
        .execute();
      await db.schema.createIndex('secops_finding_advisory').on('secops_finding').columns(['advisory_uid', 'id']).execute();
      await db.schema.createIndex('secops_finding_status').on('secops_finding').columns(['status', 'id']).execute();
    },
  },
];
