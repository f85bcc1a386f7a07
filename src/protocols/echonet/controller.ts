/**
 * The ECHONET Lite controller side (what a HEMS / gateway runs): discovery, identification,
 * Get / SetC / SetI / SetGet with TID matching, INF subscription, per-node rate limiting.
 *
 * Rules applied (ECHONET Lite Specification Ver.1.14 Part 2 §3.2.5 services, Chapter 4 basic sequences):
 *  - discovery: Get of node profile 0xD6 to the multicast group 224.0.23.0 and/or a list of
 *    addresses; any INF from an unknown node (typically 0xD5 at its start-up) is passive discovery;
 *  - a response is matched on TID and the sender's address, never on its source port (stacks
 *    commonly answer from a different port than 3610);
 *  - one outstanding request per node; a request waits `timeoutMs` (≤ 20 s), then is resent with
 *    the same TID up to `retries` times; timers come from the injected Clock, but the wait and the
 *    pacing are real time on a sped-up clock (`realMs`): a device answers no faster at ×60;
 *  - properties the class tables do not know (including maker-specific 0xF0–0xFF) are carried as
 *    raw bytes, never interpreted;
 *  - a node whose identity (0x83, 0x8A, 0x8C, 0x8D) changes at the same address is reported.
 */
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { realMs, systemClock } from '../../core/clock.js';
import { InvalidInputError } from '../../core/errors.js';
import type { AuditSink } from '../../core/audit-port.js';
import { appendixRelease, ascii, identificationNumber, instanceList, liteVersion, propertyMap, unsigned } from './datatypes.js';
import { eoj, eojClass, eojInstance, formatEoj, NODE_PROFILE_EOJ, ClassCode, type Eoj } from './eoj.js';
import { EchonetTimeoutError, hex8, hexBytes } from './errors.js';
import { Esv, esvName, isRequest, responseCodesFor, type EsvCode } from './esv.js';
import { emptyProperty, encodeFrame, safeDecodeFrame, type Frame, type Property } from './frame.js';
import { classDefinition, HemsController } from './objects/index.js';
import { EchonetObject } from './object.js';
import { ObjectHost, type NodeIdentity } from './object-host.js';
import { KeyedRateLimiter } from './rate-limit.js';
import { SecurityEventReporter } from './security-events.js';
import { ECHONET_MULTICAST_GROUP, ECHONET_PORT, UdpEndpoint, usableSource, type MulticastOptions } from './transport.js';

/** The standard's upper bound for waiting on a response (Part 2 Chapter 4 basic sequences: 20 s). */
export const MAX_RESPONSE_TIMEOUT_MS = 20_000;

export interface ControllerOptions {
  /** Unicast address to bind (e.g. "127.0.0.1"). */
  address: string;
  /** Port to bind (default 3610; 0 = ephemeral, only with nodes that reply to the source port). */
  port?: number;
  /** Port the nodes listen on (default 3610). */
  nodePort?: number;
  /** Our object (default 0x05FF01, controller class). */
  eoj?: Eoj;
  /**
   * Identity of the controller's own node: like every ECHONET Lite node it has a node profile
   * (0x0EF001) and answers Get / INF_REQ about itself (default maker 0xFFFFFE, "ERAB-HEMS").
   */
  identity?: NodeIdentity;
  /** Where answers to requests *to* the controller go: 3610 (default) or the source port. */
  replyPort?: number | 'source';
  multicast?: MulticastOptions | false;
  reuseAddr?: boolean;
  clock?: Clock;
  audit?: AuditSink;
  /** Wait per attempt, real time (default 5,000 ms, at most 20,000). */
  timeoutMs?: number;
  /** Resends after a timeout (default 2). */
  retries?: number;
  /** Requests per real second to one node at most (default 20). */
  perNodeRate?: number;
  /** Identify a node found passively through an INF (default true). */
  autoIdentify?: boolean;
  maxFrameBytes?: number;
}

/** One property in a result: `ok` false when the node refused it (_SNA). */
export interface PropertyResult {
  epc: number;
  edt: Uint8Array;
  ok: boolean;
}

export interface Response {
  esv: EsvCode;
  from: { address: string; port: number };
  seoj: Eoj;
  properties: PropertyResult[];
  getProperties?: PropertyResult[];
  /** True when the node answered with an _SNA service. */
  refused: boolean;
}

