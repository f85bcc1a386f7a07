/**
 * Portfolio tables and their migrations (store format: compose `portfolioMigrations` into the
 * aggregator's store). Column conventions of src/store/schema.ts: epoch ms in bigint, booleans
 * 0/1, JSON as text, so the same queries run on SQLite and PostgreSQL.
 */
import { sql } from 'kysely';
import { composeMigrations, type Migration } from '../../../store/migrations.js';
import { vaultMigrations, type VaultTables } from '../../../store/vault.js';
import { columnType } from '../../../store/schema.js';

/** The data subject a site's personal fields are sealed under (its data key; shredding it erases them). */
export const siteSubject = (siteId: string): string => `site:${siteId}`;
/** The blind-index field name of a site's name. */
export const SITE_NAME_INDEX = 'portfolio_site.name';

export type PortfolioTables = VaultTables & {
  portfolio_pool: {
    id: string; name: string; tso_area: string; product: string; program: string;
    created_at: number; updated_at: number;
  };
  portfolio_site: {
    /** Personal: sealed (`enc1:…`) when the role has a key-encryption key (src/store/vault.ts). */
    id: string; name: string; tso_area: string; address: string | null; pool_id: string | null;
    /** Keyed hash of the name for exact search while the name is sealed; null when not sealed. */
    name_index: string | null;
    created_at: number; updated_at: number;
  };
  portfolio_gateway: {
    id: string; site_id: string; ven_id: string | null; inventory_digest: string | null; inventory_at: number | null;
    created_at: number; updated_at: number;
  };
  /** A gateway's own software as it last reported it (src/roles/common/software-report.ts). */
  portfolio_gateway_software: {
    gateway_id: string; digest: string; erab_name: string; erab_version: string; node_version: string;
    /** JSON `[{ name, version }]`, sorted. */
    packages: string;
    reported_at: number;
  };
  portfolio_resource: {
    id: string; site_id: string; gateway_id: string | null; pool_id: string | null; class: string; name: string;
    capacity_w: number | null; capacity_wh: number | null;
    max_charge_w: number | null; max_discharge_w: number | null; max_reduce_w: number | null; max_increase_w: number | null;
    constraints: string;
    echonet_class: string | null; maker_code: string | null; product_code: string | null; serial_number: string | null;
    firmware_version: string | null; standard_version: string | null; installation_location: string | null;
    admission: string | null;
    /** The gateway's revision of the device's admission record (an admission decision names it); null before a gateway reported one. */
    admission_revision: number | null;
    present: number; source: string;
    /** Lower-cased id, name, site, maker, product, serial: one portable case-insensitive LIKE. */
    search_text: string;
    created_at: number; updated_at: number;
  };
};

