/**
 * The dispatch engine's running events in the store, so that a restarted aggregator — or the
 * standby that took the lease (docs/failover.md) — resumes them instead of answering the
 * upstream party's re-sent event afresh: the same optIn, the same allocation and, above all,
 * the same pre-event baselines (a baseline measured during the event would read the event's own
 * effect as the normal load and the delivered power as nothing).
 *
 * One row per event (`<party>/<eventID>` or `operator/<id>`) and aggregator: the whole event as
 * a JSON document, written when the engine changes it (accept, modification, re-dispatch,
 * opt out, cancellation, completion), read once at start. Writes are coalesced per event: only
 * the latest state of an event waiting to be written is written.
 */
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { LogFn } from '../../../core/logger.js';
import type { EpochMillis } from '../../../core/units.js';
import type { Migration } from '../../../store/migrations.js';
import { columnType, fromJsonText, toJsonText } from '../../../store/schema.js';
import type { Store } from '../../../store/store.js';
import type { AllocationRequest, AllocationResult } from '../allocation/types.js';
import type { DispatchPlan } from './dispatch-types.js';
import type { EventState, RunningEvent } from './engine.js';

export const eventBookMigrations: readonly Migration[] = [
  {
    name: '0001_aggregator_event_book',
    async up(db) {
      await db.schema.createTable('aggregator_event')
        .addColumn('aggregator_id', 'text', (c) => c.notNull())
        .addColumn('event_key', 'text', (c) => c.notNull())
        .addColumn('data', columnType.json, (c) => c.notNull())
        .addColumn('updated_at', columnType.epochMillis, (c) => c.notNull())
        .addPrimaryKeyConstraint('aggregator_event_pk', ['aggregator_id', 'event_key'])
        .execute();
    },
    async down(db) {
      await db.schema.dropTable('aggregator_event').execute();
    },
  },
];

interface EventTables {
  aggregator_event: { aggregator_id: string; event_key: string; data: string; updated_at: number };
}

/** A running event plus the operator command's resource scope, as the engine restores it. */
export interface StoredEvent {
  event: RunningEvent;
  /** An operator event's resources (absent: the whole fleet). */
  scope?: string[] | undefined;
}

const pairs = z.array(z.tuple([z.string(), z.number()]));
// Our own documents; the check guards against a foreign or damaged row, not against ourselves.
const docSchema = z.object({
  v: z.literal(1),
  plan: z.object({ key: z.string(), party: z.string(), eventId: z.string(), modificationNumber: z.number().int(), start: z.number(), end: z.number(), intervals: z.array(z.object({ start: z.number(), end: z.number(), targetW: z.number() }).passthrough()).min(1) }).passthrough(),
  source: z.enum(['upstream', 'operator']),
  state: z.enum(['accepted', 'active', 'completed', 'cancelled']),
  request: z.object({ eventId: z.string() }).passthrough(),
  allocation: z.object({ instructions: z.array(z.object({ resourceId: z.string(), powerW: z.array(z.number()), standbyW: z.array(z.number()) }).passthrough()), allocatedW: z.array(z.number()) }).passthrough(),
  tracking: z.object({ misses: pairs, nonResponding: z.array(z.string()) }).optional(),
  baselines: pairs,
  participants: z.array(z.string()),
  downstreamId: z.string(),
  downstreamMod: z.number().int(),
  vens: z.array(z.string()),
  nonResponding: z.array(z.string()),
  optedOut: z.array(z.string()).optional(),
  uncoveredW: z.number(),
  settleUntil: z.number(),
  lastActiveAt: z.number().optional(),
  instructedAt: pairs,
  acceptedAt: z.number(),
  scope: z.array(z.string()).optional(),
});
type EventDoc = z.infer<typeof docSchema>;

function toDoc(ev: RunningEvent, scope: ReadonlySet<string> | undefined): EventDoc {
  return {
    v: 1,
    plan: ev.plan as unknown as EventDoc['plan'],
    source: ev.source,
    state: ev.state,
    request: ev.request as unknown as EventDoc['request'],
    allocation: ev.allocation as unknown as EventDoc['allocation'],
    ...(ev.tracking ? { tracking: { misses: [...ev.tracking.misses], nonResponding: [...ev.tracking.nonResponding] } } : {}),
    baselines: [...ev.baselines],
    participants: [...ev.participants],
    downstreamId: ev.downstreamId,
    downstreamMod: ev.downstreamMod,
    vens: [...ev.vens],
    nonResponding: ev.nonResponding,
    ...(ev.optedOut ? { optedOut: [...ev.optedOut] } : {}),
    uncoveredW: ev.uncoveredW,
    settleUntil: ev.settleUntil,
    ...(ev.lastActiveAt !== undefined ? { lastActiveAt: ev.lastActiveAt } : {}),
    instructedAt: [...ev.instructedAt],
    acceptedAt: ev.acceptedAt,
    ...(scope ? { scope: [...scope] } : {}),
  };
}

