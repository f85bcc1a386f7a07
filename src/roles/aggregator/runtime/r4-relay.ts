/**
 * The relay between the aggregator's R4 VTN worker processes and its primary (docs/scale.md):
 * what a worker receives from a gateway that the primary's fleet view and dispatch engine need
 * (a registration, its METADATA report registration, each telemetry report, each opt) is written
 * to the store, and the primary takes it from there.
 *
 * Durability, with a worker killed (-9) at any point:
 * - The worker writes the relay row BEFORE the VTN engine stores the message and answers (the
 *   store below is the engine's own, {@link RelayingVtnStore}). Killed before the row commits:
 *   the gateway got no answer and sends again. Killed after: the row is there for the primary.
 * - A message sent again (a lost answer, HTTP 500, a dead worker) writes a row with the same key:
 *   while the first is still waiting, the insert does nothing; after the primary took the first,
 *   the primary's inbox (src/store/inbox.ts) knows the key and drops it. Reports and opts
 *   therefore reach the primary exactly once; registrations are applied at least once (their
 *   effect is idempotent).
 * - The primary deletes the rows and records the keys in one transaction, then applies them in
 *   id order (one gateway's messages are sequential: each waits for the answer to the one before).
 *
 * Workers say "relay" on the store's wake channel (PostgreSQL NOTIFY) after each batch; the
 * primary also re-reads every `pollMs`, so a lost notification only delays.
 */
import type { Generated, Kysely } from 'kysely';
import { describeError } from '../../../core/errors.js';
import type { EpochMillis } from '../../../core/units.js';
import { systemClock, type Clock } from '../../../core/clock.js';
import type { OadrCreateOpt } from '../../../protocols/openadr/opt.js';
import type { OadrReport } from '../../../protocols/openadr/report.js';
import type { VtnHooks } from '../../../protocols/openadr/vtn.js';
import type { EventOpt, VenRegistration } from '../../../protocols/openadr/vtn-store.js';
import { StoreVtnStore } from '../../../endpoints/openadr/store.js';
import { Inbox, inboxMigrations } from '../../../store/inbox.js';
import { composeMigrations, type Migration } from '../../../store/migrations.js';
import { addIdColumn, columnType, toJsonText, toNumber } from '../../../store/schema.js';
import type { Store } from '../../../store/store.js';

