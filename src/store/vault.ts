/**
 * Envelope encryption of personal fields at rest, the same on SQLite and PostgreSQL.
 *
 * Key hierarchy (as the AWS Encryption SDK's hierarchical keyring): a random AES-256 data key,
 * stored only wrapped by a key-encryption key from a KMS (src/security/privacy/keyring.ts) in
 * `privacy_data_key`; under it one key per sealed batch, derived as
 * HMAC-SHA-256(data key, batch id ‖ random salt) with the salt in the batch's row.
 *
 * Stored format 2 (`enc2:`, written now): the fields of a call's subjects (up to 1000, e.g. one
 * import batch of sites) are sealed together as ONE AES-256-GCM record in `privacy_sealed_batch`
 * (JSON of [subject, fields] per slot, the batch id as associated data); each field keeps only
 * a reference `enc2:<batch>.<slot>`. Opening checks that the slot belongs to the subject asked
 * for, so a reference copied to another subject's row does not open.
 * Why: in Node.js every cipher or HMAC object costs 2–7 µs whatever its input; one seal per
 * field and one key per subject cost +40–70 % on a 100 000-site import, one seal per batch a few
 * per cent (docs/privacy.md, Cost).
 *
 * Format 1 (`enc1:`, older rows, still read): each field sealed alone under a per-subject key
 * derived from a salt in `privacy_subject_key`.
 *
 * - Crypto-shredding (`shred`): every batch holding the subject is re-sealed without it under a
 *   fresh salt (so a fresh key) and the old salt is overwritten; a batch left empty is deleted.
 *   Copies taken earlier (backups) hold the old salt, as they held the old subject key before.
 *   A batch of this subject alone is deleted without any key; a shared batch needs the KEK.
 * - Rotation without downtime (`rotate`): only the data keys are re-wrapped under the new KEK, a
 *   handful of rows, while readers keep unwrapping with whichever KEK a row names.
 * - Search: `blindIndex` gives a keyed hash (HMAC-SHA-256 under a second wrapped data key) for
 *   exact matches of a sealed field.
 * - Values written before encryption was turned on (no `enc1:`/`enc2:` prefix) read as they are.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { IntegrityError, InvalidInputError } from '../core/errors.js';
import { FileKeyring, type KeyEncryptionService } from '../security/privacy/keyring.js';
import type { Migration } from './migrations.js';
import { columnType } from './schema.js';

export const DATA_KEY_TABLE = 'privacy_data_key';
export const SUBJECT_KEY_TABLE = 'privacy_subject_key';
export const SEALED_BATCH_TABLE = 'privacy_sealed_batch';

export type VaultTables = {
  privacy_data_key: { name: string; kek_id: string; wrapped: string; created_at: number | string; rewrapped_at: number | string | null };
  privacy_subject_key: { subject: string; salt: string; created_at: number | string };
  privacy_sealed_batch: { id: string; salt: string; subjects: string; sealed: string; created_at: number | string };
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
}, {
  name: '0002_privacy_sealed_batch',
  async up(db) {
    await db.schema
      .createTable(SEALED_BATCH_TABLE)
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('salt', 'text', (c) => c.notNull())
      // The subjects sealed in the batch (pseudonymous ids), so an erasure finds its batches.
      .addColumn('subjects', 'text', (c) => c.notNull())
      .addColumn('sealed', 'text', (c) => c.notNull())
      .addColumn('created_at', columnType.epochMillis, (c) => c.notNull())
      .execute();
  },
}];

const PREFIX = 'enc1:';
const PREFIX2 = 'enc2:';
/** The wrapped data keys: the root of the subject keys, and the blind-index key. */
const FIELDS_KEY = 'fields';
const INDEX_KEY = 'blind-index';
const BATCH = 500;
/** Subjects sealed together in one record at most (an erasure re-seals the rest of its batch). */
const SEAL_BATCH = 1000;
/** Opened batches kept in memory. */
const BATCH_CACHE = 256;

