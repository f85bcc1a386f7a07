/**
 * An ECHONET Lite node: hosts device object instances on UDP 3610 of one address, serves
 * Get / SetI / SetC / SetGet / INF_REQ / INFC (Part 2 §3.2.5), announces property changes (INF)
 * and its instance list at start-up (Part 2 §4.3.1, node profile 0xD5).
 *
 * Defensive by construction: every datagram goes through `safeDecodeFrame`; anything malformed,
 * over the per-source rate, or addressed to an object this node does not host is dropped in
 * silence (the standard defines no response for those) and counted as a security event;
 * bad properties get the protocol's own refusal (_SNA). Nothing a peer sends can throw out of
 * the receive path.
 */
import type { Clock } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import type { AuditSink } from '../../core/audit-port.js';
import { NODE_PROFILE_EOJ, type Eoj } from './eoj.js';
import { Esv } from './esv.js';
import { encodeFrame, safeDecodeFrame, type Frame, type Property } from './frame.js';
import type { EchonetObject } from './object.js';
import { NodeProfile } from './objects/node-profile.js';
import { ObjectHost, type NodeIdentity } from './object-host.js';
import { KeyedRateLimiter } from './rate-limit.js';
import { SecurityEventReporter, type RefusalKind } from './security-events.js';
import { ECHONET_PORT, UdpEndpoint, usableSource, type MulticastOptions } from './transport.js';
export { usableSource } from './transport.js';

export type { NodeIdentity } from './object-host.js';
export { uniqueIdFrom } from './object-host.js';

export interface Peer {
  address: string;
  port?: number;
}

export interface EchonetNodeOptions {
  /** Unicast address to bind, e.g. "127.0.0.2". */
  address: string;
  /** Port to bind (default 3610; 0 = ephemeral). */
  port?: number;
  /**
   * Where responses go: 3610 (default; what the standard's nodes listen on, and what stacks
   * that send from a throw-away port expect) or 'source' (the request's source port).
   */
  replyPort?: number | 'source';
  objects: EchonetObject[];
  identity: NodeIdentity;
  /** Unicast targets for announcements (INF), for tests and networks without multicast. */
  peers?: Peer[];
  /** Join and announce to the multicast group. */
  multicast?: MulticastOptions | false;
  /** SO_REUSEADDR on the unicast socket (to share a host with a stack bound to 0.0.0.0:3610). */
  reuseAddr?: boolean;
  clock?: Clock;
  /** Audit sink for security events (refusals are counted either way). */
  audit?: AuditSink;
  /** Requests accepted per source address per second (default 200, burst 400). */
  perSourceRate?: number;
  maxFrameBytes?: number;
}

export interface NodeStats {
  received: number;
  responses: number;
  announcements: number;
  dropped: number;
  sendFailures: number;
}


/**
 * A running node. Create with `EchonetNode.start(options)`; stop with `close()`.
 *
 * @example
 * const node = await EchonetNode.start({ address: '127.0.0.2', objects: [battery], identity: { makerCode: 0xFFFFFE } });
 * ...
 * await node.close();
 */
export class EchonetNode {
  readonly stats: NodeStats = { received: 0, responses: 0, announcements: 0, dropped: 0, sendFailures: 0 };
  readonly security: SecurityEventReporter;
  readonly profile: EchonetObject<typeof NodeProfile.props>;
  private readonly host: ObjectHost;
  private endpoint!: UdpEndpoint;
  private readonly limiter: KeyedRateLimiter;
  private tid = 0;
  private closed = false;

  private constructor(private readonly options: EchonetNodeOptions) {
    const clock = options.clock ?? systemClock;
    this.security = new SecurityEventReporter({ sink: options.audit, clock, component: `echonet-node ${options.address}` });
    this.limiter = new KeyedRateLimiter(clock, { perSecond: options.perSourceRate ?? 200, burst: (options.perSourceRate ?? 200) * 2 });
    this.host = new ObjectHost(options.objects, options.identity, options.address);
    this.profile = this.host.profile;
    for (const o of options.objects) o.onAnnounce((epc, edt) => void this.announce(o.eoj, [{ epc, edt }]));
  }