export const r4RelayMigrations: readonly Migration[] = composeMigrations(inboxMigrations, [
  {
    name: '0001_aggregator_r4_relay',
    async up(db, ctx) {
      await db.schema.createTable('aggregator_r4_relay')
        .$call((t) => addIdColumn(t, 'id', ctx.dialect))
        .addColumn('vtn_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('ven_id', 'text', (c) => c.notNull())
        .addColumn('data', columnType.json, (c) => c.notNull())
        .addColumn('created_at', columnType.epochMillis, (c) => c.notNull())
        .addUniqueConstraint('aggregator_r4_relay_key', ['vtn_id', 'key'])
        .execute();
    },
    async down(db) {
      await db.schema.dropTable('aggregator_r4_relay').execute();
    },
  },
]);

interface RelayTables {
  aggregator_r4_relay: { id: Generated<number>; vtn_id: string; key: string; kind: string; ven_id: string; data: string; created_at: number };
}

/** What a worker relays; `once` kinds are deduplicated by key at the primary. */
type Relayed =
  | { kind: 'registered'; reg: VenRegistration }
  | { kind: 'reportRegistered'; reports: OadrReport[] }
  | { kind: 'report'; report: OadrReport }
  | { kind: 'eventOpt'; opt: EventOpt }
  | { kind: 'opt'; opt: OadrCreateOpt };

const ONCE: ReadonlySet<string> = new Set(['report', 'eventOpt', 'opt']);

/** The wake channel of one VTN's relay. */
const channelOf = (vtnID: string): string => `aggregator-r4-relay:${vtnID}`.slice(0, 200);

/**
 * A worker's VTN store: the engine's own StoreVtnStore, which first relays to the primary what
 * the primary needs and then stores it.
 */
export class RelayingVtnStore extends StoreVtnStore {
  private readonly rdb: Kysely<RelayTables>;
  private batch: { row: { vtn_id: string; key: string; kind: string; ven_id: string; data: string; created_at: number }; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private seq = 0;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(private readonly store: Store<any>, private readonly relayVtnID: string, private readonly now: () => number = Date.now) {
    super(store, relayVtnID);
    this.rdb = store.db as Kysely<RelayTables>;
  }

  override async putRegistration(r: VenRegistration): Promise<void> {
    await this.relay(r.venID, `g:${r.venID}:${r.registrationID}:${r.registeredAt}`, { kind: 'registered', reg: r });
    await super.putRegistration(r);
  }

  override async putReportRegistration(venID: string, reports: OadrReport[]): Promise<void> {
    // Not deduplicated (learning the same reports twice changes nothing): a unique key per call.
    await this.relay(venID, `rr:${venID}:${process.pid}:${this.now()}:${++this.seq}`, { kind: 'reportRegistered', reports });
    await super.putReportRegistration(venID, reports);
  }

  override async appendReport(venID: string, report: OadrReport, receivedAt: EpochMillis): Promise<boolean> {
    // Without an eiReportID a resend cannot be told from a new report (the VTN stores it again too).
    const id = report.eiReportID ?? `${report.reportRequestID}@${report.createdDateTime ?? receivedAt}`;
    await this.relay(venID, `rep:${venID}:${id}`, { kind: 'report', report });
    return super.appendReport(venID, report, receivedAt);
  }

  override async putEventOpt(o: EventOpt): Promise<void> {
    await this.relay(o.venID, `eo:${o.venID}:${o.eventID}:${o.modificationNumber}:${o.optType}`, { kind: 'eventOpt', opt: o });
    await super.putEventOpt(o);
  }

  override async putOpt(opt: OadrCreateOpt): Promise<void> {
    await this.relay(opt.venID, `o:${opt.venID}:${opt.optID}`, { kind: 'opt', opt });
    await super.putOpt(opt);
  }

  /** Group-commits the relay rows of one event-loop turn (one INSERT, one NOTIFY). */
  private relay(venID: string, key: string, msg: Relayed): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.batch.push({ row: { vtn_id: this.relayVtnID, key: key.slice(0, 480), kind: msg.kind, ven_id: venID, data: toJsonText(msg), created_at: this.now() }, resolve, reject });
      if (this.batch.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    for (let i = 0; i < batch.length; i += 500) {
      const part = batch.slice(i, i + 500);
      try {
        await this.rdb.insertInto('aggregator_r4_relay').values(part.map((p) => p.row))
          .onConflict((oc) => oc.columns(['vtn_id', 'key']).doNothing()).execute();
        for (const p of part) p.resolve();
      } catch (e) {
        for (const p of part) p.reject(e);
      }
    }
    // A lost hint only delays: the primary re-reads on its own.
    await this.store.wake.notify(channelOf(this.relayVtnID), 'relay').catch(() => {});
  }
}

export interface RelayConsumerOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  store: Store<any>;
  vtnID: string;
  /** The hooks of the primary's downstream VTN (the same ones a single-process VTN calls). */
  hooks: Partial<VtnHooks>;
  clock?: Clock;
  /** Re-read without a hint, ms (default 1000). */
  pollMs?: number;
  /**
   * How long relayed keys are remembered against resends, ms (default 1 h: a gateway resends
   * within its retry back-off, minutes at most; one key per report, so this bounds the table).
   */
  keepKeysMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * The primary's side: takes relayed messages from the store and calls the downstream VTN's
 * hooks with them, in order, each report and opt once.
 * @example const relay = await RelayConsumer.start({ store, vtnID: 'AGG1-vtn', hooks: down.hooks() }); ... await relay.stop();
 */
export class RelayConsumer {
  private readonly db: Kysely<RelayTables>;
  private readonly inbox: Inbox;
  private readonly source: string;
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private running: Promise<void> | undefined;
  /** The last pass, started or queued: passes run one after another. */
  private passes: Promise<void> = Promise.resolve();
  private again = false;
  private stopped = false;
  private lastPrune = 0;
  /** Messages applied since start (status and tests). */
  applied = 0;

  private constructor(private readonly o: RelayConsumerOptions) {
    this.db = o.store.db as Kysely<RelayTables>;
    this.inbox = new Inbox(o.store, { clock: o.clock ?? systemClock });
    this.source = `r4-relay:${o.vtnID}`.slice(0, 200);
  }

  static async start(o: RelayConsumerOptions): Promise<RelayConsumer> {
    const c = new RelayConsumer(o);
    c.unlisten = await o.store.wake.listen(channelOf(o.vtnID), () => c.kick());
    c.timer = setInterval(() => c.kick(), o.pollMs ?? 1000);
    c.timer.unref();
    await c.drain();
    return c;
  }

  /** Runs a drain now, or once more after the one running. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((e: unknown) => this.o.log?.('relay from the R4 workers failed; retrying', { error: describeError(e) }))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /**
   * Takes and applies every waiting message (tests call it to settle), after the pass under way:
   * two passes at once would both read the rows, and the one that does not apply them would
   * return before the other has (and apply the kinds that are not deduplicated twice).
   */
  drain(): Promise<void> {
    const pass = this.passes.then(() => this.pass());
    this.passes = pass.catch(() => {});
    return pass;
  }

  private async pass(): Promise<void> {
    for (;;) {
      const rows = await this.db.selectFrom('aggregator_r4_relay').selectAll().where('vtn_id', '=', this.o.vtnID).orderBy('id').limit(500).execute();
      if (rows.length === 0) break;
      const once = rows.filter((r) => ONCE.has(r.kind)).map((r) => r.key);
      const ids = rows.map((r) => r.id);
      // Delete and remember in one transaction: a crash before commit leaves both to redo.
      const fresh = await this.inbox.acceptMany(this.source, once, async (trx) => {
        await (trx as unknown as Kysely<RelayTables>).deleteFrom('aggregator_r4_relay').where('id', 'in', ids).execute();
      });
      for (const r of rows) {
        if (ONCE.has(r.kind) && !fresh.has(r.key)) continue;
        this.apply(r.ven_id, r.data, toNumber(r.id, 'relay id'));
      }
      if (rows.length < 500) break;
    }
    const now = (this.o.clock ?? systemClock).now();
    if (now - this.lastPrune > 300_000) {
      this.lastPrune = now;
      await this.inbox.pruneKeys(now - (this.o.keepKeysMs ?? 3_600_000), this.source);
    }
  }

  private apply(venID: string, data: string, id: number): void {
    const h = this.o.hooks;
    try {
      // Our own rows, written by a worker of this aggregator: a row that does not parse is logged and skipped.
      const m = JSON.parse(data) as Relayed;
      switch (m.kind) {
        case 'registered': h.onRegistered?.(m.reg); break;
        case 'reportRegistered': h.onReportRegistered?.(venID, m.reports); break;
        case 'report': h.onReport?.(venID, m.report); break;
        case 'eventOpt': h.onEventOpt?.(m.opt); break;
        case 'opt': h.onOpt?.(m.opt); break;
      }
      this.applied++;
    } catch (e) {
      // One bad message must not stop the others (it was validated by the worker's parser).
      this.o.log?.('relayed message not applied', { venID, id, error: describeError(e) });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.unlisten?.();
    await this.running;
    await this.passes;
  }
}
