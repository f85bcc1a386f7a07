/**
 * Durable replay protection for OpenADR XML signatures: the ReplayCache of a verifier (a VTN, a
 * VEN checking its VTN's signed replies) kept in the role's own store, SQLite or PostgreSQL, so
 * a signed payload replayed to a restarted process within the window is still refused
 * (issue 11, item 4; OpenADR 2.0b §10 dsp:ReplayProtect).
 *
 * ## Design
 * - Memory for the check: every nonce still within its window is in a Map, loaded from the
 *   store at open, so the verifier's check stays a Map lookup.
 * - Group commit for the store: claims made while the previous write runs (and in the same turn
 *   of the event loop) go out together, one INSERT per `batchRows` rows, each row keyed
 *   (scope, nonce). The caller awaits `confirm(nonce)` — the commit of the batch that holds it —
 *   before it acts on the payload or answers it.
 * - Several verifiers on one database (VTN workers on PostgreSQL) share a scope: the primary key
 *   (scope, nonce) decides. A row already there whose keep_until has not passed is an insert
 *   conflict, the INSERT does not return it, and `confirm` answers false: a replay, refused. Rows
 *   of each batch are written in nonce order, so two workers never wait on each other's rows in
 *   opposite orders (no deadlock).
 *
 * ## Guarantees
 * - A nonce whose payload was accepted is committed before the answer leaves (the VTN and VEN
 *   await `confirmNonce`). On SQLite with synchronous=FULL (the store's default) that commit is
 *   on disk; with synchronous=NORMAL (a gateway may choose it) it survives a process crash but
 *   the last commits can be lost with the machine's power.
 * - A crash between the commit and the answer leaves the nonce claimed and the request
 *   unanswered: the signer sends again with a fresh signature (our VEN signs every send anew).
 * - When a write fails, the batch's claims are withdrawn from memory and `confirm` rejects: the
 *   payloads are refused as an internal failure, never accepted without a durable claim.
 *
 * ## Bounds
 * A nonce is kept until its timestamp can no longer pass the window (timestamp + window, at most
 * now + 2 × window), then pruned from memory and from the table (at most every `window`, capped at
 * a minute). Only payloads whose signature verified with a known peer's certificate and whose
 * timestamp is within the window ever reach the cache, so an outsider's flood adds nothing; an
 * allow-listed peer's flood is bounded by `maxEntries` per verifier process (default 1,000,000
 * nonces, ~100 MB): past it, signed payloads are refused until entries expire. The table holds
 * at most the nonces of the last 2 × window + one prune interval, summed over the verifiers of
 * one scope (≤ workers × maxEntries).
 */
import type { Kysely } from 'kysely';
import { OadrError, OadrResponseCode } from '../../protocols/openadr/errors.js';
import type { ReplayCache } from '../../protocols/openadr/replay-cache.js';
import { StoreUnavailableError, describeDriverError } from '../../store/errors.js';
import type { Migration } from '../../store/migrations.js';
import { columnType, toEpochMillis } from '../../store/schema.js';
import type { Store } from '../../store/store.js';

export const NONCE_TABLE = 'openadr_nonce';

/** The nonce table (self-contained: nothing else refers to it). */
export const nonceMigrations: readonly Migration[] = [
  {
    name: '0003_openadr_nonce',
    async up(db) {
      await db.schema
        .createTable(NONCE_TABLE)
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('nonce', 'text', (c) => c.notNull())
        .addColumn('keep_until', columnType.epochMillis, (c) => c.notNull())
        .addPrimaryKeyConstraint(`${NONCE_TABLE}_pk`, ['scope', 'nonce'])
        .execute();
      await db.schema.createIndex(`${NONCE_TABLE}_expiry`).on(NONCE_TABLE).columns(['scope', 'keep_until']).execute();
    },
    async down(db) {
      await db.schema.dropTable(NONCE_TABLE).execute();
    },
  },
];

export interface NonceTables {
  openadr_nonce: { scope: string; nonce: string; keep_until: number };
}