  /** Binds, then announces the instance list (0xD5) to the multicast group and the peers. */
  static async start(options: EchonetNodeOptions): Promise<EchonetNode> {
    const node = new EchonetNode(options);
    node.endpoint = await UdpEndpoint.open(
      { address: options.address, port: options.port, multicast: options.multicast, reuseAddr: options.reuseAddr },
      (msg, from) => node.receive(msg, from),
      () => { node.stats.sendFailures++; },
    );
    await node.announce(NODE_PROFILE_EOJ, [{ epc: 0xd5, edt: node.profile.readForNotification(0xd5)! }]);
    return node;
  }

  get address(): string {
    return this.endpoint.address;
  }
  get port(): number {
    return this.endpoint.port;
  }

  /** The hosted objects (node profile excluded). */
  hosted(): EchonetObject[] {
    return this.host.hosted();
  }

  /** Sends INF with the given properties of `from` to the multicast group (if joined) and every peer. */
  async announce(from: Eoj, properties: Property[]): Promise<void> {
    if (this.closed || !this.endpoint) return;
    const frame = encodeFrame({ tid: this.nextTid(), seoj: from, deoj: NODE_PROFILE_EOJ, esv: Esv.INF, properties });
    const targets: Peer[] = [...(this.options.peers ?? [])];
    if (this.endpoint.multicastGroup) targets.push({ address: this.endpoint.multicastGroup, port: this.endpoint.port || ECHONET_PORT });
    for (const t of targets) {
      this.stats.announcements++;
      if (!(await this.endpoint.send(frame, t.port ?? ECHONET_PORT, t.address))) this.stats.sendFailures++;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.endpoint?.close();
  }

  private nextTid(): number {
    this.tid = (this.tid + 1) & 0xffff;
    return this.tid;
  }

  private refuse(kind: RefusalKind, from: { address: string; port: number }, reason: string, details?: Record<string, unknown>): void {
    this.security.report(kind, `${from.address}:${from.port}`, reason, details);
  }

  /** The receive path: never throws. */
  private receive(msg: Buffer, from: { address: string; port: number }): void {
    if (this.closed) return;
    this.stats.received++;
    try {
      if (!this.limiter.take(from.address)) {
        this.stats.dropped++;
        this.refuse('rate_limited', from, 'source over its request rate; datagram dropped');
        return;
      }
      if (!usableSource(from.address)) {
        // A reply to 0.0.0.0, a multicast or broadcast source would go nowhere or to everyone.
        this.stats.dropped++;
        this.refuse('malformed_frame', from, `source address ${from.address} cannot be answered`);
        return;
      }
      const decoded = safeDecodeFrame(msg, { maxBytes: this.options.maxFrameBytes });
      if (!decoded.ok) {
        // Part 2 Appendix 2 (error handling on reception): an invalid frame is discarded, no reply.
        this.stats.dropped++;
        this.refuse('malformed_frame', from, decoded.error.message, { offset: decoded.error.offset, length: msg.length });
        return;
      }
      this.serve(decoded.frame, from);
    } catch (err) {
      this.stats.dropped++;
      this.refuse('handler_error', from, `internal error while serving: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private serve(f: Frame, from: { address: string; port: number }): void {
    const r = this.host.serve(f, (kind, reason, details) => this.refuse(kind, from, reason, details));
    if (r.silent) this.stats.dropped++;
    for (const reply of r.responses) void this.send(reply, from);
  }

  private async send(frame: Frame, to: { address: string; port: number }): Promise<void> {
    const port = this.options.replyPort === 'source' ? to.port : (this.options.replyPort ?? ECHONET_PORT);
    let bytes: Buffer;
    try {
      bytes = encodeFrame(frame);
    } catch (err) {
      this.refuse('handler_error', to, `response not encodable: ${(err as Error).message}`);
      return;
    }
    this.stats.responses++;
    if (!(await this.endpoint.send(bytes, port, to.address))) this.stats.sendFailures++;
  }
}
