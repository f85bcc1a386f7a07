/**
 * `erab notify contacts add|list|remove` and `erab notify deliveries [--pending]`: the contact
 * registry and the delivery record of notices to users (ERAB guideline §3.2). The store is
 * `--db <url>`, by default $ERAB_AGGREGATOR_DB or ./aggregator.db (the participant that notifies
 * is usually the aggregator), opened with notification's migrations only.
 */
import { Option, type Command } from 'commander';
import type { Kysely } from 'kysely';
import { openStore, type Store } from '../../store/store.js';
import { ContactRegistry, channelNames, newWebhookSecret } from '../../secops/notify/contacts.js';
import { listDeliveries } from '../../secops/notify/notifier.js';
import { notifyMigrations, type NotifyTables } from '../../secops/notify/tables.js';
import { LANGUAGES, RECIPIENT_ROLES, type Contact, type Language, type RecipientRole } from '../../secops/notify/types.js';
import { UsageError } from '../usage.js';
import { openAudit, operator } from './aggregator-portfolio.js';

const DEFAULT_DB = (): string => process.env.ERAB_AGGREGATOR_DB ?? 'aggregator.db';
const DB_HELP = 'store: SQLite file or postgres:// URL (default $ERAB_AGGREGATOR_DB or ./aggregator.db)';

async function withStore<T>(db: string | undefined, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ url: db ?? DEFAULT_DB(), migrations: notifyMigrations, ignoreUnknownMigrations: true });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** A contact for display: the webhook secret never leaves the store through the CLI. */
function shown(c: Contact): Record<string, unknown> {
  return {
    id: c.id, participantId: c.participantId, siteId: c.siteId ?? null, name: c.name, role: c.role, language: c.language,
    email: c.channels.email ?? null, webhookUrl: c.channels.webhook?.url ?? null, gatewayVenId: c.channels.gatewayVenId ?? null,
    createdAt: new Date(c.createdAt).toISOString(),
  };
}

function columns(head: string[], rows: string[][]): string {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]!].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(width[i]! - [...c].length))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