export interface StoreNonceCacheOptions {
  /**
   * Whose nonces these are, e.g. `vtn:TSO1` or `ven:AGG1`: one database may hold several
   * verifiers. Processes that serve one VTN (workers) use the same scope and so share its nonces.
   */
  scope: string;
  /** The ReplayProtect window the verifier applies (± ms around now); nonces are kept for it. */
  windowMs: number;
  /** Nonces held in memory at most (default 1,000,000); past it, claims are refused. */
  maxEntries?: number;
  /** Rows per INSERT statement (default 500: 3 parameters a row stays far below SQLite's limit). */
  batchRows?: number;
}

/** Claims collected for one group commit. */
interface Batch {
  /** nonce → keep_until */
  readonly rows: Map<string, number>;
  /** When the first claim was made: a row whose keep_until has passed by then may be taken over. */
  readonly now: number;
  /** The nonces this verifier won, once committed. */
  result: Promise<Set<string>>;
}

/**
 * ReplayCache in the role's store: memory for the check, the store for restarts and for other
 * verifiers of the same scope.
 * @example
 * const nonces = await StoreNonceCache.open(store, { scope: 'vtn:TSO1', windowMs: 300_000 }, Date.now());
 * const vtn = new Vtn({ ..., nonces, signatureWindowMs: 300_000 });
 * // on shutdown: await nonces.flush();
 */
export class StoreNonceCache implements ReplayCache {
  private readonly scope: string;
  private readonly windowMs: number;
  private readonly maxEntries: number;
  private readonly batchRows: number;
  private readonly pruneEveryMs: number;
  /** Nonces within their window → keep_until. */
  private readonly seen: Map<string, number>;
  /** The batch still collecting claims, if any. */
  private collecting: Batch | undefined;
  /** Nonces claimed but not yet settled → their batch. */
  private readonly unsettled = new Map<string, Batch>();
  /** The chain of store writes (batches, prunes): one at a time, in order. */
  private writing: Promise<void> = Promise.resolve();
  private lastPrune: number;

  private constructor(private readonly db: Kysely<NonceTables>, opts: StoreNonceCacheOptions, seen: Map<string, number>, now: number) {
    if (!opts.scope) throw new RangeError('StoreNonceCache: scope must not be empty');
    if (!Number.isFinite(opts.windowMs) || opts.windowMs <= 0) throw new RangeError(`StoreNonceCache: windowMs must be a positive number of ms, got ${opts.windowMs}`);
    this.scope = opts.scope;
    this.windowMs = opts.windowMs;
    this.maxEntries = opts.maxEntries ?? 1_000_000;
    this.batchRows = opts.batchRows ?? 500;
    this.pruneEveryMs = Math.min(opts.windowMs, 60_000);
    this.seen = seen;
    this.lastPrune = now;
  }

  /**
   * Opens the cache of `opts.scope`: deletes its rows whose window has passed and loads the rest.
   * `store` must have been opened with `nonceMigrations` (part of `openadrStoreMigrations`).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  static async open(store: Store<any>, opts: StoreNonceCacheOptions, now: number): Promise<StoreNonceCache> {
    const db = store.db as Kysely<NonceTables>;
    await db.deleteFrom(NONCE_TABLE).where('scope', '=', opts.scope).where('keep_until', '<=', now).execute();
    const rows = await db.selectFrom(NONCE_TABLE).select(['nonce', 'keep_until']).where('scope', '=', opts.scope).execute();
    const seen = new Map<string, number>();
    for (const r of rows) seen.set(r.nonce, toEpochMillis(r.keep_until, `${NONCE_TABLE}.keep_until`));
    return new StoreNonceCache(db, opts, seen, now);
  }

  check(nonce: string, now: number, timestamp?: number): boolean {
    if (now - this.lastPrune >= this.pruneEveryMs || this.seen.size >= this.maxEntries) this.prune(now);
    const exp = this.seen.get(nonce);
    if (exp !== undefined && exp > now) return false;
    if (this.seen.size >= this.maxEntries) {
      throw new OadrError(OadrResponseCode.OTHER, `nonce cache ${this.scope} holds ${this.maxEntries} nonces; refusing signed payloads until they expire`);
    }
    // Kept until the timestamp can no longer pass the window (|now - timestamp| ≤ window).
    const keepUntil = Math.max(now + 1, Math.min(now + 2 * this.windowMs, timestamp !== undefined ? timestamp + this.windowMs : Infinity));
    this.seen.set(nonce, keepUntil);
    this.enqueue(nonce, keepUntil, now);
    return true;
  }

  /**
   * Settles a claim that `check` granted just before (call it before awaiting anything else):
   * resolves true once committed with this verifier as its holder, false when another verifier
   * of the scope holds it; rejects when the write failed.
   */
  confirm(nonce: string): boolean | Promise<boolean> {
    const batch = this.unsettled.get(nonce);
    if (!batch) return true;
    return batch.result.then((won) => won.has(nonce));
  }

