/** Store tables of notification: contacts, notices and deliveries (both engines, see store/schema.ts). */
import type { Generated } from 'kysely';
import { composeMigrations, type Migration } from '../../store/migrations.js';
import { addIdColumn, columnType } from '../../store/schema.js';
import { vaultMigrations } from '../../store/vault.js';

// The vault's key tables come along: contacts and delivery addresses are sealed with it.
export const notifyMigrations: readonly Migration[] = composeMigrations(vaultMigrations, [
  {
    name: '0001_notify_contact',
    async up(db, ctx) {
      await db.schema
        .createTable('notify_contact')
        .$call((t) => addIdColumn(t, 'id', ctx.dialect))
        .addColumn('participant_id', 'text', (c) => c.notNull())
        .addColumn('site_id', 'text')
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('language', 'text', (c) => c.notNull())
        .addColumn('email', 'text')
        .addColumn('webhook_url', 'text')
        .addColumn('webhook_secret', 'text')
        .addColumn('gateway_ven_id', 'text')
        .addColumn('created_at', columnType.epochMillis, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('notify_contact_scope').on('notify_contact').columns(['participant_id', 'site_id']).execute();
    },
    async down(db) {
      await db.schema.dropTable('notify_contact').execute();
    },
  },
  {
    name: '0002_notify_delivery',
    async up(db, ctx) {
      await db.schema
        .createTable('notify_notice')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('template', 'text', (c) => c.notNull())
        .addColumn('subject', 'text')
        .addColumn('data', columnType.json, (c) => c.notNull())
        .addColumn('issued_at', columnType.epochMillis, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('notify_delivery')
        .$call((t) => addIdColumn(t, 'id', ctx.dialect))
        .addColumn('notice_id', 'text', (c) => c.notNull().references('notify_notice.id'))
        // No foreign key to the contact: a delivery stays on record after its contact is removed.
        .addColumn('contact_id', 'bigint', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('address', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_attempt_at', columnType.epochMillis)
        .addColumn('next_attempt_at', columnType.epochMillis)
        .addColumn('lease_until', columnType.epochMillis)
        .addColumn('delivered_at', columnType.epochMillis)
        .addColumn('last_error', 'text')
        .execute();
      await db.schema.createIndex('notify_delivery_due').on('notify_delivery').columns(['status', 'next_attempt_at']).execute();
      await db.schema.createIndex('notify_delivery_notice').on('notify_delivery').columns(['notice_id', 'contact_id', 'channel']).unique().execute();
    },
    async down(db) {
      await db.schema.dropTable('notify_delivery').execute();
      await db.schema.dropTable('notify_notice').execute();
    },
  },
  {
    name: '0003_notify_gateway_notice',
    async up(db, ctx) {
      // Notices waiting for a gateway to fetch them over R4 (./gateway-board.ts).
      await db.schema
        .createTable('notify_gateway_notice')
        .$call((t) => addIdColumn(t, 'id', ctx.dialect))
        .addColumn('delivery_id', 'bigint', (c) => c.notNull().unique())
        .addColumn('ven_id', 'text', (c) => c.notNull())
        .addColumn('notice_id', 'text', (c) => c.notNull())
        .addColumn('template', 'text', (c) => c.notNull())
        .addColumn('issued_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('language', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('text', 'text', (c) => c.notNull())
        .addColumn('content', columnType.json, (c) => c.notNull())
        .addColumn('queued_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('acked_at', columnType.epochMillis)
        .execute();
      await db.schema.createIndex('notify_gateway_notice_ven').on('notify_gateway_notice').columns(['ven_id', 'acked_at', 'id']).execute();
    },
    async down(db) {
      await db.schema.dropTable('notify_gateway_notice').execute();
    },
  },
]);

export interface NotifyTables {
  notify_contact: {
    id: Generated<number>;
    participant_id: string;
    site_id: string | null;
    name: string;
    role: string;
    language: string;
    email: string | null;
    webhook_url: string | null;
    webhook_secret: string | null;
    gateway_ven_id: string | null;
    created_at: number;
  };
  notify_notice: {
    id: string;
    template: string;
    subject: string | null;
    data: string;
    issued_at: number;
  };
  notify_delivery: {
    id: Generated<number>;
    notice_id: string;
    contact_id: number;
    channel: string;
    address: string;
    status: string;
    attempts: Generated<number>;
    last_attempt_at: number | null;
    next_attempt_at: number | null;
    lease_until: number | null;
    delivered_at: number | null;
    last_error: string | null;
  };
  notify_gateway_notice: {
    id: Generated<number>;
    delivery_id: number;
    ven_id: string;
    notice_id: string;
    template: string;
    issued_at: number;
    language: string;
    subject: string;
    text: string;
    content: string;
    queued_at: number;
    acked_at: number | null;
  };
}
