/**
 * The contact registry: who is told, in which language, on which channels — per participant
 * and per site (ERAB guideline §3.2: a participant notifies its users; owners, operators and
 * downstream aggregators of a site are its users). Every change is audited.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { AuditActor, AuditSink } from '../../core/audit-port.js';
import { nullAudit } from '../../core/audit-port.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { InvalidInputError } from '../../core/errors.js';
import type { EpochMillis } from '../../core/units.js';
import type { Store } from '../../store/store.js';
import { toEpochMillis, toNumber } from '../../store/schema.js';
import { isSealed, PersonalDataVault, vaultFromEnvironment } from '../../store/vault.js';
import type { NotifyTables } from './tables.js';
import { LANGUAGES, RECIPIENT_ROLES, type Contact, type ContactInput, type Language, type RecipientRole } from './types.js';

const ID_RULE = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
// Deliberately simple: one @, no spaces or angle brackets (header injection), a dotted domain.
const EMAIL_RULE = /^[^\s<>@",;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$/;
const SECRET_RULE = /^whsec_([A-Za-z0-9+/]+={0,2})$/;
const MAX_NAME = 200;

/** A new Standard Webhooks secret (`whsec_` + base64 of 32 random bytes). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** Key bytes of a `whsec_` secret; refuses anything else, naming the rule (never the secret). */
export function webhookSecretKey(secret: string, what = 'webhook secret'): Buffer {
  const m = SECRET_RULE.exec(secret);
  const key = m ? Buffer.from(m[1]!, 'base64') : undefined;
  if (!key || key.length < 24 || key.length > 64) {
    throw new InvalidInputError(`${what} must be "whsec_" followed by base64 of 24..64 random bytes (Standard Webhooks)`);
  }
  return key;
}

/** Validates a contact to register; the error names the field and the rule. */
export function validateContact(c: ContactInput): ContactInput {
  const id = (v: string | undefined, field: string): void => {
    if (v !== undefined && !ID_RULE.test(v)) throw new InvalidInputError(`contact ${field} ${JSON.stringify(v)} is invalid: 1..128 of letters, digits and . _ : @ -`);
  };
  id(c.participantId, 'participantId');
  id(c.siteId, 'siteId');
  if (typeof c.name !== 'string' || c.name.trim() === '' || c.name.length > MAX_NAME || /[\r\n]/.test(c.name)) {
    throw new InvalidInputError(`contact name must be 1..${MAX_NAME} characters on one line`);
  }
  if (!RECIPIENT_ROLES.includes(c.role)) throw new InvalidInputError(`contact role ${JSON.stringify(c.role)} must be one of ${RECIPIENT_ROLES.join(', ')}`);
  if (!LANGUAGES.includes(c.language)) throw new InvalidInputError(`contact language ${JSON.stringify(c.language)} must be one of ${LANGUAGES.join(', ')}`);
  const ch = c.channels;
  if (!ch.email && !ch.webhook && !ch.gatewayVenId) throw new InvalidInputError('a contact needs at least one channel: email, webhook or gateway');
  if (ch.email !== undefined && (ch.email.length > 254 || !EMAIL_RULE.test(ch.email))) {
    throw new InvalidInputError(`contact email ${JSON.stringify(ch.email)} is not an address of the form local@domain`);
  }
  if (ch.webhook) {
    let url: URL;
    try {
      url = new URL(ch.webhook.url);
    } catch {
      throw new InvalidInputError(`contact webhook URL ${JSON.stringify(ch.webhook.url)} does not parse`);
    }
    if (url.protocol !== 'https:') throw new InvalidInputError(`contact webhook URL ${JSON.stringify(ch.webhook.url)} must use https (the server certificate is verified)`);
    if (url.username || url.password) throw new InvalidInputError('contact webhook URL must not carry credentials; the shared secret signs the body');
    webhookSecretKey(ch.webhook.secret, 'contact webhook secret');
  }
  id(ch.gatewayVenId, 'gateway venID');
  return c;
}

/** Which contacts to list: all, a participant's, a site's. */
export interface ContactFilter {
  participantId?: string;
  siteId?: string;
  role?: RecipientRole;
}

/**
 * Contacts in a store (either engine).
 * @example
 * const contacts = new ContactRegistry(store, { audit });
 * await contacts.add({ participantId: 'AGG1', siteId: 'S1', name: 'Site owner', role: 'owner', language: 'ja',
 *   channels: { email: 'owner@example.jp' } }, actor);
 * const recipients = await contacts.list({ siteId: 'S1' });
 */
export class ContactRegistry {
  private readonly db: Kysely<NotifyTables>;
  private readonly audit: AuditSink;
  private readonly clock: Clock;
  private readonly vault: PersonalDataVault | undefined;

