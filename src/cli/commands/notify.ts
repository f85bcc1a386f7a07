/**
 * `erab notify contacts add|list|remove`, `erab notify send`, `erab notify retry` and
 * `erab notify deliveries [--pending]`: the contact registry, the one action that tells every
 * recipient at once, and the delivery record (ERAB guideline §3.2). Channels come from a
 * notification configuration file (src/secops/notify/config.ts, `--config`). The store is
 * `--db <url>`, by default $ERAB_AGGREGATOR_DB or ./aggregator.db (the participant that notifies
 * is usually the aggregator), opened with notification's migrations only.
 */
import { Option, type Command } from 'commander';
import { readFile, stat } from 'node:fs/promises';
import { loadConfig } from '../../core/config.js';
import { InvalidInputError, becauseOf, describeError, explain } from '../../core/errors.js';
import { createNotifier, notifyConfigSchema } from '../../secops/notify/config.js';
import { GatewayNoticeBoard } from '../../secops/notify/gateway-board.js';
import type { Notifier } from '../../secops/notify/notifier.js';
import type { AuditSink } from '../../core/audit-port.js';
import type { Kysely } from 'kysely';
import { openStore, type Store } from '../../store/store.js';
import { ContactRegistry, channelNames, newWebhookSecret } from '../../secops/notify/contacts.js';
import { listDeliveries } from '../../secops/notify/notifier.js';
import { notifyMigrations, type NotifyTables } from '../../secops/notify/tables.js';
import { LANGUAGES, RECIPIENT_ROLES, type Contact, type Language, type RecipientRole } from '../../secops/notify/types.js';
import { vaultFromEnvironment } from '../../store/vault.js';
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

/** A notifier over the store with the channels of `--config`, the audit log of `--audit-dir`. */
async function withNotifier<T>(o: { db?: string; config: string; auditDir?: string }, fn: (n: Notifier, store: Store, audit: AuditSink | undefined) => Promise<T>): Promise<T> {
  const config = loadConfig(notifyConfigSchema, { file: o.config, envPrefix: 'ERAB_NOTIFY_' });
  const auditDir = o.auditDir ?? (process.env.ERAB_AGGREGATOR_AUDIT_DIR || undefined);
  const audit = auditDir !== undefined ? openAudit(auditDir) : undefined;
  try {
    return await withStore(o.db, async (store) => {
      const deps = audit ? { audit } : {};
      const notifier = createNotifier(store, config, { ...deps, board: new GatewayNoticeBoard(store, deps) });
      try {
        return await fn(notifier, store, audit);
      } finally {
        await notifier.close();
      }
    });
  } finally {
    audit?.close();
  }
}

const MAX_DATA_BYTES = 1024 * 1024;

