/**
 * Requested vs delivered, per dispatch and per 30-minute block (コマ), from the aggregators'
 * TELEMETRY_USAGE reports. The aggregator reports its delivered change of consumption as the
 * data point rID "delivered" (reportType deltaUsage, W, signed like the LOAD_DISPATCH delta:
 * a 60 kW reduction delivered is −60000; see roles/aggregator/runtime/upstream.ts).
 * Samples and dispatches are kept in the data layer so the view survives a restart.
 */
import type { Kysely } from 'kysely';
import { directionSign, type DispatchDirection } from '../../core/domain/direction.js';
import type { Migration } from '../../store/migrations.js';
import { columnType, addIdColumn } from '../../store/schema.js';
import { KOMA_MS, type DispatchPlan } from './products.js';

export interface TsoTables {
  tso_dispatch: { vtn_id: string; event_id: string; data: string };
  tso_delivery: { id?: number; vtn_id: string; ven_id: string; t: number; delivered_w: number };
}

export const tsoMigrations: Migration[] = [{
  name: '0100_tso_delivery',
  async up(db, ctx) {
    await db.schema.createTable('tso_dispatch')
      .addColumn('vtn_id', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('data', columnType.json, (c) => c.notNull())
      .addPrimaryKeyConstraint('tso_dispatch_pk', ['vtn_id', 'event_id'])
      .execute();
    await db.schema.createTable('tso_delivery')
      .$call((t) => addIdColumn(t, 'id', ctx.dialect))
      .addColumn('vtn_id', 'text', (c) => c.notNull())
      .addColumn('ven_id', 'text', (c) => c.notNull())
      .addColumn('t', columnType.epochMillis, (c) => c.notNull())
      .addColumn('delivered_w', 'double precision', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('tso_delivery_ven_t').on('tso_delivery').columns(['vtn_id', 'ven_id', 't']).execute();
  },
}];

/** A dispatch as issued: the plan, the OpenADR event id and the aggregators it went to. */
export interface IssuedDispatch {
  eventId: string;
  plan: DispatchPlan;
  venIDs: string[];
  marketContext: string;
  issuedAt: number;
  state: 'issued' | 'cancelled';
  /** optIn/optOut per aggregator, with the reason given. */
  opts: Record<string, { optType: string; reason?: string | undefined }>;
}

export interface PeriodView {
  start: number;
  requestedW: number;
  /** Mean delivered power over the block (direction-positive), null before any sample. */
  deliveredW: number | null;
  samples: number;
}

export interface DispatchView {
  eventId: string;
  product: string;
  direction: DispatchDirection;
  venIDs: string[];
  state: string;
  opts: IssuedDispatch['opts'];
  periods: PeriodView[];
  requestedWh: number;
  deliveredWh: number;
}

interface Sample { t: number; w: number }

export class DeliveryLedger {
  private readonly samples = new Map<string, Sample[]>();
  private readonly dispatches = new Map<string, IssuedDispatch>();

  constructor(private readonly db: Kysely<TsoTables>, private readonly vtnId: string) {}

  /** Loads what an earlier run stored. */
  async load(): Promise<void> {
    const ds = await this.db.selectFrom('tso_dispatch').select(['data']).where('vtn_id', '=', this.vtnId).execute();
    for (const d of ds) {
      const v = JSON.parse(d.data) as IssuedDispatch;
      this.dispatches.set(v.eventId, v);
    }
    const rows = await this.db.selectFrom('tso_delivery').select(['ven_id', 't', 'delivered_w']).where('vtn_id', '=', this.vtnId).orderBy('t').execute();
    for (const r of rows) this.memo(r.ven_id, Number(r.t), Number(r.delivered_w));
  }

  private memo(venId: string, t: number, w: number): void {
    let list = this.samples.get(venId);
    if (!list) this.samples.set(venId, (list = []));
    // Reports can arrive out of order after an outage; keep the list sorted by time.
    if (list.length === 0 || list[list.length - 1]!.t <= t) list.push({ t, w });
    else list.splice(list.findIndex((s) => s.t > t), 0, { t, w });
  }

  async recordDispatch(d: IssuedDispatch): Promise<void> {
    this.dispatches.set(d.eventId, d);
    await this.persistDispatch(d);
  }

  private async persistDispatch(d: IssuedDispatch): Promise<void> {
    const data = JSON.stringify(d);
    await this.db.insertInto('tso_dispatch').values({ vtn_id: this.vtnId, event_id: d.eventId, data })
      .onConflict((oc) => oc.columns(['vtn_id', 'event_id']).doUpdateSet({ data })).execute();
  }

  async recordOpt(eventId: string, venId: string, optType: string, reason?: string): Promise<void> {
    const d = this.dispatches.get(eventId);
    if (!d) return;
    d.opts[venId] = { optType, reason };
    await this.persistDispatch(d);
  }

  async markCancelled(eventId: string): Promise<void> {
    const d = this.dispatches.get(eventId);
    if (!d) return;
    d.state = 'cancelled';
    await this.persistDispatch(d);
  }

  /** One delivered sample (W, signed like the dispatch delta) from an aggregator's report. */
  async recordDelivered(venId: string, t: number, deliveredW: number): Promise<void> {
    if (!Number.isFinite(t) || !Number.isFinite(deliveredW)) return;
    this.memo(venId, t, deliveredW);
    await this.db.insertInto('tso_delivery').values({ vtn_id: this.vtnId, ven_id: venId, t, delivered_w: deliveredW }).execute();
  }

  dispatch(eventId: string): IssuedDispatch | undefined {
    return this.dispatches.get(eventId);
  }

  list(): IssuedDispatch[] {
    return [...this.dispatches.values()].sort((a, b) => a.issuedAt - b.issuedAt);
  }

  /** Latest delivered power (direction-positive) summed over the dispatch's aggregators at or before `t`. */
  deliveredAt(eventId: string, t: number): number | null {
    const d = this.dispatches.get(eventId);
    if (!d) return null;
    const sign = directionSign(d.plan.direction);
    let sum = 0;
    let any = false;
    for (const ven of d.venIDs) {
      const list = this.samples.get(ven);
      if (!list) continue;
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i]!.t <= t) { sum += sign * list[i]!.w; any = true; break; }
      }
    }
    return any ? sum : null;
  }

  /** Requested vs delivered per 30-minute block; delivered = mean of the block's samples, summed over aggregators. */
  view(eventId: string): DispatchView | undefined {
    const d = this.dispatches.get(eventId);
    if (!d) return undefined;
    const sign = directionSign(d.plan.direction);
    const periods: PeriodView[] = d.plan.periods.map((p) => {
      let delivered: number | null = null;
      let count = 0;
      for (const ven of d.venIDs) {
        const inBlock = (this.samples.get(ven) ?? []).filter((s) => s.t >= p.start && s.t < p.start + KOMA_MS);
        if (inBlock.length === 0) continue;
        count += inBlock.length;
        delivered = (delivered ?? 0) + sign * (inBlock.reduce((a, s) => a + s.w, 0) / inBlock.length);
      }
      return { start: p.start, requestedW: p.quantityW, deliveredW: delivered, samples: count };
    });
    const hours = KOMA_MS / 3_600_000;
    return {
      eventId,
      product: d.plan.product.id,
      direction: d.plan.direction,
      venIDs: d.venIDs,
      state: d.state,
      opts: d.opts,
      periods,
      requestedWh: periods.reduce((a, p) => a + p.requestedW * hours, 0),
      deliveredWh: periods.reduce((a, p) => a + (p.deliveredW ?? 0) * hours, 0),
    };
  }
}
