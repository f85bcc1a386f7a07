/**
 * The OpenADR-side notice: a notice for a site's gateway waits on a board in the aggregator's
 * store, and the gateway fetches it over the R4 listener it already polls — two extra POST routes
 * on the same mutual-TLS listener (like the audit witness's), so the OpenADR 2.0b services and
 * payloads stay exactly as the standard has them. The gateway stores what it fetched, shows it
 * to the site's EMS, records it in its audit log and acknowledges it; the acknowledgement marks
 * the delivery delivered (and audits it) here.
 *
 *   POST /erab/notices/fetch   (empty body)          → 200 {"notices":[GatewayNoticeWire...]}
 *   POST /erab/notices/ack     {"ids":[1,2,...]}     → 200 {"acknowledged":n}
 *
 * The gateway is known by its certificate (role gateway, id = its venID); anyone else gets 403.
 */
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { AuditSink } from '../../core/audit-port.js';
import { nullAudit } from '../../core/audit-port.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { describeError } from '../../core/errors.js';
import type { ExtraRoute, OadrPeer } from '../../protocols/openadr/http.js';
import type { Store } from '../../store/store.js';
import { isUniqueViolation, toNumber } from '../../store/schema.js';
import type { NoticeChannel, NoticeMessage, SendOutcome } from './channels/channel.js';
import type { NotifyTables } from './tables.js';
import type { Contact } from './types.js';

// The gateway's side defines the paths (roles/ may not import secops/; the other way is fine).
import { NOTICE_ACK_PATH, NOTICE_FETCH_PATH } from '../../roles/gateway/notices.js';
export { NOTICE_ACK_PATH, NOTICE_FETCH_PATH };

/** A notice as the gateway receives it. */
export interface GatewayNoticeWire {
  /** Board id: what the gateway acknowledges. */
  id: number;
  noticeId: string;
  template: string;
  /** ISO 8601 UTC: the notice's one timestamp. */
  issuedAt: string;
  language: string;
  subject: string;
  text: string;
  content: Record<string, unknown>;
}

const ackSchema = z.object({ ids: z.array(z.number().int().positive()).min(1).max(1000) }).strict();
const MAX_FETCH = 50;
const MAX_ACK_BYTES = 64 * 1024;

/**
 * @example
 * const board = new GatewayNoticeBoard(store, { audit });
 * const notifier = new Notifier(store, { channels: [smtp, webhook, new GatewayChannel(board)], audit });
 * startAggregator(cfg, { routes: gatewayNoticeRoutes(board) }); // on the R4 listener
 */
export class GatewayNoticeBoard {
  private readonly db: Kysely<NotifyTables>;
  private readonly audit: AuditSink;
  private readonly clock: Clock;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(store: Store<any>, options: { audit?: AuditSink; clock?: Clock } = {}) {
    this.db = store.db as Kysely<NotifyTables>;
    this.audit = options.audit ?? nullAudit;
    this.clock = options.clock ?? systemClock;
  }

  /** Puts a delivery on the board (once: a retry of the same delivery finds it there); true when the gateway has acknowledged it. */
  async post(venId: string, m: NoticeMessage): Promise<boolean> {
    const existing = await this.db.selectFrom('notify_gateway_notice').select(['acked_at']).where('delivery_id', '=', m.delivery).executeTakeFirst();
    if (existing) return existing.acked_at !== null;
    try {
      await this.db
        .insertInto('notify_gateway_notice')
        .values({
          delivery_id: m.delivery, ven_id: venId, notice_id: m.notice.id, template: m.notice.template, issued_at: m.notice.issuedAt,
          language: m.rendered.language, subject: m.rendered.subject, text: m.rendered.text, content: JSON.stringify(m.notice.data),
          queued_at: this.clock.now(), acked_at: null,
        })
        .execute();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err; // a concurrent retry put it there first
    }
    return false;
  }