export function register(program: Command): void {
  const notify = program.command('notify').description('Notify users of vulnerabilities and alerts: contacts and deliveries');
  const contacts = notify.command('contacts').description('Recipients per participant and site');

  contacts
    .command('add')
    .description('Register a recipient (at least one of --email, --webhook-url, --gateway)')
    .requiredOption('--participant <id>', 'participant the recipient belongs to')
    .option('--site <id>', 'site the recipient is responsible for')
    .requiredOption('--name <name>', 'person or system name')
    .addOption(new Option('--role <role>', 'relation to the notifying participant').choices([...RECIPIENT_ROLES]).makeOptionMandatory())
    .addOption(new Option('--lang <language>', 'language of the notices').choices([...LANGUAGES]).default('ja'))
    .option('--email <address>', 'e-mail address')
    .option('--webhook-url <url>', 'https URL notices are POSTed to (signed, Standard Webhooks)')
    .option('--webhook-secret-env <name>', 'environment variable holding the whsec_ secret (default: a new secret is made and printed once)')
    .option('--gateway <venId>', "venID of the site's gateway (notice shown by the site's EMS)")
    .option('--db <url>', DB_HELP)
    .option('--audit-dir <dir>', 'record the change in this audit log (default $ERAB_AGGREGATOR_AUDIT_DIR; none if unset)')
    .option('--operator <id>', 'operator the change is attributed to (default: the OS account)')
    .action(async (o: {
      participant: string; site?: string; name: string; role: RecipientRole; lang: Language; email?: string; webhookUrl?: string;
      webhookSecretEnv?: string; gateway?: string; db?: string; auditDir?: string; operator?: string;
    }) => {
      if (o.webhookSecretEnv !== undefined && o.webhookUrl === undefined) throw new UsageError('--webhook-secret-env needs --webhook-url');
      let secret: string | undefined;
      let made = false;
      if (o.webhookUrl !== undefined) {
        // A secret on the command line would sit in the shell history and the process list.
        if (o.webhookSecretEnv !== undefined) {
          secret = process.env[o.webhookSecretEnv];
          if (!secret) throw new UsageError(`--webhook-secret-env ${o.webhookSecretEnv}: the variable is not set`);
        } else {
          secret = newWebhookSecret();
          made = true;
        }
      }
      const actor = operator(o.operator);
      const auditDir = o.auditDir ?? (process.env.ERAB_AGGREGATOR_AUDIT_DIR || undefined);
      const audit = auditDir !== undefined ? openAudit(auditDir) : undefined;
      try {
        await withStore(o.db, async (store) => {
          const c = await new ContactRegistry(store, audit ? { audit } : {}).add(
            {
              participantId: o.participant, siteId: o.site, name: o.name, role: o.role, language: o.lang,
              channels: { email: o.email, webhook: o.webhookUrl !== undefined ? { url: o.webhookUrl, secret: secret! } : undefined, gatewayVenId: o.gateway },
            },
            actor,
          );
          process.stdout.write(`contact ${c.id} added: ${c.name} (${c.role}, ${c.language}) via ${channelNames(c).join(', ')}\n`);
          if (made) process.stdout.write(`webhook secret (give it to the receiver; it is not shown again): ${secret}\n`);
        });
      } finally {
        audit?.close();
      }
    });

  contacts
    .command('list')
    .description('List recipients (webhook secrets are never shown)')
    .option('--participant <id>', 'only this participant')
    .option('--site <id>', 'only this site')
    .addOption(new Option('--role <role>', 'only this role').choices([...RECIPIENT_ROLES]))
    .option('--db <url>', DB_HELP)
    .option('--json', 'print as JSON')
    .action(async (o: { participant?: string; site?: string; role?: RecipientRole; db?: string; json?: boolean }) => {
      await withStore(o.db, async (store) => {
        const list = await new ContactRegistry(store).list({
          ...(o.participant !== undefined ? { participantId: o.participant } : {}),
          ...(o.site !== undefined ? { siteId: o.site } : {}),
          ...(o.role !== undefined ? { role: o.role } : {}),
        });
        if (o.json) {
          process.stdout.write(`${JSON.stringify(list.map(shown), null, 2)}\n`);
          return;
        }
        if (list.length === 0) {
          process.stdout.write('no contacts\n');
          return;
        }
        const rows = list.map((c) => [
          String(c.id), c.participantId, c.siteId ?? '-', c.role, c.language,
          [c.channels.email, c.channels.webhook?.url, c.channels.gatewayVenId && `gateway:${c.channels.gatewayVenId}`].filter(Boolean).join(' '), c.name,
        ]);
        process.stdout.write(`${columns(['ID', 'PARTICIPANT', 'SITE', 'ROLE', 'LANG', 'CHANNELS', 'NAME'], rows)}\n`);
      });
    });

  contacts
    .command('remove')
    .description('Remove a recipient (its past deliveries stay on record)')
    .argument('<id>', 'contact id (from list)')
    .option('--db <url>', DB_HELP)
    .option('--audit-dir <dir>', 'record the change in this audit log (default $ERAB_AGGREGATOR_AUDIT_DIR; none if unset)')
    .option('--operator <id>', 'operator the change is attributed to (default: the OS account)')
    .action(async (id: string, o: { db?: string; auditDir?: string; operator?: string }) => {
      if (!/^\d{1,15}$/.test(id)) throw new UsageError(`contact id "${id}" must be a whole number`);
      const actor = operator(o.operator);
      const auditDir = o.auditDir ?? (process.env.ERAB_AGGREGATOR_AUDIT_DIR || undefined);
      const audit = auditDir !== undefined ? openAudit(auditDir) : undefined;
      try {
        await withStore(o.db, async (store) => {
          const removed = await new ContactRegistry(store, audit ? { audit } : {}).remove(Number(id), actor);
          if (!removed) throw new UsageError(`no contact ${id}`);
          process.stdout.write(`contact ${id} removed\n`);
        });
      } finally {
        audit?.close();
      }
    });

  notify
    .command('deliveries')
    .description('Deliveries of notices: recipient, channel, attempts, result')
    .option('--pending', 'only deliveries not yet delivered (they are being retried)')
    .option('--notice <id>', 'only this notice')
    .option('--db <url>', DB_HELP)
    .option('--json', 'print as JSON')
    .action(async (o: { pending?: boolean; notice?: string; db?: string; json?: boolean }) => {
      await withStore(o.db, async (store) => {
        const list = await listDeliveries(store.db as Kysely<NotifyTables>, { ...(o.pending ? { pending: true } : {}), ...(o.notice !== undefined ? { noticeId: o.notice } : {}) });
        if (o.json) {
          process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
          return;
        }
        if (list.length === 0) {
          process.stdout.write(o.pending ? 'no pending deliveries\n' : 'no deliveries\n');
          return;
        }
        const iso = (t: number | null): string => (t === null ? '-' : new Date(t).toISOString());
        const rows = list.map((d) => [
          String(d.id), d.noticeId, String(d.contactId), d.channel, d.status, String(d.attempts),
          iso(d.status === 'delivered' ? d.deliveredAt : d.nextAttemptAt), d.address, d.lastError ?? '',
        ]);
        process.stdout.write(`${columns(['ID', 'NOTICE', 'CONTACT', 'CHANNEL', 'STATUS', 'ATTEMPTS', 'DELIVERED/NEXT', 'ADDRESS', 'LAST_ERROR'], rows)}\n`);
      });
    });
}
