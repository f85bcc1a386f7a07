/**
 * Envelope encryption of personal fields at rest, the same on SQLite and PostgreSQL.
 *
 * Key hierarchy (as the AWS Encryption SDK's hierarchical keyring): a random AES-256 data key,
 * stored only wrapped by a key-encryption key from a KMS (src/security/privacy/keyring.ts) in
 * `privacy_data_key`, and under it one key per data subject (a site: `site:<id>`), derived as
 * HMAC-SHA-256(data key, subject ‖ random salt) with the salt in `privacy_subject_key`. A field
 * is stored as `enc1:` + base64(nonce ‖ tag ‖ AES-256-GCM ciphertext), with subject and field
 * name as associated data, so a value copied to another row or column does not decrypt.
 *
 * - Crypto-shredding: deleting a subject's salt (`shred`) makes its fields unreadable for good in
 *   this database and every later copy, while records elsewhere (the audit log) keep referring to
 *   the subject by id.
 * - Rotation without downtime (`rotate`): only the data keys are re-wrapped under the new KEK, a
 *   handful of rows, while readers keep unwrapping with whichever KEK a row names.
 * - Search: `blindIndex` gives a keyed hash (HMAC-SHA-256 under a second wrapped data key) for
 *   exact matches of a sealed field.
 * - Values written before encryption was turned on (no `enc1:` prefix) read as they are.
 *
 * Why derived subject keys rather than one wrapped key per subject: wrapping is an AES-GCM
 * operation per subject (a cipher set-up costs tens of microseconds in Node.js) and a rotation
 * would re-wrap 100 000 rows; a derivation is one HMAC, and shredding is as final.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { IntegrityError, InvalidInputError } from '../core/errors.js';
import { FileKeyring, type KeyEncryptionService } from '../security/privacy/keyring.js';
import type { Migration } from './migrations.js';
import { columnType } from './schema.js';

export const DATA_KEY_TABLE = 'privacy_data_key';
export const SUBJECT_KEY_TABLE = 'privacy_subject_key';

export type VaultTables = {
  privacy_data_key: { name: string; kek_id: string; wrapped: string; created_at: number | string; rewrapped_at: number | string | null };
  privacy_subject_key: { subject: string; salt: string; created_at: number | string };
};

export const vaultMigrations: readonly Migration[] = [{
  name: '0001_privacy_data_key',
  async up(db) {
    await db.schema
      .createTable(DATA_KEY_TABLE)
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('kek_id', 'text', (c) => c.notNull())
      .addColumn('wrapped', 'text', (c) => c.notNull())
      .addColumn('created_at', columnType.epochMillis, (c) => c.notNull())
      .addColumn('rewrapped_at', columnType.epochMillis)
      .execute();
    await db.schema
      .createTable(SUBJECT_KEY_TABLE)
      .addColumn('subject', 'text', (c) => c.primaryKey())
      .addColumn('salt', 'text', (c) => c.notNull())
      .addColumn('created_at', columnType.epochMillis, (c) => c.notNull())
      .execute();
  },
}];

const PREFIX = 'enc1:';
/** The wrapped data keys: the root of the subject keys, and the blind-index key. */
const FIELDS_KEY = 'fields';
const INDEX_KEY = 'blind-index';
const BATCH = 500;

/** True when a stored value is sealed by a vault. */
export const isSealed = (v: string | null | undefined): boolean => typeof v === 'string' && v.startsWith(PREFIX);

function aad(subject: string, field: string): Buffer {
  return Buffer.from(`erab-field/1\0${subject}\0${field}`, 'utf8');
}

/** Fields of one subject to seal or open; null stays null. */
export interface SubjectFields {
  subject: string;
  fields: Record<string, string | null>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export interface VaultOptions {
  /** Subject keys kept in memory (most recently used). Default 10 000. */
  cacheSize?: number;
  now?: () => number;
}

/** Seals and opens personal fields with per-subject keys under a KMS's key-encryption key. */
export class PersonalDataVault {
  readonly #kms: KeyEncryptionService;
  readonly #dataKeys = new Map<string, Buffer>();
  readonly #cache = new Map<string, Buffer>();
  readonly #cacheSize: number;
  readonly #now: () => number;