/** True when a stored value is sealed by a vault. */
export const isSealed = (v: string | null | undefined): boolean => typeof v === 'string' && (v.startsWith(PREFIX2) || v.startsWith(PREFIX));

/** One slot of a sealed batch: the subject and its fields; null once the subject is shredded. */
type Slot = [subject: string, fields: Record<string, string>] | null;

function batchAad(id: string): Buffer {
  return Buffer.from(`erab-batch/2\0${id}`, 'utf8');
}

/** AES-256-GCM of the batch's slots: `enc2:` + base64(nonce ‖ tag ‖ ciphertext). */
function sealSlots(key: Buffer, id: string, slots: readonly Slot[]): string {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(batchAad(id));
  const body = c.update(JSON.stringify(slots), 'utf8');
  c.final();
  return PREFIX2 + Buffer.concat([nonce, c.getAuthTag(), body]).toString('base64');
}

function openSlots(key: Buffer, id: string, sealed: string): Slot[] {
  const raw = Buffer.from(sealed.slice(PREFIX2.length), 'base64');
  try {
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    d.setAAD(batchAad(id));
    d.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8')) as Slot[];
  } catch {
    throw new IntegrityError(`sealed batch ${id} does not decrypt: modified, or its salt replaced`);
  }
}

/** `enc2:<batch>.<slot>` parsed; undefined when malformed. */
function parseRef(v: string): { batch: string; slot: number } | undefined {
  const m = /^enc2:([A-Za-z0-9_-]{1,64})\.(\d{1,6})$/.exec(v);
  return m ? { batch: m[1]!, slot: Number(m[2]) } : undefined;
}

interface BatchRow { id: string; salt: string; subjects: string; sealed: string }

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
  /** Format-1 subject keys kept in memory, default 10 000; opened batches too, at most 256. */
  cacheSize?: number;
  now?: () => number;
}

/** Seals and opens personal fields, in batches, under a KMS's key-encryption key. */
export class PersonalDataVault {
  readonly #kms: KeyEncryptionService;
  readonly #dataKeys = new Map<string, Buffer>();
  readonly #cache = new Map<string, Buffer>();
  readonly #batches = new Map<string, Slot[]>();
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