export interface NodeIdentityInfo {
  makerCode?: number;
  productCode?: string;
  productionNumber?: string;
  /** Identification number 0x83 as hex. */
  identificationNumber?: string;
}

export interface PropertyMaps {
  anno: number[];
  set: number[];
  get: number[];
}

/** What the controller knows about one node. */
export interface RemoteNode {
  address: string;
  instances: Eoj[];
  identity: NodeIdentityInfo;
  /** ECHONET Lite version of the node profile (0x82), e.g. "1.14". */
  version?: string;
  /** Property maps per instance (read during identification). */
  maps: Map<Eoj, PropertyMaps>;
  /** Appendix release per instance (0x82), e.g. "R". */
  releases: Map<Eoj, string>;
  lastSeen: number;
}

export interface InfEvent {
  address: string;
  port: number;
  seoj: Eoj;
  esv: typeof Esv.INF | typeof Esv.INFC;
  properties: Property[];
}

export interface ControllerEvents {
  inf: [InfEvent];
  /** A node identified for the first time. */
  node: [RemoteNode];
  /** A known node's instance list changed. */
  instancesChanged: [RemoteNode, Eoj[]];
  /** The identity at an address changed (device swapped or spoofed). */
  identityChanged: [{ address: string; before: NodeIdentityInfo; after: NodeIdentityInfo }];
}

interface Pending {
  address: string;
  tid: number;
  deoj: Eoj;
  expect: Set<number>;
  resolve: (r: Response) => void;
  reject?: (err: Error) => void;
  /** Multicast discovery collects every answer instead of resolving once. */
  collect?: (r: Response) => void;
}

/**
 * An ECHONET Lite controller bound to one address.
 *
 * @example
 * const c = await EchonetController.start({ address: '127.0.0.1' });
 * const [n] = await c.discover({ addresses: ['127.0.0.2'] });
 * const soc = await c.getProperties(n.address, eoj(0x027d, 1), [0xE4]);
 * await c.setProperties(n.address, eoj(0x027d, 1), [{ epc: 0xDA, edt: Uint8Array.of(0x42) }]);
 */
export class EchonetController extends EventEmitter<ControllerEvents> {
  readonly security: SecurityEventReporter;
  private endpoint!: UdpEndpoint;
  private readonly clock: Clock;
  private readonly self: Eoj;
  private readonly nodePort: number;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly minIntervalMs: number;
  private readonly pending = new Map<number, Pending>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly lastSent = new Map<string, number>();
  private readonly known = new Map<string, RemoteNode>();
  private readonly identifying = new Set<string>();
  private readonly host: ObjectHost;
  private readonly sourceLimiter: KeyedRateLimiter;
  private tid = 0;
  private closed = false;

  private constructor(private readonly options: ControllerOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    this.self = options.eoj ?? eoj(ClassCode.controller, 1);
    this.nodePort = options.nodePort ?? ECHONET_PORT;
    const t = options.timeoutMs ?? 5000;
    if (t <= 0 || t > MAX_RESPONSE_TIMEOUT_MS) throw new InvalidInputError(`timeoutMs ${t} is outside 1–${MAX_RESPONSE_TIMEOUT_MS} (the standard's 20 s)`);
    this.timeoutMs = t;
    this.retries = options.retries ?? 2;
    this.minIntervalMs = 1000 / (options.perNodeRate ?? 20);
    this.security = new SecurityEventReporter({ sink: options.audit, clock: this.clock, component: `echonet-controller ${options.address}` });
    this.sourceLimiter = new KeyedRateLimiter(this.clock, { perSecond: 500, burst: 1000 });
    const identity = options.identity ?? { makerCode: 0xfffffe, productCode: 'ERAB-HEMS' };
    const self = new EchonetObject(HemsController, {
      instance: eojInstance(this.self) || 1,
      values: {
        operationStatus: 'on', installationLocation: Uint8Array.of(0x00), standardVersion: { release: 'R', revision: 0 },
        faultStatus: 'noFault', makerCode: identity.makerCode,
        ...(identity.productCode !== undefined ? { productCode: identity.productCode } : {}),
        ...(identity.productionNumber !== undefined ? { productionNumber: identity.productionNumber } : {}),
      },
    });
    this.host = new ObjectHost(eojClass(this.self) === ClassCode.controller ? [self] : [], identity, options.address);
  }