async function readNoticeData(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new InvalidInputError(explain('file.notRegular'));
    if (st.size > MAX_DATA_BYTES) throw new InvalidInputError(explain('file.tooLarge', { max: MAX_DATA_BYTES }));
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidInputError(explain('cli.notify.dataUnreadable', { file, ...becauseOf(err) }));
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(explain('cli.notify.dataNotJson', { file, why: describeError(err) }));
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new InvalidInputError(explain('cli.notify.dataNotObject', { file }));
  return data as Record<string, unknown>;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

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
      if (o.webhookSecretEnv !== undefined && o.webhookUrl === undefined) throw new UsageError(explain('cli.notify.secretEnvAlone'));
      let secret: string | undefined;
      let made = false;
      if (o.webhookUrl !== undefined) {
        // A secret on the command line would sit in the shell history and the process list.
        if (o.webhookSecretEnv !== undefined) {
          secret = process.env[o.webhookSecretEnv];
          if (!secret) throw new UsageError(explain('cli.notify.secretEnvUnset', { name: o.webhookSecretEnv }));
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
      if (!/^\d{1,15}$/.test(id)) throw new UsageError(explain('cli.notify.badContactId', { id }));
      const actor = operator(o.operator);
      const auditDir = o.auditDir ?? (process.env.ERAB_AGGREGATOR_AUDIT_DIR || undefined);
      const audit = auditDir !== undefined ? openAudit(auditDir) : undefined;
      try {
        await withStore(o.db, async (store) => {
          const removed = await new ContactRegistry(store, audit ? { audit } : {}).remove(Number(id), actor);
          if (!removed) throw new UsageError(explain('cli.notify.noContact', { id }));
          process.stdout.write(`contact ${id} removed\n`);
        });
      } finally {
        audit?.close();
      }
    });

  notify
    .command('send')
    .description('Notify every selected recipient at once, on each of their channels (one notice timestamp for all)')
    .requiredOption('--config <file>', 'notification configuration (SMTP, webhook TLS, retry schedule)')
    .option('--template <id>', 'notice template', 'vulnerability')
    .requiredOption('--data <file>', "JSON object with the template's data (e.g. advisoryId, title, affectedProducts, cvss, countermeasure, deadline)")
    .option('--subject <key>', 'what the notice is about (e.g. the advisory id), recorded with it')
    .option('--participant <id>', 'recipients of this participant')
    .option('--site <id>', 'recipients of this site (repeatable)', collect)
    .addOption(new Option('--role <role>', 'recipients with this role').choices([...RECIPIENT_ROLES]))
    .option('--all', 'every registered recipient')
    .option('--db <url>', DB_HELP)
    .option('--audit-dir <dir>', 'audit log of the notice and its deliveries (default $ERAB_AGGREGATOR_AUDIT_DIR; none if unset)')
    .option('--operator <id>', 'operator the notice is attributed to (default: the OS account)')
    .action(async (o: {
      config: string; template: string; data: string; subject?: string; participant?: string; site?: string[]; role?: RecipientRole;
      all?: boolean; db?: string; auditDir?: string; operator?: string;
    }) => {
      const filtered = o.participant !== undefined || o.site !== undefined || o.role !== undefined;
      if (filtered === (o.all === true)) throw new UsageError(explain('cli.notify.chooseRecipients'));
      const actor = operator(o.operator);
      const data = await readNoticeData(o.data);
      await withNotifier(o, async (notifier, store) => {
        const registry = new ContactRegistry(store);
        const base = { ...(o.participant !== undefined ? { participantId: o.participant } : {}), ...(o.role !== undefined ? { role: o.role } : {}) };
        const recipients = o.site ? (await Promise.all(o.site.map((siteId) => registry.list({ ...base, siteId })))).flat() : await registry.list(base);
        if (recipients.length === 0) throw new UsageError(explain('cli.notify.noRecipients'));
        const { notice, deliveries } = await notifier.notifyAll({ template: o.template, data, ...(o.subject !== undefined ? { subject: o.subject } : {}) }, recipients, actor);
        const delivered = deliveries.filter((d) => d.status === 'delivered').length;
        process.stdout.write(`notice ${notice.id} issued at ${new Date(notice.issuedAt).toISOString()} to ${recipients.length} recipients: ${delivered} of ${deliveries.length} deliveries done\n`);
        for (const d of deliveries) {
          if (d.status !== 'delivered') process.stdout.write(`pending: contact ${d.contactId} ${d.channel} ${d.address}: ${d.lastError ?? ''}\n`);
        }
        if (delivered < deliveries.length) process.stdout.write('pending deliveries are retried by `erab notify retry` (or a running notifier)\n');
      });
    });

  notify
    .command('retry')
    .description('Send the pending deliveries whose retry time has come, once')
    .requiredOption('--config <file>', 'notification configuration (SMTP, webhook TLS, retry schedule)')
    .option('--db <url>', DB_HELP)
    .option('--audit-dir <dir>', 'audit log of the deliveries (default $ERAB_AGGREGATOR_AUDIT_DIR; none if unset)')
    .action(async (o: { config: string; db?: string; auditDir?: string }) => {
      await withNotifier(o, async (notifier) => {
        const delivered = await notifier.retryDue();
        const pending = (await notifier.deliveries({ pending: true })).length;
        process.stdout.write(`${delivered} delivered, ${pending} still pending\n`);
      });
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
        const list = await listDeliveries(store.db as Kysely<NotifyTables>, { ...(o.pending ? { pending: true } : {}), ...(o.notice !== undefined ? { noticeId: o.notice } : {}) }, vaultFromEnvironment());
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