  /** Awaits every write queued so far (shutdown, tests). */
  async flush(): Promise<void> {
    await this.writing;
  }

  /** Nonces held in memory. */
  get size(): number {
    return this.seen.size;
  }

  /** Forgets, in memory and in the table, the nonces whose window has passed by `now`. */
  prune(now: number): void {
    this.lastPrune = now;
    for (const [k, exp] of this.seen) if (exp <= now) this.seen.delete(k);
    // A failed prune leaves rows behind that the next one deletes; a store that fails for good
    // shows in the claims' own writes, which reject.
    this.writing = this.writing.then(() => this.db.deleteFrom(NONCE_TABLE).where('scope', '=', this.scope).where('keep_until', '<=', now).execute()).then(() => undefined, () => undefined);
  }

  private enqueue(nonce: string, keepUntil: number, now: number): void {
    let batch = this.collecting;
    if (!batch) {
      const b: Batch = { rows: new Map(), now, result: Promise.resolve(new Set()) };
      this.collecting = b;
      // Group commit: the batch keeps collecting until the previous write is done and the event
      // loop has handled the input already received (setImmediate), then it is written.
      b.result = this.writing
        .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
        .then(() => {
          if (this.collecting === b) this.collecting = undefined;
          return this.write(b);
        })
        .finally(() => {
          for (const n of b.rows.keys()) if (this.unsettled.get(n) === b) this.unsettled.delete(n);
        });
      this.writing = b.result.then(() => undefined, () => undefined);
      batch = b;
    }
    batch.rows.set(nonce, keepUntil);
    this.unsettled.set(nonce, batch);
  }

  /** Inserts a batch; resolves to the nonces this verifier now holds. */
  private async write(b: Batch): Promise<Set<string>> {
    // One order for every writer, so concurrent statements lock rows in the same order.
    const rows = [...b.rows].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    const won = new Set<string>();
    try {
      for (let i = 0; i < rows.length; i += this.batchRows) {
        const chunk = rows.slice(i, i + this.batchRows).map(([nonce, keepUntil]) => ({ scope: this.scope, nonce, keep_until: keepUntil }));
        const inserted = await this.db
          .insertInto(NONCE_TABLE)
          .values(chunk)
          // A row whose window has passed (not pruned yet) is taken over; a live one is a conflict.
          .onConflict((oc) => oc.columns(['scope', 'nonce']).doUpdateSet({ keep_until: (eb) => eb.ref('excluded.keep_until') }).where(`${NONCE_TABLE}.keep_until`, '<=', b.now))
          .returning('nonce')
          .execute();
        for (const r of inserted) won.add(r.nonce);
      }
    } catch (err) {
      // Not durable, so not accepted: withdraw the claims (a retry of the payload is no replay).
      for (const [nonce, keepUntil] of b.rows) if (this.seen.get(nonce) === keepUntil) this.seen.delete(nonce);
      throw new StoreUnavailableError(`nonce store ${this.scope}: ${b.rows.size} claims could not be written: ${describeDriverError(err)}`, { cause: err });
    }
    return won;
  }
}
