/**
 * Notices for the site (ERAB guideline §3.2: users are told of vulnerability countermeasures):
 * the gateway fetches them from its aggregator over the R4 connection it already has (the
 * aggregator's `/erab/notices/*` routes, src/secops/notify/gateway-board.ts), keeps them in its
 * own database so the site's EMS can show them, records each in its audit log, and only then
 * acknowledges them — a notice the gateway did not store is fetched again.
 */
import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import type { AuditSink } from '../../core/audit-port.js';
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { describeError } from '../../core/errors.js';
import type { EpochMillis } from '../../core/units.js';
import type { Migration } from '../../store/migrations.js';
import { columnType, toEpochMillis } from '../../store/schema.js';
import type { Store } from '../../store/store.js';
import type { WitnessPost } from '../../security/audit/witness-client.js';

/** The aggregator's notice routes (served by src/secops/notify/gateway-board.ts, which takes them from here). */
export const NOTICE_FETCH_PATH = '/erab/notices/fetch';
export const NOTICE_ACK_PATH = '/erab/notices/ack';

export const gatewayNoticeMigrations: readonly Migration[] = [
  {
    name: '0003_gateway_notice',
    async up(db) {
      await db.schema
        .createTable('gateway_notice')
        .addColumn('board_id', 'bigint', (c) => c.primaryKey()) // the aggregator's id: a re-fetch is the same row
        .addColumn('notice_id', 'text', (c) => c.notNull())
        .addColumn('template', 'text', (c) => c.notNull())
        .addColumn('issued_at', columnType.epochMillis, (c) => c.notNull())
        .addColumn('language', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('text', 'text', (c) => c.notNull())
        .addColumn('content', columnType.json, (c) => c.notNull())
        .addColumn('received_at', columnType.epochMillis, (c) => c.notNull())
        .execute();
    },
    async down(db) {
      await db.schema.dropTable('gateway_notice').execute();
    },
  },
];

interface Tables {
  gateway_notice: {
    board_id: number; notice_id: string; template: string; issued_at: number; language: string;
    subject: string; text: string; content: string; received_at: number;
  };
}

/** A notice as the site's EMS shows it. */
export interface SiteNotice {
  readonly noticeId: string;
  readonly template: string;
  readonly issuedAt: EpochMillis;
  readonly language: string;
  readonly subject: string;
  readonly text: string;
  readonly content: Record<string, unknown>;
  readonly receivedAt: EpochMillis;
}

// What the aggregator sends is peer input: bounded and checked before anything is stored.
const wireNotice = z.object({
  id: z.number().int().positive(),
  noticeId: z.string().min(1).max(100),
  template: z.string().min(1).max(100),
  issuedAt: z.iso.datetime(),
  language: z.string().min(2).max(8),
  subject: z.string().min(1).max(1000),
  text: z.string().min(1).max(200_000),
  content: z.record(z.string(), z.unknown()),
});
const fetchReply = z.object({ notices: z.array(wireNotice).max(100) });

/** Replies larger than this are refused (a notice lists at most some thousand sites). */
export const MAX_NOTICE_REPLY_BYTES = 1024 * 1024;

export interface NoticeInboxOptions {
  gatewayId: string;
  /** POST to the aggregator's listener (httpsWitnessPost with the VEN's TLS options). */
  post: WitnessPost;
  audit: AuditSink;
  clock?: Clock;
  /** How often to look for notices, ms. */
  intervalMs: number;
  onLog?: (msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * @example
 * const inbox = new NoticeInbox(store, { gatewayId: 'GW1', post, audit, intervalMs: 60_000 });
 * inbox.start();
 * const shown = await inbox.list(); // for the EMS
 */
export class NoticeInbox {
  private readonly db: Kysely<Tables>;
  private readonly clock: Clock;
  private timer: TimerHandle | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;
  private failing = false;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(store: Store<any>, private readonly o: NoticeInboxOptions) {
    this.db = store.db as Kysely<Tables>;
    this.clock = o.clock ?? systemClock;
  }

  /** Fetches, stores, audits and acknowledges what the aggregator has; resolves to how many were new. */
  async fetchOnce(): Promise<number> {
    const r = await this.o.post(NOTICE_FETCH_PATH, '');
    if (r.status === 404) return 0; // an aggregator without notification: nothing to fetch
    if (r.status !== 200) throw new Error(`notice fetch answered HTTP ${r.status}: ${r.body.slice(0, 200)}`);
    let reply: z.infer<typeof fetchReply>;
    try {
      reply = fetchReply.parse(JSON.parse(r.body));
    } catch (err) {
      const why = err instanceof z.ZodError ? `${err.issues[0]?.path.join('.') || '(root)'}: ${err.issues[0]?.message}` : describeError(err);
      throw new Error(`notice fetch: the aggregator's reply is malformed: ${why}`);
    }
    if (reply.notices.length === 0) return 0;
    const now = this.clock.now();
    let fresh = 0;
    for (const n of reply.notices) {
      const issuedAt = Date.parse(n.issuedAt);
      const res = await this.db
        .insertInto('gateway_notice')
        .values({ board_id: n.id, notice_id: n.noticeId, template: n.template, issued_at: issuedAt, language: n.language, subject: n.subject, text: n.text, content: JSON.stringify(n.content), received_at: now })
        .onConflict((oc) => oc.column('board_id').doNothing())
        .executeTakeFirst();
      if (Number(res.numInsertedOrUpdatedRows ?? 0n) === 0) continue; // stored before, its ack was lost
      fresh++;
      this.o.audit.append({
        actor: { kind: 'system', id: this.o.gatewayId }, action: 'gateway.notice.received', target: n.noticeId, outcome: 'success',
        details: { issuedAt: n.issuedAt, template: n.template, language: n.language, subject: n.subject },
      });
    }
    const ack = await this.o.post(NOTICE_ACK_PATH, JSON.stringify({ ids: reply.notices.map((n) => n.id) }));
    if (ack.status !== 200) throw new Error(`notice ack answered HTTP ${ack.status}: ${ack.body.slice(0, 200)}`);
    return fresh;
  }

  /** Notices for the EMS, newest first. */
  async list(limit = 100): Promise<SiteNotice[]> {
    const rows = await this.db.selectFrom('gateway_notice').selectAll().orderBy('issued_at', 'desc').orderBy('board_id', 'desc').limit(limit).execute();
    return rows.map(toSiteNotice);
  }

  /** Looks for notices every `intervalMs` until `stop`. */
  start(): void {
    if (!this.stopped || this.o.intervalMs <= 0) return;
    this.stopped = false;
    const tick = (): void => {
      if (this.stopped) return;
      this.running = this.fetchOnce()
        .then(() => { this.failing = false; })
        .catch((err: unknown) => {
          // One audit record per outage, not one per attempt.
          if (!this.failing) this.o.audit.append({ actor: { kind: 'system', id: this.o.gatewayId }, action: 'gateway.notice.fetch', outcome: 'failure', reason: describeError(err).slice(0, 300) });
          this.failing = true;
          this.o.onLog?.('notice fetch failed', { error: describeError(err) });
        })
        .finally(() => {
          if (!this.stopped) this.timer = this.clock.setTimeout(tick, this.o.intervalMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }
}

function toSiteNotice(r: Selectable<Tables['gateway_notice']>): SiteNotice {
  const what = `gateway_notice ${r.board_id}`;
  return {
    noticeId: r.notice_id, template: r.template, issuedAt: toEpochMillis(r.issued_at, what), language: r.language,
    subject: r.subject, text: r.text, content: JSON.parse(r.content) as Record<string, unknown>, receivedAt: toEpochMillis(r.received_at, what),
  };
}
