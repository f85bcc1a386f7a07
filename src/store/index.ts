/** The data layer: one Kysely API over SQLite (embedded) and PostgreSQL (scale). */
export { openStore, type OpenStoreOptions, type Store } from './store.js';
export { composeMigrations, runMigrations, appliedMigrations, MIGRATION_TABLE, type Migration, type MigrationContext } from './migrations.js';
export { StoreUnavailableError, MigrationError } from './errors.js';
export { parseStoreUrl, redactUrl, type StoreDialect, type StoreLocation } from './url.js';
export * from './schema.js';
export { Outbox, OutboxFullError, outboxMigrations, OUTBOX_TABLE, type OutboxEntry, type OutboxOptions, type EnqueueResult, type OutboxTables } from './outbox.js';
export { Inbox, inboxMigrations, type Accepted, type InboxTables } from './inbox.js';
export { type StoreWake } from './wake.js';
export { LeaderLease, leaseMigrations, LEASE_TABLE, type LeaseHolder, type LeaderLeaseOptions, type LeaseTables } from './lease.js';
export { COLUMN_CLASSES, DATA_CLASSES, classOf, columnsOfClass, type DataClass } from './classification.js';