  /**
   * `vault` seals the personal fields (name, e-mail, webhook URL and secret) under the contact's
   * own subject key; by default the vault of ERAB_PRIVACY_KEK_FILE, `null` for none (clear).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(store: Store<any>, options: ContactRegistryOptions = {}) {
    this.db = store.db as Kysely<NotifyTables>;
    this.audit = options.audit ?? nullAudit;
    this.clock = options.clock ?? systemClock;
    this.vault = options.vault === undefined ? vaultFromEnvironment() : options.vault ?? undefined;
  }

  /** Registers a contact; returns it with its id. */
  async add(input: ContactInput, actor: AuditActor): Promise<Contact> {
    const c = validateContact(input);
    const createdAt = this.clock.now();
    const personal = { name: c.name, email: c.channels.email ?? null, webhook_url: c.channels.webhook?.url ?? null, webhook_secret: c.channels.webhook?.secret ?? null };
    const vault = this.vault;
    const row = await this.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('notify_contact')
        .values({
          participant_id: c.participantId,
          site_id: c.siteId ?? null,
          // Sealed under the contact's id, which the insert gives: written in clear only without a vault.
          ...(vault ? { name: '', email: null, webhook_url: null, webhook_secret: null } : personal),
          role: c.role,
          language: c.language,
          gateway_ven_id: c.channels.gatewayVenId ?? null,
          created_at: createdAt,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      if (vault) {
        const [sealed] = await vault.sealMany(trx, [{ subject: contactSubject(inserted.id), fields: personal }]);
        await trx.updateTable('notify_contact').set({ ...sealed!, name: sealed!.name! }).where('id', '=', inserted.id).execute();
      }
      return inserted;
    });
    const contact = toContact({
      id: row.id, participant_id: c.participantId, site_id: c.siteId ?? null, name: c.name, role: c.role, language: c.language,
      email: c.channels.email ?? null, webhook_url: c.channels.webhook?.url ?? null, webhook_secret: c.channels.webhook?.secret ?? null,
      gateway_ven_id: c.channels.gatewayVenId ?? null, created_at: createdAt,
    });
    this.audit.append({
      actor, action: 'notify.contact.add', target: `contact:${contact.id}`, outcome: 'success',
      details: { participantId: c.participantId, siteId: c.siteId ?? null, role: c.role, channels: channelNames(contact) },
    });
    return contact;
  }

  /** Contacts matching `filter`, by id. */
  async list(filter: ContactFilter = {}): Promise<Contact[]> {
    let q = this.db.selectFrom('notify_contact').selectAll();
    if (filter.participantId !== undefined) q = q.where('participant_id', '=', filter.participantId);
    if (filter.siteId !== undefined) q = q.where('site_id', '=', filter.siteId);
    if (filter.role !== undefined) q = q.where('role', '=', filter.role);
    return this.open(await q.orderBy('id').execute());
  }

  /** One contact, or undefined. */
  async get(id: number): Promise<Contact | undefined> {
    const r = await this.db.selectFrom('notify_contact').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? (await this.open([r]))[0] : undefined;
  }

  /** Contacts from rows, their sealed fields opened (refused without the key-encryption key). */
  private async open(rows: Selectable<NotifyTables['notify_contact']>[]): Promise<Contact[]> {
    const sealed = rows.filter((r) => isSealed(r.name) || isSealed(r.email) || isSealed(r.webhook_url) || isSealed(r.webhook_secret));
    if (sealed.length === 0) return rows.map(toContact);
    if (!this.vault) throw new InvalidInputError('the contacts hold encrypted personal data: give the key-encryption key (ERAB_PRIVACY_KEK_FILE)');
    const opened = await this.vault.openMany(this.db, rows.map((r) => ({ subject: contactSubject(r.id), fields: { name: r.name, email: r.email, webhook_url: r.webhook_url, webhook_secret: r.webhook_secret } })));
    return rows.map((r, i) => toContact({ ...r, ...opened[i]!, name: opened[i]!.name ?? '(erased)' }));
  }

  /** Removes a contact; false when there was none. Its past deliveries stay on record. */
  async remove(id: number, actor: AuditActor): Promise<boolean> {
    const removed = await this.db.transaction().execute(async (trx) => {
      const r = await trx.deleteFrom('notify_contact').where('id', '=', id).executeTakeFirst();
      // Crypto-shredding: the addresses its deliveries were sealed with become unreadable too.
      await (this.vault ?? PersonalDataVault).shred(trx, contactSubject(id));
      return Number(r.numDeletedRows) > 0;
    });
    this.audit.append({ actor, action: 'notify.contact.remove', target: `contact:${id}`, outcome: removed ? 'success' : 'failure', ...(removed ? {} : { reason: 'no such contact' }) });
    return removed;
  }
}

export interface ContactRegistryOptions {
  audit?: AuditSink;
  clock?: Clock;
  /** Seals the contacts' personal fields; default the vault of ERAB_PRIVACY_KEK_FILE, `null` for none. */
  vault?: PersonalDataVault | null;
}

/** The data subject a contact's sealed fields (and its deliveries' addresses) belong to. */
export function contactSubject(id: number | string | bigint): string {
  return `contact:${String(id)}`;
}

/** The channel kinds a contact can be reached on. */
export function channelNames(c: Pick<Contact, 'channels'>): string[] {
  return [c.channels.email ? 'email' : '', c.channels.webhook ? 'webhook' : '', c.channels.gatewayVenId ? 'gateway' : ''].filter(Boolean);
}

function toContact(r: Selectable<NotifyTables['notify_contact']>): Contact {
  const what = `notify_contact ${r.id}`;
  // Absent channels are absent keys (not `undefined`), so a contact read back equals the one added.
  return {
    id: toNumber(r.id, what),
    participantId: r.participant_id,
    ...(r.site_id !== null ? { siteId: r.site_id } : {}),
    name: r.name,
    role: r.role as RecipientRole,
    language: r.language as Language,
    channels: {
      ...(r.email !== null ? { email: r.email } : {}),
      ...(r.webhook_url !== null && r.webhook_secret !== null ? { webhook: { url: r.webhook_url, secret: r.webhook_secret } } : {}),
      ...(r.gateway_ven_id !== null ? { gatewayVenId: r.gateway_ven_id } : {}),
    },
    createdAt: toEpochMillis(r.created_at, what) as EpochMillis,
  };
}
