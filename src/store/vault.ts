/**
 * Envelope encryption of personal fields at rest, the same on SQLite and PostgreSQL.
 *
 * Each data subject (a site: `site:<id>`) has its own random AES-256 data key, stored only
 * wrapped by a key-encryption key from a KMS (src/security/privacy/keyring.ts) in
 * `privacy_data_key`. A field is stored as `enc1:` + base64(nonce ‖ tag ‖ ciphertext), with the
 * subject and field name as associated data, so a value copied to another row or column does
 * not decrypt. Deleting a subject's data key (`shred`) makes all its fields unreadable for good,
 * in every copy of the database, while records elsewhere (the audit log) keep referring to the
 * subject by id. Values written before encryption was turned on (no `enc1:` prefix) read as they
 * are. Where a field must be searched, `blindIndex` gives a keyed hash (HMAC-SHA-256 with an
 * index key that is itself a wrapped data key) to compare exactly.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { IntegrityError } from '../core/errors.js';
import type { KeyEncryptionService } from '../security/privacy/keyring.js';
import type { Migration } from './migrations.js';
import { columnType } from './schema.js';

export const DATA_KEY_TABLE = 'privacy_data_key';

export type VaultTables = {
  privacy_data_key: { subject: string; kek_id: string; wrapped: string; created_at: number | string; rewrapped_at: number | string | null };
};

export const vaultMigrations: readonly Migration[] = [{
  name: '0001_privacy_data_key',
  async up(db) {
    await db.schema
      .createTable(DATA_KEY_TABLE)
      .addColumn('subject', 'text', (c) => c.primaryKey())
      .addColumn('kek_id', 'text', (c) => c.notNull())
      .addColumn('wrapped', 'text', (c) => c.notNull())
      .addColumn('created_at', columnType.epochMillis, (c) => c.notNull())
      .addColumn('rewrapped_at', columnType.epochMillis)
      .execute();
    await db.schema.createIndex('privacy_data_key_kek').on(DATA_KEY_TABLE).column('kek_id').execute();
  },
}];

const PREFIX = 'enc1:';
const INDEX_SUBJECT = '~blind-index';
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
  /** Unwrapped data keys kept in memory (most recently used). Default 10 000. */
  cacheSize?: number;
  now?: () => number;
}

/** Seals and opens personal fields with per-subject data keys under a KMS's key-encryption key. */
export class PersonalDataVault {
  readonly #kms: KeyEncryptionService;
  readonly #cache = new Map<string, Buffer>();
  readonly #cacheSize: number;
  readonly #now: () => number;

  constructor(kms: KeyEncryptionService, options: VaultOptions = {}) {
    this.#kms = kms;
    this.#cacheSize = options.cacheSize ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  #remember(subject: string, key: Buffer): void {
    if (this.#cache.size >= this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(subject, key);
  }

  /** Data keys of `subjects`; missing ones are created when `create`, else left out (shredded). */
  async #keys(db: AnyDb, subjects: readonly string[], create: boolean): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    const missing: string[] = [];
    for (const s of new Set(subjects)) {
      const k = this.#cache.get(s);
      if (k) out.set(s, k);
      else missing.push(s);
    }
    for (let i = 0; i < missing.length; i += BATCH) {
      const chunk = missing.slice(i, i + BATCH);
      const rows = await db.selectFrom(DATA_KEY_TABLE).select(['subject', 'kek_id', 'wrapped']).where('subject', 'in', chunk).execute() as { subject: string; kek_id: string; wrapped: string }[];
      for (const r of rows) {
        const key = await this.#kms.unwrap(r.kek_id, Buffer.from(r.wrapped, 'base64'));
        out.set(r.subject, key);
        this.#remember(r.subject, key);
      }
      if (!create) continue;
      const fresh = chunk.filter((s) => !out.has(s));
      if (fresh.length === 0) continue;
      const now = this.#now();
      const values = [];
      for (const s of fresh) {
        const key = randomBytes(32);
        const w = await this.#kms.wrap(key);
        values.push({ subject: s, kek_id: w.keyId, wrapped: w.wrapped.toString('base64'), created_at: now, rewrapped_at: null });
        out.set(s, key);
        this.#remember(s, key);
      }
      await db.insertInto(DATA_KEY_TABLE).values(values).execute();
    }
    return out;
  }

  /** Seals the fields of many subjects (creating their data keys), in the caller's transaction when `db` is one. */
  async sealMany(db: AnyDb, items: readonly SubjectFields[]): Promise<Record<string, string | null>[]> {
    const keys = await this.#keys(db, items.map((i) => i.subject), true);
    return items.map(({ subject, fields }) => {
      const key = keys.get(subject)!;
      const out: Record<string, string | null> = {};
      for (const [field, v] of Object.entries(fields)) {
        if (v === null) { out[field] = null; continue; }
        const nonce = randomBytes(12);
        const c = createCipheriv('aes-256-gcm', key, nonce);
        c.setAAD(aad(subject, field));
        const body = Buffer.concat([c.update(v, 'utf8'), c.final()]);
        out[field] = PREFIX + Buffer.concat([nonce, c.getAuthTag(), body]).toString('base64');
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
    const key = (await this.#keys(db, [INDEX_SUBJECT], true)).get(INDEX_SUBJECT)!;
    return createHmac('sha256', key).update(`${field}\0${value.trim().normalize('NFC').toLowerCase()}`).digest('hex').slice(0, 32);
  }

  /** Crypto-shreds a subject: its data key is deleted, so every copy of its fields is unreadable. */
  async shred(db: AnyDb, subject: string): Promise<boolean> {
    this.#cache.delete(subject);
    const r = await db.deleteFrom(DATA_KEY_TABLE).where('subject', '=', subject).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /**
   * Re-wraps every data key not under the current KEK, a page at a time, each page in its own
   * short statement: the role keeps reading and writing meanwhile (old keys still unwrap with
   * the previous KEK until their row is re-wrapped). Resolves to the number re-wrapped.
   */
  async rotate(db: AnyDb, onProgress?: (done: number) => void): Promise<number> {
    let done = 0;
    for (;;) {
      const rows = await db.selectFrom(DATA_KEY_TABLE).select(['subject', 'kek_id', 'wrapped'])
        .where('kek_id', '!=', this.#kms.currentKeyId).orderBy('subject').limit(BATCH).execute() as { subject: string; kek_id: string; wrapped: string }[];
      if (rows.length === 0) return done;
      for (const r of rows) {
        const key = await this.#kms.unwrap(r.kek_id, Buffer.from(r.wrapped, 'base64'));
        const w = await this.#kms.wrap(key);
        // Only if nobody re-wrapped it meanwhile (a second rotation running).
        await db.updateTable(DATA_KEY_TABLE).set({ kek_id: w.keyId, wrapped: w.wrapped.toString('base64'), rewrapped_at: this.#now() })
          .where('subject', '=', r.subject).where('kek_id', '=', r.kek_id).execute();
      }
      done += rows.length;
      onProgress?.(done);
    }
  }

  /** Data keys per KEK id: what a rotation has left to do. */
  static async keysByKek(db: AnyDb): Promise<Record<string, number>> {
    const rows = await db.selectFrom(DATA_KEY_TABLE).select(['kek_id', (eb) => eb.fn.countAll().as('n')]).groupBy('kek_id').execute() as { kek_id: string; n: number | string }[];
    return Object.fromEntries(rows.map((r) => [r.kek_id, Number(r.n)]));
  }
}