  static async start(options: ControllerOptions): Promise<EchonetController> {
    const c = new EchonetController(options);
    c.endpoint = await UdpEndpoint.open(
      { address: options.address, port: options.port, multicast: options.multicast, reuseAddr: options.reuseAddr },
      (msg, from) => c.receive(msg, from),
      () => undefined,
    );
    return c;
  }

  get address(): string {
    return this.endpoint.address;
  }
  get port(): number {
    return this.endpoint.port;
  }

  /** Nodes identified so far. */
  nodes(): RemoteNode[] {
    return [...this.known.values()];
  }

  node(address: string): RemoteNode | undefined {
    return this.known.get(address);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Outstanding requests fail now rather than wait for timers that may never fire.
    for (const p of this.pending.values()) p.reject?.(new InvalidInputError(`controller closed before a response from ${p.address}`));
    this.pending.clear();
    await this.endpoint?.close();
  }

  /**
   * Finds nodes: Get 0xD6 to the multicast group (if `multicast` and the controller joined one)
   * and to every listed address; then identifies each responder. Resolves with the nodes found.
   */
  async discover(opts: { addresses?: string[]; multicast?: boolean; waitMs?: number } = {}): Promise<RemoteNode[]> {
    const found = new Set<string>();
    const tasks: Promise<unknown>[] = [];
    if (opts.multicast && this.endpoint.multicastGroup) {
      tasks.push(this.multicastGet(opts.waitMs ?? 2000).then((addrs) => addrs.forEach((a) => found.add(a))));
    }
    for (const address of opts.addresses ?? []) {
      tasks.push(this.getProperties(address, NODE_PROFILE_EOJ, [0xd6]).then(() => found.add(address), () => undefined));
    }
    await Promise.all(tasks);
    const nodes = await Promise.all([...found].map((a) => this.identify(a).catch(() => undefined)));
    return nodes.filter((n): n is RemoteNode => n !== undefined);
  }

  private multicastGet(waitMs: number): Promise<string[]> {
    return new Promise((resolve) => {
      const tid = this.nextTid();
      const seen = new Set<string>();
      this.pending.set(tid, {
        address: '*', tid, deoj: NODE_PROFILE_EOJ, expect: new Set([Esv.Get_Res, Esv.Get_SNA]),
        resolve: () => undefined,
        collect: (r) => seen.add(r.from.address),
      });
      const frame = encodeFrame({ tid, seoj: this.self, deoj: NODE_PROFILE_EOJ, esv: Esv.Get, properties: [emptyProperty(0xd6)] });
      void this.endpoint.send(frame, this.nodePort, this.endpoint.multicastGroup ?? ECHONET_MULTICAST_GROUP);
      this.clock.setTimeout(() => {
        this.pending.delete(tid);
        resolve([...seen]);
      }, waitMs);
    });
  }

  /**
   * Reads the node profile (instance list, identification, maker, product, serial, version)
   * and every instance's property maps and Appendix release. Emits `node` the first time,
   * `identityChanged` when the identity at this address differs from before.
   */
  async identify(address: string): Promise<RemoteNode> {
    const node = await readNode(address, (deoj, epcs) => this.getProperties(address, deoj, epcs), this.clock.now());
    const before = this.known.get(address);
    this.known.set(address, node);
    if (!before) this.emit('node', node);
    else {
      if (identityDiffers(before.identity, node.identity)) this.emit('identityChanged', { address, before: before.identity, after: node.identity });
      if (before.instances.join() !== node.instances.join()) this.emit('instancesChanged', node, node.instances);
    }
    return node;
  }

  /** Get (0x62). Each result carries `ok` false and empty EDT where the node refused (Get_SNA). */
  async getProperties(address: string, deoj: Eoj, epcs: number[]): Promise<PropertyResult[]> {
    const r = await this.request(address, deoj, Esv.Get, epcs.map(emptyProperty));
    return r.properties;
  }

  /**
   * SetC (0x61, default): resolves with per-property results (`ok` false = refused by the node,
   * SetC_SNA). SetI (0x60): resolves once sent; the standard answers only a refusal.
   */
  async setProperties(address: string, deoj: Eoj, props: Property[], opts: { esv?: typeof Esv.SetC | typeof Esv.SetI } = {}): Promise<PropertyResult[]> {
    if (opts.esv === Esv.SetI) {
      await this.enqueue(address, async () => {
        const frame = encodeFrame({ tid: this.nextTid(), seoj: this.self, deoj, esv: Esv.SetI, properties: props });
        await this.endpoint.send(frame, this.nodePort, address);
      });
      return props.map((p) => ({ epc: p.epc, edt: new Uint8Array(0), ok: true }));
    }
    const r = await this.request(address, deoj, Esv.SetC, props);
    return r.properties;
  }