  constructor(kms: KeyEncryptionService, options: VaultOptions = {}) {
    this.#kms = kms;
    this.#cacheSize = options.cacheSize ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  #remember(subject: string, key: Buffer): void {
    // Emptied when full rather than trimmed one by one: deleting a Map's oldest entry again and
    // again makes finding the next oldest walk every deleted slot (quadratic on a 100 000-site import).
    if (this.#cache.size >= this.#cacheSize) this.#cache.clear();
    this.#cache.set(subject, key);
  }

  /** A wrapped data key by name, unwrapped (created on first use; a concurrent creator wins). */
  async #dataKey(db: AnyDb, name: string): Promise<Buffer> {
    const known = this.#dataKeys.get(name);
    if (known) return known;
    const read = () => db.selectFrom(DATA_KEY_TABLE).select(['kek_id', 'wrapped']).where('name', '=', name).executeTakeFirst() as Promise<{ kek_id: string; wrapped: string } | undefined>;
    let row = await read();
    if (!row) {
      const w = await this.#kms.wrap(randomBytes(32));
      await db.insertInto(DATA_KEY_TABLE).values({ name, kek_id: w.keyId, wrapped: w.wrapped.toString('base64'), created_at: this.#now(), rewrapped_at: null })
        .onConflict((oc) => oc.column('name').doNothing()).execute();
      row = (await read())!;
    }
    const key = await this.#kms.unwrap(row.kek_id, Buffer.from(row.wrapped, 'base64'));
    this.#dataKeys.set(name, key);
    return key;
  }

  /** Subject keys of `subjects`; missing ones are created when `create`, else left out (shredded). */
  async #keys(db: AnyDb, subjects: readonly string[], create: boolean): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    const missing: string[] = [];
    for (const s of new Set(subjects)) {
      const k = this.#cache.get(s);
      if (k) out.set(s, k);
      else missing.push(s);
    }
    if (missing.length === 0) return out;
    const root = await this.#dataKey(db, FIELDS_KEY);
    const derive = (subject: string, salt: string): void => {
      const key = createHmac('sha256', root).update(`erab-subject-key/1\0${subject}\0${salt}`).digest();
      out.set(subject, key);
      this.#remember(subject, key);
    };
    for (let i = 0; i < missing.length; i += BATCH) {
      const chunk = missing.slice(i, i + BATCH);
      const rows = await db.selectFrom(SUBJECT_KEY_TABLE).select(['subject', 'salt']).where('subject', 'in', chunk).execute() as { subject: string; salt: string }[];
      for (const r of rows) derive(r.subject, r.salt);
      if (!create) continue;
      const fresh = chunk.filter((s) => !out.has(s));
      if (fresh.length === 0) continue;
      const salts = randomBytes(16 * fresh.length);
      const now = this.#now();
      const values = fresh.map((subject, j) => ({ subject, salt: salts.subarray(16 * j, 16 * j + 16).toString('base64'), created_at: now }));
      // Another process may have created some of them meanwhile: its salt wins, read back.
      const ins = await db.insertInto(SUBJECT_KEY_TABLE).values(values).onConflict((oc) => oc.column('subject').doNothing()).executeTakeFirst();
      const stored = Number(ins.numInsertedOrUpdatedRows ?? 0) === values.length
        ? values
        : await db.selectFrom(SUBJECT_KEY_TABLE).select(['subject', 'salt']).where('subject', 'in', fresh).execute() as { subject: string; salt: string }[];
      for (const r of stored) derive(r.subject, r.salt);
    }
    return out;
  }

  /** Seals the fields of many subjects (creating their data keys), in the caller's transaction when `db` is one. */
  async sealMany(db: AnyDb, items: readonly SubjectFields[]): Promise<Record<string, string | null>[]> {
    const keys = await this.#keys(db, items.map((i) => i.subject), true);
    // One draw of randomness for the batch's nonces: a syscall per field costs more than the cipher.
    const nonces = randomBytes(12 * items.reduce((n, i) => n + Object.keys(i.fields).length, 0));
    let at = 0;
    return items.map(({ subject, fields }) => {
      const key = keys.get(subject)!;
      const out: Record<string, string | null> = {};
      for (const field in fields) {
        const v = fields[field]!;
        const nonce = nonces.subarray(at, at += 12);
        if (v === null) { out[field] = null; continue; }
        const c = createCipheriv('aes-256-gcm', key, nonce);
        c.setAAD(aad(subject, field));
        // GCM is a stream mode: update() gives all the ciphertext, final() nothing more.
        const body = c.update(v, 'utf8');
        c.final();
        const sealed = Buffer.allocUnsafe(28 + body.length);
        nonce.copy(sealed, 0);
        c.getAuthTag().copy(sealed, 12);
        body.copy(sealed, 28);
        out[field] = PREFIX + sealed.toString('base64');
      }
      return out;
    });
  }

  /**
   * Opens the fields of many subjects. A field whose subject's key was shredded reads as null;
   * a modified or misplaced ciphertext throws IntegrityError naming subject and field.
   */
  async openMany(db: AnyDb, items: readonly SubjectFields[]): Promise<Record<string, string | null>[]> {
    const sealed = items.filter((i) => Object.values(i.fields).some(isSealed)).map((i) => i.subject);
    const keys = sealed.length > 0 ? await this.#keys(db, sealed, false) : new Map<string, Buffer>();
    return items.map(({ subject, fields }) => {
      const out: Record<string, string | null> = {};
      for (const [field, v] of Object.entries(fields)) {
        if (!isSealed(v)) { out[field] = v; continue; }
        const key = keys.get(subject);
        if (!key) { out[field] = null; continue; }
        const raw = Buffer.from(v!.slice(PREFIX.length), 'base64');
        const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
        d.setAAD(aad(subject, field));
        d.setAuthTag(raw.subarray(12, 28));
        try {
          out[field] = Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
        } catch {
          throw new IntegrityError(`${field} of ${subject} does not decrypt: modified, or copied from another record`);
        }
      }
      return out;
    });
  }

  /** A keyed hash of a field value for exact-match search (case and surrounding space ignored). */
  async blindIndex(db: AnyDb, field: string, value: string): Promise<string> {
    return (await this.blindIndexMany(db, field, [value]))[0]!;
  }

  /** {@link blindIndex} of many values (one key lookup). */
  async blindIndexMany(db: AnyDb, field: string, values: readonly string[]): Promise<string[]> {
    const key = await this.#dataKey(db, INDEX_KEY);
    return values.map((v) => createHmac('sha256', key).update(`${field}\0${v.trim().normalize('NFC').toLowerCase()}`).digest('hex').slice(0, 32));
  }

  /** Crypto-shreds a subject: its salt is deleted, so every copy of its fields is unreadable. */
  async shred(db: AnyDb, subject: string): Promise<boolean> {
    this.#cache.delete(subject);
    return PersonalDataVault.shred(db, subject);
  }

  /** {@link shred} without a key-encryption key at hand (erasing needs no key). */
  static async shred(db: AnyDb, subject: string): Promise<boolean> {
    const r = await db.deleteFrom(SUBJECT_KEY_TABLE).where('subject', '=', subject).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /**
   * Re-wraps every data key not under the current KEK. Each row is one short update, so the role
   * keeps reading and writing meanwhile (a row not yet re-wrapped still unwraps with the previous
   * KEK, which the keyring holds until the rotation is done). Resolves to the number re-wrapped.
   */
  async rotate(db: AnyDb): Promise<number> {
    const rows = await db.selectFrom(DATA_KEY_TABLE).select(['name', 'kek_id', 'wrapped']).where('kek_id', '!=', this.#kms.currentKeyId).execute() as { name: string; kek_id: string; wrapped: string }[];
    for (const r of rows) {
      const w = await this.#kms.wrap(await this.#kms.unwrap(r.kek_id, Buffer.from(r.wrapped, 'base64')));
      // Only if nobody re-wrapped it meanwhile (a second rotation running).
      await db.updateTable(DATA_KEY_TABLE).set({ kek_id: w.keyId, wrapped: w.wrapped.toString('base64'), rewrapped_at: this.#now() })
        .where('name', '=', r.name).where('kek_id', '=', r.kek_id).execute();
    }
    return rows.length;
  }

  /** Data keys per KEK id: what a rotation has left to do. */
  static async keysByKek(db: AnyDb): Promise<Record<string, number>> {
    const rows = await db.selectFrom(DATA_KEY_TABLE).select(['kek_id', (eb) => eb.fn.countAll().as('n')]).groupBy('kek_id').execute() as { kek_id: string; n: number | string }[];
    return Object.fromEntries(rows.map((r) => [r.kek_id, Number(r.n)]));
  }
}

/**
 * A vault for the key-encryption key named by the environment (`ERAB_PRIVACY_KEK_FILE`, and
 * during a rotation `ERAB_PRIVACY_PREVIOUS_KEK_FILES`, comma-separated), or undefined when none is
 * configured (personal fields are then stored in clear). A vault caches the unwrapped keys of
 * ONE database, so each store gets its own.
 */
export function vaultFromEnvironment(env: NodeJS.ProcessEnv = process.env): PersonalDataVault | undefined {
  const current = env.ERAB_PRIVACY_KEK_FILE || undefined;
  const previous = env.ERAB_PRIVACY_PREVIOUS_KEK_FILES ? env.ERAB_PRIVACY_PREVIOUS_KEK_FILES.split(',').filter(Boolean) : [];
  if (current === undefined) {
    if (previous.length > 0) throw new InvalidInputError('ERAB_PRIVACY_PREVIOUS_KEK_FILES needs ERAB_PRIVACY_KEK_FILE (the current key)');
    return undefined;
  }
  return new PersonalDataVault(FileKeyring.fromFiles(current, previous));
}
