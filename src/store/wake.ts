/**
 * Wake-ups between processes that share a store: "something changed on <channel>, go and
 * look". Used so a sender waiting on an empty outbox, or a VTN holding a long poll, reacts at
 * once instead of polling (docs/architecture.md §6: PostgreSQL LISTEN/NOTIFY wakes long polls).
 *
 * A wake-up is a hint, never the data: a receiver always reads the store afterwards, and keeps
 * a timeout so a lost hint (a dropped LISTEN connection) only delays it.
 * - PostgreSQL: NOTIFY on the pool (inside a transaction it is delivered at commit, and not at
 *   all on rollback); LISTEN on one dedicated connection per store, re-established once when it
 *   drops. Channel names are hashed with the schema, so isolated schemas never hear each other.
 * - SQLite: one process per file, so an in-process emitter per file. Inside a caller's
 *   transaction the hint fires at once; that is harmless, because every store on the file in
 *   this process shares one connection and the woken reader waits for the commit.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import { InvalidInputError } from '../core/errors.js';

export interface StoreWake {
  /** Signals `channel` (1..200 characters) with a short payload (≤ 1000 characters). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  notify(channel: string, payload?: string, trx?: Kysely<any>): Promise<void>;
  /** Calls `handler` on every signal of `channel` until the returned function is called. */
  listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * Resolves true at the next signal on `channel`, false after `timeoutMs` (or when `abort`
   * fires). Subscribe BEFORE checking the store, then check, then await, to miss nothing.
   */
  waiter(channel: string, timeoutMs: number, abort?: AbortSignal): Promise<{ wait: Promise<boolean>; cancel: () => Promise<void> }>;
  close(): Promise<void>;
}

function check(channel: string, payload: string): void {
  if (typeof channel !== 'string' || channel.length === 0 || channel.length > 200) throw new InvalidInputError('wake channel must be 1..200 characters');
  if (payload.length > 1000) throw new InvalidInputError('wake payload must be at most 1000 characters');
}

abstract class WakeBase implements StoreWake {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  abstract notify(channel: string, payload?: string, trx?: Kysely<any>): Promise<void>;
  abstract listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>;
  abstract close(): Promise<void>;

  async waiter(channel: string, timeoutMs: number, abort?: AbortSignal): Promise<{ wait: Promise<boolean>; cancel: () => Promise<void> }> {
    let settle: (v: boolean) => void = () => {};
    const wait = new Promise<boolean>((resolve) => { settle = resolve; });
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let stop: (() => Promise<void>) | undefined;
    const finish = (v: boolean) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      abort?.removeEventListener('abort', onAbort);
      settle(v);
      void stop?.().catch(() => {});
    };
    const onAbort = () => finish(false);
    stop = await this.listen(channel, () => finish(true));
    if (done) void stop().catch(() => {});
    // Not unref'd: someone awaits this, and the timeout is the answer they wait for.
    timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
    if (abort?.aborted) finish(false);
    else abort?.addEventListener('abort', onAbort, { once: true });
    return { wait, cancel: async () => finish(false) };
  }
}

/** Emitters per SQLite file (or per store for :memory:), process-wide. */
const sqliteEmitters = new Map<string, { emitter: EventEmitter; refs: number }>();

export class SqliteWake extends WakeBase {
  private readonly emitter: EventEmitter;
  private readonly subs = new Set<() => void>();
  private closed = false;

  constructor(private readonly key: string | undefined) {
    super();
    const shared = key === undefined ? undefined : sqliteEmitters.get(key);
    if (shared) {
      shared.refs++;
      this.emitter = shared.emitter;
    } else {
      this.emitter = new EventEmitter();
      this.emitter.setMaxListeners(0);
      if (key !== undefined) sqliteEmitters.set(key, { emitter: this.emitter, refs: 1 });
    }
  }

  async notify(channel: string, payload = ''): Promise<void> {
    check(channel, payload);
    this.emitter.emit(channel, payload);
  }

  async listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>> {
    check(channel, '');
    this.emitter.on(channel, handler);
    const off = () => { this.emitter.off(channel, handler); };
    this.subs.add(off);
    return async () => { off(); this.subs.delete(off); };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.subs) off();
    this.subs.clear();
    if (this.key === undefined) return;
    const entry = sqliteEmitters.get(this.key);
    if (entry && --entry.refs <= 0) sqliteEmitters.delete(this.key);
  }
}

export class PostgresWake extends WakeBase {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  /** Hashed channel → original channel → handlers. */
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly scope: string,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    private readonly db: Kysely<any>,
    private readonly onError: (err: Error) => void = () => {},
  ) {
    super();
  }

  /** pg channel names are identifiers of at most 63 bytes: hash scope + channel into one. */
  private wire(channel: string): string {
    return `erab_w_${createHash('sha256').update(`${this.scope}\0${channel}`).digest('hex').slice(0, 40)}`;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async notify(channel: string, payload = '', trx?: Kysely<any>): Promise<void> {
    check(channel, payload);
    await sql`select pg_notify(${this.wire(channel)}, ${payload})`.execute(trx ?? this.db);
  }

  async listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>> {
    check(channel, '');
    if (this.closed) throw new InvalidInputError('wake: the store is closed');
    const wire = this.wire(channel);
    let set = this.handlers.get(wire);
    const first = !set;
    if (!set) {
      set = new Set();
      this.handlers.set(wire, set);
    }
    set.add(handler);
    if (first) {
      try {
        const client = await this.connection();
        await client.query(`LISTEN "${wire}"`);
      } catch (err) {
        set.delete(handler);
        if (set.size === 0) this.handlers.delete(wire);
        throw err;
      }
    }
    return async () => {
      const s = this.handlers.get(wire);
      if (!s || !s.delete(handler) || s.size > 0) return;
      this.handlers.delete(wire);
      await this.client?.query(`UNLISTEN "${wire}"`).catch(() => {});
    };
  }

  private connection(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      // application_name lets an operator (and our tests) see which backend holds the LISTENs.
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 10_000, application_name: `erab-wake:${this.scope}`.slice(0, 63) });
      client.on('notification', (m) => {
        for (const h of [...(this.handlers.get(m.channel) ?? [])]) {
          try {
            h(m.payload ?? '');
          } catch (err) {
            this.onError(err as Error);
          }
        }
      });
      client.on('error', (err) => {
        this.onError(err);
        if (this.client === client) this.client = undefined;
        void client.end().catch(() => {});
        void this.resubscribe();
      });
      try {
        await client.connect();
      } catch (err) {
        await client.end().catch(() => {});
        throw err;
      } finally {
        this.connecting = undefined;
      }
      this.client = client;
      return client;
    })();
    return this.connecting;
  }

  /** After the LISTEN connection dropped: one attempt to listen again on every channel. */
  private async resubscribe(): Promise<void> {
    if (this.closed || this.handlers.size === 0) return;
    try {
      const client = await this.connection();
      for (const wire of this.handlers.keys()) await client.query(`LISTEN "${wire}"`);
    } catch (err) {
      this.onError(err as Error);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handlers.clear();
    const c = this.client ?? (this.connecting ? await this.connecting.catch(() => undefined) : undefined);
    this.client = undefined;
    await c?.end().catch(() => {});
  }
}