  /** SetGet (0x6E): sets, then reads, in one exchange. */
  async setGet(address: string, deoj: Eoj, set: Property[], getEpcs: number[]): Promise<{ set: PropertyResult[]; get: PropertyResult[] }> {
    const r = await this.request(address, deoj, Esv.SetGet, set, getEpcs.map(emptyProperty));
    return { set: r.properties, get: r.getProperties ?? [] };
  }

  /** INF_REQ (0x63): asks the node to notify the properties; resolves with the INF it returns. */
  async requestNotification(address: string, deoj: Eoj, epcs: number[]): Promise<PropertyResult[]> {
    const r = await this.request(address, deoj, Esv.INF_REQ, epcs.map(emptyProperty));
    return r.properties;
  }

  /**
   * Any request/response exchange with TID matching, one outstanding request per node, the
   * per-node rate limit, timeout and retries.
   */
  request(address: string, deoj: Eoj, esv: EsvCode, properties: Property[], getProperties?: Property[]): Promise<Response> {
    const codes = responseCodesFor(esv);
    if (codes.ok === null && codes.sna === null) return Promise.reject(new InvalidInputError(`${esvName(esv)} is not a request with a response`));
    const expect = new Set<number>([codes.ok, codes.sna].filter((x): x is EsvCode => x !== null));
    return this.enqueue(address, () => this.exchange(address, deoj, esv, properties, getProperties, expect));
  }

  private enqueue<T>(address: string, job: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(address) ?? Promise.resolve();
    const run = prev.then(() => this.pace(address)).then(job);
    const tail = run.catch(() => undefined);
    this.queues.set(address, tail);
    void tail.then(() => {
      if (this.queues.get(address) === tail) this.queues.delete(address);
    });
    return run;
  }

  /** Waits until the node's minimum request interval has passed (on the injected clock). */
  private pace(address: string): Promise<void> {
    const last = this.lastSent.get(address);
    const now = this.clock.now();
    const wait = last === undefined ? 0 : last + realMs(this.clock, this.minIntervalMs) - now;
    const mark = (): void => {
      this.lastSent.set(address, this.clock.now());
      if (this.lastSent.size > 100_000) this.lastSent.delete(this.lastSent.keys().next().value!);
    };
    if (wait <= 0) {
      mark();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.clock.setTimeout(() => { mark(); resolve(); }, wait));
  }

  private exchange(address: string, deoj: Eoj, esv: EsvCode, properties: Property[], getProperties: Property[] | undefined, expect: Set<number>): Promise<Response> {
    if (this.closed) return Promise.reject(new InvalidInputError('controller is closed'));
    const tid = this.nextTid();
    const frame: Frame = { tid, seoj: this.self, deoj, esv, properties };
    if (getProperties) frame.getProperties = getProperties;
    const bytes = encodeFrame(frame);
    return new Promise<Response>((resolve, reject) => {
      let attempts = 0;
      let timer: TimerHandle | undefined;
      const finish = (r: Response): void => {
        timer?.cancel();
        this.pending.delete(tid);
        resolve(r);
      };
      this.pending.set(tid, { address, tid, deoj, expect, resolve: finish, reject: (err) => { timer?.cancel(); reject(err); } });
      const attempt = (): void => {
        if (this.closed) {
          this.pending.delete(tid);
          reject(new InvalidInputError('controller closed before a response'));
          return;
        }
        attempts++;
        void this.endpoint.send(bytes, this.nodePort, address);
        timer = this.clock.setTimeout(() => {
          if (!this.pending.has(tid)) return;
          if (attempts <= this.retries) attempt();
          else {
            this.pending.delete(tid);
            reject(new EchonetTimeoutError(`${esvName(esv)} to ${formatEoj(deoj)} at ${address}: no response after ${attempts} attempt(s) of ${this.timeoutMs} ms`));
          }
        }, realMs(this.clock, this.timeoutMs));
      };
      attempt();
    });
  }