function fromDoc(d: EventDoc): StoredEvent {
  const event: RunningEvent = {
    plan: d.plan as unknown as DispatchPlan,
    source: d.source,
    state: d.state as EventState,
    request: d.request as unknown as AllocationRequest,
    allocation: d.allocation as unknown as AllocationResult,
    ...(d.tracking ? { tracking: { misses: new Map(d.tracking.misses), nonResponding: new Set(d.tracking.nonResponding) } } : {}),
    baselines: new Map(d.baselines),
    participants: new Set(d.participants),
    downstreamId: d.downstreamId,
    downstreamMod: d.downstreamMod,
    vens: new Set(d.vens),
    nonResponding: d.nonResponding,
    optedOut: d.optedOut ? new Set(d.optedOut) : undefined,
    uncoveredW: d.uncoveredW,
    settleUntil: d.settleUntil,
    lastActiveAt: d.lastActiveAt,
    instructedAt: new Map(d.instructedAt),
    acceptedAt: d.acceptedAt,
  };
  return { event, ...(d.scope ? { scope: d.scope } : {}) };
}

/**
 * @example
 *   const book = new EventBook(store, 'AGG1');
 *   const engine = new DispatchEngine({ ..., book });
 *   engine.restore(await book.load());
 */
export class EventBook {
  private readonly db: Kysely<EventTables>;
  /** Latest state per event waiting to be written; null = delete. */
  private readonly pending = new Map<string, { data: string; at: number } | null>();
  private writing: Promise<void> | undefined;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(store: Store<any>, private readonly aggregatorId: string, private readonly log?: LogFn) {
    this.db = store.db as Kysely<EventTables>;
  }

  /** Every stored event of this aggregator. A row that does not parse is skipped and logged, never half-restored. */
  async load(): Promise<StoredEvent[]> {
    const rows = await this.db.selectFrom('aggregator_event').select(['event_key', 'data']).where('aggregator_id', '=', this.aggregatorId).orderBy('updated_at').execute();
    const out: StoredEvent[] = [];
    for (const r of rows) {
      try {
        out.push(fromDoc(fromJsonText(r.data, docSchema, `aggregator_event ${r.event_key}`)));
      } catch (e) {
        this.log?.('stored event not restored', { event: r.event_key, error: (e as Error).message }, 'error');
      }
    }
    return out;
  }

  /** Records the event's current state (serialised now, written in the background). */
  save(ev: RunningEvent, scope: ReadonlySet<string> | undefined, now: number): void {
    this.pending.set(ev.plan.key, { data: toJsonText(toDoc(ev, scope)), at: now });
    this.kick();
  }

  /** Forgets an event (kept finished events expire with the engine's own). */
  delete(key: string): void {
    this.pending.set(key, null);
    this.kick();
  }

  /** Resolves once everything recorded so far is written. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private kick(): void {
    this.writing ??= this.drain().finally(() => { this.writing = undefined; });
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0) {
      const batch = [...this.pending];
      this.pending.clear();
      for (const [key, doc] of batch) {
        try {
          if (doc === null) {
            await this.db.deleteFrom('aggregator_event').where('aggregator_id', '=', this.aggregatorId).where('event_key', '=', key).execute();
            continue;
          }
          const row = { aggregator_id: this.aggregatorId, event_key: key, data: doc.data, updated_at: doc.at as EpochMillis };
          await this.db.insertInto('aggregator_event').values(row)
            .onConflict((oc) => oc.columns(['aggregator_id', 'event_key']).doUpdateSet({ data: row.data, updated_at: row.updated_at }))
            .execute();
        } catch (e) {
          // The event runs on in memory; a takeover would then resume an older state of it.
          this.log?.('event state not written to the store', { event: key, error: (e as Error).message }, 'error');
        }
      }
    }
  }
}