  /** Format-1 subject keys of `subjects`; a shredded one (no salt) is left out. */
  async #keys(db: AnyDb, subjects: readonly string[]): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    const missing: string[] = [];
    for (const s of new Set(subjects)) {
      const k = this.#cache.get(s);
      if (k) out.set(s, k);
      else missing.push(s);
    }
    if (missing.length === 0) return out;
    const root = await this.#dataKey(db, FIELDS_KEY);
    for (let i = 0; i < missing.length; i += BATCH) {
      const rows = await db.selectFrom(SUBJECT_KEY_TABLE).select(['subject', 'salt']).where('subject', 'in', missing.slice(i, i + BATCH)).execute() as { subject: string; salt: string }[];
      for (const r of rows) {
        const key = createHmac('sha256', root).update(`erab-subject-key/1\0${r.subject}\0${r.salt}`).digest();
        out.set(r.subject, key);
        this.#remember(r.subject, key);
      }
    }
    return out;
  }

  /** The key of a sealed batch: derived from the fields data key, the batch id and its salt. */
  async #batchKey(db: AnyDb, id: string, salt: string): Promise<Buffer> {
    const root = await this.#dataKey(db, FIELDS_KEY);
    return createHmac('sha256', root).update(`erab-batch-key/2\0${id}\0${salt}`).digest();
  }

  #rememberBatch(id: string, slots: Slot[]): void {
    if (this.#batches.size >= Math.min(BATCH_CACHE, this.#cacheSize)) this.#batches.clear();
    this.#batches.set(id, slots);
  }

  /**
   * Seals the fields of many subjects, in the caller's transaction when `db` is one: up to
   * 1000 subjects as one record (format 2), each field stored as a reference to its slot.
   */
  async sealMany(db: AnyDb, items: readonly SubjectFields[]): Promise<Record<string, string | null>[]> {
    const out: Record<string, string | null>[] = [];
    for (let i = 0; i < items.length; i += SEAL_BATCH) {
      const chunk = items.slice(i, i + SEAL_BATCH);
      const id = randomBytes(16).toString('base64url');
      const salt = randomBytes(16).toString('base64');
      const slots: Slot[] = chunk.map(({ subject, fields }) => {
        const kept: Record<string, string> = {};
        for (const f in fields) if (fields[f] !== null) kept[f] = fields[f]!;
        return [subject, kept];
      });
      const sealed = sealSlots(await this.#batchKey(db, id, salt), id, slots);
      await db.insertInto(SEALED_BATCH_TABLE).values({ id, salt, subjects: JSON.stringify([...new Set(chunk.map((c) => c.subject))]), sealed, created_at: this.#now() }).execute();
      this.#rememberBatch(id, slots);
      chunk.forEach(({ fields }, slot) => {
        const refs: Record<string, string | null> = {};
        for (const f in fields) refs[f] = fields[f] === null ? null : `${PREFIX2}${id}.${slot}`;
        out.push(refs);
      });
    }
    return out;
  }

  /** The slots of the batches named, opened (cached); a batch no longer stored is left out (shredded). */
  async #openBatches(db: AnyDb, ids: readonly string[]): Promise<Map<string, Slot[]>> {
    const out = new Map<string, Slot[]>();
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      const known = this.#batches.get(id);
      if (known) out.set(id, known);
      else missing.push(id);
    }
    for (let i = 0; i < missing.length; i += BATCH) {
      const rows = await db.selectFrom(SEALED_BATCH_TABLE).select(['id', 'salt', 'sealed']).where('id', 'in', missing.slice(i, i + BATCH)).execute() as BatchRow[];
      for (const r of rows) {
        const slots = openSlots(await this.#batchKey(db, r.id, r.salt), r.id, r.sealed);
        out.set(r.id, slots);
        this.#rememberBatch(r.id, slots);
      }
    }
    return out;
  }

  /**
   * Opens the fields of many subjects. A field whose subject was shredded reads as null;
   * a modified or misplaced ciphertext or reference throws IntegrityError naming subject and field.
   */
  async openMany(db: AnyDb, items: readonly SubjectFields[]): Promise<Record<string, string | null>[]> {
    const v1: string[] = [];
    const refs: string[] = [];
    for (const i of items) {
      for (const v of Object.values(i.fields)) {
        if (typeof v !== 'string') continue;
        if (v.startsWith(PREFIX2)) refs.push(parseRef(v)?.batch ?? '');
        else if (v.startsWith(PREFIX)) v1.push(i.subject);
      }
    }
    const keys = v1.length > 0 ? await this.#keys(db, v1) : new Map<string, Buffer>();
    const batches = refs.length > 0 ? await this.#openBatches(db, refs.filter(Boolean)) : new Map<string, Slot[]>();
    const misplaced = (subject: string, field: string) => new IntegrityError(`${field} of ${subject} does not decrypt: modified, or copied from another record`);
    return items.map(({ subject, fields }) => {
      const out: Record<string, string | null> = {};
      for (const [field, v] of Object.entries(fields)) {
        if (!isSealed(v)) { out[field] = v; continue; }
        if (v!.startsWith(PREFIX2)) {
          const ref = parseRef(v!);
          if (!ref) throw misplaced(subject, field);
          const slots = batches.get(ref.batch);
          if (!slots) { out[field] = null; continue; }
          if (ref.slot >= slots.length) throw misplaced(subject, field);
          const slot = slots[ref.slot];
          if (slot === null) { out[field] = null; continue; }
          if (slot![0] !== subject || !(field in slot![1])) throw misplaced(subject, field);
          out[field] = slot![1][field]!;
          continue;
        }
        const key = keys.get(subject);
        if (!key) { out[field] = null; continue; }
        const raw = Buffer.from(v!.slice(PREFIX.length), 'base64');
        const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
        d.setAAD(aad(subject, field));
        d.setAuthTag(raw.subarray(12, 28));
        try {
          out[field] = Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
        } catch {
          throw misplaced(subject, field);
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

  /**
   * Crypto-shreds a subject: every batch holding it is re-sealed without it under a fresh salt
   * (a batch left empty is deleted), and its format-1 salt is deleted, so no copy of its fields
   * taken from now on can be read. Resolves to true when something of the subject was stored.
   */
  async shred(db: AnyDb, subject: string): Promise<boolean> {
    this.#cache.delete(subject);
    let found = await PersonalDataVault.#shredV1(db, subject);
    for (const r of await PersonalDataVault.#batchesOf(db, subject)) {
      found = true;
      this.#batches.delete(r.id);
      if (await PersonalDataVault.#deleteIfOnly(db, r, subject)) continue;
      const slots = openSlots(await this.#batchKey(db, r.id, r.salt), r.id, r.sealed).map((s): Slot => (s && s[0] === subject ? null : s));
      const subjects = [...new Set(slots.filter((s): s is NonNullable<Slot> => s !== null).map((s) => s[0]))];
      if (subjects.length === 0) {
        await db.deleteFrom(SEALED_BATCH_TABLE).where('id', '=', r.id).execute();
        continue;
      }
      const salt = randomBytes(16).toString('base64');
      const sealed = sealSlots(await this.#batchKey(db, r.id, salt), r.id, slots);
      await db.updateTable(SEALED_BATCH_TABLE).set({ salt, sealed, subjects: JSON.stringify(subjects) }).where('id', '=', r.id).execute();
    }
    return found;
  }

  /**
   * {@link shred} without a key-encryption key at hand: enough when the subject's data sit in
   * batches of its own (a notify contact, a delivery) or in format 1; a batch shared with other
   * subjects must be re-sealed, which needs the key (InvalidInputError naming it).
   */
  static async shred(db: AnyDb, subject: string): Promise<boolean> {
    let found = await PersonalDataVault.#shredV1(db, subject);
    for (const r of await PersonalDataVault.#batchesOf(db, subject)) {
      found = true;
      if (!(await PersonalDataVault.#deleteIfOnly(db, r, subject))) {
        throw new InvalidInputError(`erasing ${subject}: its personal data is sealed together with other subjects' (batch ${r.id}), which are re-sealed without it; that needs the key-encryption key (ERAB_PRIVACY_KEK_FILE or --kek-file)`);
      }
    }
    return found;
  }

  static async #shredV1(db: AnyDb, subject: string): Promise<boolean> {
    const r = await db.deleteFrom(SUBJECT_KEY_TABLE).where('subject', '=', subject).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** The batches holding a subject (a LIKE on the subjects list narrows, the parsed list decides). */
  static async #batchesOf(db: AnyDb, subject: string): Promise<BatchRow[]> {
    const pattern = `%${JSON.stringify(subject).replace(/[!%_]/g, (c) => `!${c}`)}%`;
    const rows = await db.selectFrom(SEALED_BATCH_TABLE).select(['id', 'salt', 'subjects', 'sealed'])
      .where(sql<boolean>`subjects like ${pattern} escape '!'`).execute() as BatchRow[];
    return rows.filter((r) => (JSON.parse(r.subjects) as string[]).includes(subject));
  }

  /** Deletes a batch that holds nothing but this subject; false when others share it. */
  static async #deleteIfOnly(db: AnyDb, r: BatchRow, subject: string): Promise<boolean> {
    const subjects = JSON.parse(r.subjects) as string[];
    if (subjects.some((s) => s !== subject)) return false;
    await db.deleteFrom(SEALED_BATCH_TABLE).where('id', '=', r.id).execute();
    return true;
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