  /** Unacknowledged notices of a gateway, oldest first. */
  async pending(venId: string, limit = MAX_FETCH): Promise<GatewayNoticeWire[]> {
    const rows = await this.db
      .selectFrom('notify_gateway_notice')
      .selectAll()
      .where('ven_id', '=', venId)
      .where('acked_at', 'is', null)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: toNumber(r.id, 'notify_gateway_notice id'), noticeId: r.notice_id, template: r.template,
      issuedAt: new Date(toNumber(r.issued_at)).toISOString(), language: r.language, subject: r.subject, text: r.text,
      content: JSON.parse(r.content) as Record<string, unknown>,
    }));
  }

  /** The gateway has these notices: their deliveries are delivered. Ids of another gateway are ignored. */
  async ack(venId: string, ids: readonly number[]): Promise<number> {
    const now = this.clock.now();
    const rows = await this.db.transaction().execute(async (trx) => {
      const mine = await trx
        .selectFrom('notify_gateway_notice')
        .select(['id', 'delivery_id', 'notice_id', 'issued_at'])
        .where('ven_id', '=', venId)
        .where('id', 'in', ids)
        .where('acked_at', 'is', null)
        .execute();
      if (mine.length === 0) return mine;
      await trx.updateTable('notify_gateway_notice').set({ acked_at: now }).where('id', 'in', mine.map((r) => r.id)).execute();
      await trx
        .updateTable('notify_delivery')
        .set({ status: 'delivered', delivered_at: now, next_attempt_at: null, last_error: null })
        .where('id', 'in', mine.map((r) => r.delivery_id))
        .where('status', '=', 'pending')
        .execute();
      return mine;
    });
    for (const r of rows) {
      this.audit.append({
        actor: { kind: 'peer', id: venId, role: 'gateway' }, action: 'notify.deliver', target: `gateway:${venId}`, outcome: 'success',
        details: { noticeId: r.notice_id, delivery: toNumber(r.delivery_id), channel: 'gateway', address: venId, state: 'acknowledged', issuedAt: new Date(toNumber(r.issued_at)).toISOString() },
      });
    }
    return rows.length;
  }
}

/** The channel that puts notices on the board for the contact's gateway. */
export class GatewayChannel implements NoticeChannel {
  readonly kind = 'gateway' as const;
  constructor(private readonly board: GatewayNoticeBoard) {}

  address(contact: Contact): string | undefined {
    return contact.channels.gatewayVenId;
  }

  async send(m: NoticeMessage): Promise<SendOutcome> {
    const venId = m.contact.channels.gatewayVenId;
    if (!venId) throw new Error(`contact ${m.contact.id} has no gateway`);
    return (await this.board.post(venId, m)) ? undefined : 'awaiting';
  }
}

const json = (status: number, body: unknown) => ({ status, contentType: 'application/json', body: JSON.stringify(body) });

/** The gateway a request comes from, by its certificate; undefined for any other peer. */
function gatewayOf(peer: OadrPeer): string | undefined {
  return peer.role === 'gateway' && peer.id ? peer.id : undefined;
}

/** The board's two routes for the R4 listener (see the file header). */
export function gatewayNoticeRoutes(board: GatewayNoticeBoard, audit: AuditSink = nullAudit): ReadonlyMap<string, ExtraRoute> {
  const refuse = (peer: OadrPeer, path: string, reason: string) => {
    audit.append({ actor: { kind: 'peer', id: peer.id ?? peer.fingerprint, ...(peer.role ? { role: peer.role } : {}), fingerprint: peer.fingerprint }, action: 'notify.gateway.refused', target: path, outcome: 'refused', reason });
  };
  return new Map<string, ExtraRoute>([
    [NOTICE_FETCH_PATH, async (_body, peer) => {
      const venId = gatewayOf(peer);
      if (!venId) {
        refuse(peer, NOTICE_FETCH_PATH, 'only a gateway certificate may fetch notices');
        return json(403, { error: 'only a gateway certificate may fetch notices' });
      }
      return json(200, { notices: await board.pending(venId) });
    }],
    [NOTICE_ACK_PATH, async (body, peer) => {
      const venId = gatewayOf(peer);
      if (!venId) {
        refuse(peer, NOTICE_ACK_PATH, 'only a gateway certificate may acknowledge notices');
        return json(403, { error: 'only a gateway certificate may acknowledge notices' });
      }
      if (body.length > MAX_ACK_BYTES) return json(413, { error: `notice ack body is larger than ${MAX_ACK_BYTES} bytes` });
      let parsed: z.infer<typeof ackSchema>;
      try {
        parsed = ackSchema.parse(JSON.parse(body.toString('utf8')));
      } catch (err) {
        const why = err instanceof z.ZodError ? `${err.issues[0]?.path.join('.') || '(root)'}: ${err.issues[0]?.message}` : describeError(err);
        refuse(peer, NOTICE_ACK_PATH, `malformed notice ack: ${why}`);
        return json(400, { error: `notice ack must be {"ids":[1..1000 positive integers]}: ${why}` });
      }
      return json(200, { acknowledged: await board.ack(venId, parsed.ids) });
    }],
  ]);
}