export const portfolioMigrations: readonly Migration[] = composeMigrations(vaultMigrations, [
  {
    name: '0001_aggregator_portfolio',
    async up(db) {
      await db.schema
        .createTable('portfolio_pool')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('tso_area', 'text', (c) => c.notNull())
        .addColumn('product', 'text', (c) => c.notNull())
        .addColumn('program', 'text', (c) => c.notNull())
        .addColumn('created_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('updated_at', columnType.epochMillis, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('portfolio_site')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('tso_area', 'text', (c) => c.notNull())
        .addColumn('address', 'text')
        .addColumn('pool_id', 'text', (c) => c.references('portfolio_pool.id').onDelete('restrict'))
        .addColumn('created_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('updated_at', columnType.epochMillis, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('portfolio_gateway')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('site_id', 'text', (c) => c.notNull().references('portfolio_site.id').onDelete('restrict'))
        .addColumn('ven_id', 'text', (c) => c.unique())
        .addColumn('inventory_digest', 'text')
        .addColumn('inventory_at', columnType.epochMillis)
        .addColumn('created_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('updated_at', columnType.epochMillis, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('portfolio_resource')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('site_id', 'text', (c) => c.notNull().references('portfolio_site.id').onDelete('restrict'))
        .addColumn('gateway_id', 'text', (c) => c.references('portfolio_gateway.id').onDelete('restrict'))
        .addColumn('pool_id', 'text', (c) => c.references('portfolio_pool.id').onDelete('restrict'))
        .addColumn('class', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('capacity_w', columnType.real, (c) => c.check(sql`capacity_w >= 0`))
        .addColumn('capacity_wh', columnType.real, (c) => c.check(sql`capacity_wh >= 0`))
        .addColumn('max_charge_w', columnType.real, (c) => c.check(sql`max_charge_w >= 0`))
        .addColumn('max_discharge_w', columnType.real, (c) => c.check(sql`max_discharge_w >= 0`))
        .addColumn('max_reduce_w', columnType.real, (c) => c.check(sql`max_reduce_w >= 0`))
        .addColumn('max_increase_w', columnType.real, (c) => c.check(sql`max_increase_w >= 0`))
        .addColumn('constraints', columnType.json, (c) => c.notNull())
        .addColumn('echonet_class', 'text')
        .addColumn('maker_code', 'text')
        .addColumn('product_code', 'text')
        .addColumn('serial_number', 'text')
        .addColumn('firmware_version', 'text')
        .addColumn('standard_version', 'text')
        .addColumn('installation_location', 'text')
        .addColumn('admission', 'text')
        .addColumn('present', columnType.bool, (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('search_text', 'text', (c) => c.notNull())
        .addColumn('created_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('updated_at', columnType.epochMillis, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('portfolio_resource_pool').on('portfolio_resource').columns(['pool_id', 'id']).execute();
      await db.schema.createIndex('portfolio_resource_site').on('portfolio_resource').columns(['site_id', 'id']).execute();
      await db.schema.createIndex('portfolio_resource_class').on('portfolio_resource').columns(['class', 'id']).execute();
      await db.schema.createIndex('portfolio_resource_gateway').on('portfolio_resource').columns(['gateway_id', 'id']).execute();
      await db.schema.createIndex('portfolio_site_pool').on('portfolio_site').column('pool_id').execute();
      await db.schema.createIndex('portfolio_gateway_site').on('portfolio_gateway').column('site_id').execute();
    },
    async down(db) {
      for (const t of ['portfolio_resource', 'portfolio_gateway', 'portfolio_site', 'portfolio_pool']) await db.schema.dropTable(t).execute();
    },
  },
  {
    // Sealed site names cannot be searched with LIKE: an exact keyed-hash match replaces it.
    name: '0002_aggregator_portfolio_site_name_index',
    async up(db) {
      await db.schema.alterTable('portfolio_site').addColumn('name_index', 'text').execute();
      await db.schema.createIndex('portfolio_site_name_index').on('portfolio_site').column('name_index').execute();
    },
  },
  {
    // What each gateway runs (erab, Node.js, npm packages), so advisories for them find the sites.
    name: '0003_aggregator_portfolio_gateway_software',
    async up(db) {
      await db.schema
        .createTable('portfolio_gateway_software')
        .addColumn('gateway_id', 'text', (c) => c.primaryKey().references('portfolio_gateway.id').onDelete('cascade'))
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('erab_name', 'text', (c) => c.notNull())
        .addColumn('erab_version', 'text', (c) => c.notNull())
        .addColumn('node_version', 'text', (c) => c.notNull())
        .addColumn('packages', columnType.json, (c) => c.notNull())
        .addColumn('reported_at', columnType.epochMillis, (c) => c.notNull())
        .execute();
    },
  },
  {
    // The revision of each device's admission record at its gateway, from every inventory upload:
    // an operator's admission decision sent from the aggregator names the revision it admits.
    name: '0004_aggregator_portfolio_admission_revision',
    async up(db) {
      await db.schema.alterTable('portfolio_resource').addColumn('admission_revision', 'integer').execute();
      // An unchanged inventory is skipped by its digest: forget the digests so each gateway's next
      // upload is applied and fills the new column.
      await db.updateTable('portfolio_gateway').set({ inventory_digest: null }).execute();
    },
  },
]);