  private nextTid(): number {
    // Skip TIDs still pending (a wrap-around after 65,536 requests must not alias).
    for (let i = 0; i < 0x10000; i++) {
      this.tid = (this.tid + 1) & 0xffff;
      if (!this.pending.has(this.tid)) return this.tid;
    }
    throw new InvalidInputError('65,536 requests outstanding');
  }

  /** The receive path: never throws. */
  private receive(msg: Buffer, from: { address: string; port: number }): void {
    if (this.closed) return;
    try {
      if (!this.sourceLimiter.take(from.address)) {
        this.security.report('rate_limited', `${from.address}:${from.port}`, 'source over its rate; datagram dropped');
        return;
      }
      // Our own multicast looped back (discovery Get, INF): not a peer.
      if (from.address === this.endpoint.address && from.port === this.endpoint.port) return;
      if (!usableSource(from.address)) {
        this.security.report('malformed_frame', `${from.address}:${from.port}`, `source address ${from.address} cannot be answered`);
        return;
      }
      const d = safeDecodeFrame(msg, { maxBytes: this.options.maxFrameBytes });
      if (!d.ok) {
        this.security.report('malformed_frame', `${from.address}:${from.port}`, d.error.message, { offset: d.error.offset });
        return;
      }
      const f = d.frame;
      if (isRequest(f.esv)) {
        // Requests to the controller's own node (e.g. a device or another controller reading 0xD6).
        const r = this.host.serve(f, (kind, reason, details) => this.security.report(kind, `${from.address}:${from.port}`, reason, details));
        const port = this.options.replyPort === 'source' ? from.port : (this.options.replyPort ?? ECHONET_PORT);
        for (const reply of r.responses) void this.endpoint.send(encodeFrame(reply), port, from.address);
        return;
      }
      const p = this.pending.get(f.tid);
      // An INF answers an INF_REQ (same TID); any other INF/INFC is a spontaneous notification.
      const answersInfReq = f.esv === Esv.INF && p !== undefined && p.expect.has(Esv.INF) && p.address === from.address;
      if ((f.esv === Esv.INF || f.esv === Esv.INFC) && !answersInfReq) {
        this.onNotification(f, from);
        return;
      }
      if (!p || (p.address !== '*' && p.address !== from.address) || !p.expect.has(f.esv) || !sourceMatches(p.deoj, f.seoj)) {
        this.security.report('unmatched_response', `${from.address}:${from.port}`, `${esvName(f.esv)} TID ${f.tid} from ${formatEoj(f.seoj)} matches no outstanding request`);
        return;
      }
      const refused = f.esv >= 0x50 && f.esv <= 0x5f;
      const response: Response = {
        esv: f.esv, from, seoj: f.seoj, refused,
        properties: f.properties.map((x) => result(x, f.esv)),
      };
      if (f.getProperties) response.getProperties = f.getProperties.map((x) => result(x, f.esv, true));
      const known = this.known.get(from.address);
      if (known) known.lastSeen = this.clock.now();
      if (p.collect) p.collect(response);
      else p.resolve(response);
    } catch (err) {
      this.security.report('handler_error', `${from.address}:${from.port}`, `internal error: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private onNotification(f: Frame, from: { address: string; port: number }): void {
    if (f.esv === Esv.INFC) {
      // INFC needs an INFC_Res (Part 2 §3.2.5): each EPC with PDC 0, to the notifier's port 3610.
      const ack = encodeFrame({ tid: f.tid, seoj: this.self, deoj: f.seoj, esv: Esv.INFC_Res, properties: f.properties.map((p) => emptyProperty(p.epc)) });
      void this.endpoint.send(ack, this.nodePort, from.address);
    }
    this.emit('inf', { address: from.address, port: from.port, seoj: f.seoj, esv: f.esv as typeof Esv.INF, properties: f.properties });
    const known = this.known.get(from.address);
    const d5 = f.seoj === NODE_PROFILE_EOJ ? f.properties.find((p) => p.epc === 0xd5) : undefined;
    let listChanged = false;
    if (known && d5) {
      try {
        listChanged = instanceList.decode(d5.edt).join() !== known.instances.join();
      } catch { /* malformed list: re-identify below */ listChanged = true; }
    }
    if ((!known || listChanged) && (this.options.autoIdentify ?? true) && !this.identifying.has(from.address) && this.identifying.size < 64) {
      // Passive discovery: an INF from a node we do not know (or whose instances changed).
      this.identifying.add(from.address);
      void this.identify(from.address).catch(() => undefined).finally(() => this.identifying.delete(from.address));
    }
    if (known) known.lastSeen = this.clock.now();
  }
}

function result(p: Property, esv: number, getList = false): PropertyResult {
  // In _SNA responses: for Get-like lists PDC 0 means refused; for Set lists an echoed EDT does.
  const sna = esv >= 0x50 && esv <= 0x5f;
  if (!sna) return { epc: p.epc, edt: p.edt, ok: true };
  const isSetList = (esv === Esv.SetC_SNA || esv === Esv.SetI_SNA || (esv === Esv.SetGet_SNA && !getList));
  return { epc: p.epc, edt: p.edt, ok: isSetList ? p.edt.length === 0 : p.edt.length > 0 };
}

function sourceMatches(deoj: Eoj, seoj: Eoj): boolean {
  if (eojClass(deoj) !== eojClass(seoj)) return false;
  return eojInstance(deoj) === 0 || eojInstance(deoj) === eojInstance(seoj);
}

function identityDiffers(a: NodeIdentityInfo, b: NodeIdentityInfo): boolean {
  return a.makerCode !== b.makerCode || a.productCode !== b.productCode || a.productionNumber !== b.productionNumber
    || a.identificationNumber !== b.identificationNumber;
}

/** Decodes a property with the class tables when known, else returns the raw bytes. */
export function describeProperty(classCode: number, epc: number, edt: Uint8Array): { name: string; value: unknown } {
  const def = classDefinition(classCode)?.byEpc.get(epc);
  if (def) {
    try {
      return { name: def.name, value: def.codec.decode(edt) };
    } catch { /* fall through to raw */ }
  }
  return { name: `0x${hex8(epc)}`, value: hexBytes(edt) };
}

/**
 * Identifies a node through any way of reading its properties (UDP frames, the Web API): the node
 * profile's instance list and identity (0xD6, 0x83, 0x8A, 0x8C, 0x8D, 0x82), then each instance's
 * property maps and Appendix release.
 */
export async function readNode(address: string, get: (deoj: Eoj, epcs: number[]) => Promise<PropertyResult[]>, now: number): Promise<RemoteNode> {
  const np = await get(NODE_PROFILE_EOJ, [0xd6, 0x83, 0x8a, 0x8c, 0x8d, 0x82]);
  const val = <T>(epc: number, decode: (e: Uint8Array) => T): T | undefined => {
    const p = np.find((x) => x.epc === epc && x.ok);
    if (!p) return undefined;
    try {
      return decode(p.edt);
    } catch {
      return undefined;
    }
  };
  const instances = val(0xd6, (e) => instanceList.decode(e)) ?? [];
  const identity: NodeIdentityInfo = {};
  const maker = val(0x8a, (e) => unsigned(3, { min: 0, max: 0xffffff }).decode(e));
  if (maker !== undefined) identity.makerCode = maker;
  const pc = val(0x8c, (e) => ascii(12).decode(e));
  if (pc !== undefined) identity.productCode = pc;
  const sn = val(0x8d, (e) => ascii(12).decode(e));
  if (sn !== undefined) identity.productionNumber = sn;
  const id = val(0x83, (e) => (identificationNumber.decode(e), hexBytes(e)));
  if (id !== undefined) identity.identificationNumber = id;
  const v = val(0x82, (e) => liteVersion.decode(e));
  const node: RemoteNode = { address, instances, identity, maps: new Map(), releases: new Map(), lastSeen: now };
  if (v) node.version = `${v.major}.${v.minor}`;
  for (const inst of instances) {
    const r = await get(inst, [0x9d, 0x9e, 0x9f, 0x82]).catch(() => []);
    const map = (epc: number): number[] => {
      const p = r.find((x) => x.epc === epc && x.ok);
      try {
        return p ? propertyMap.decode(p.edt) : [];
      } catch {
        return [];
      }
    };
    node.maps.set(inst, { anno: map(0x9d), set: map(0x9e), get: map(0x9f) });
    const rel = r.find((x) => x.epc === 0x82 && x.ok);
    if (rel) {
      try {
        node.releases.set(inst, appendixRelease.decode(rel.edt).release);
      } catch { /* unknown format: leave out */ }
    }
  }
  return node;
}
