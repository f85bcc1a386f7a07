/**
 * A VTN as a running service: the protocol engine (protocols/openadr/vtn.ts) behind an HTTPS
 * listener that requires mutual TLS and an allow-listed client certificate (ERAB guideline §3.3,
 * §3.3.1), state in the data layer, refusals in the audit log, XML signatures with our own key.
 * The TSO, retailer and aggregator (downstream) roles start one of these.
 */
import type { Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { serveHttp1, type Http1Limits } from '../../protocols/openadr/http1.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { type ExtraRoute, type OadrPeer, createOadrListener, httpsPushClient } from '../../protocols/openadr/http.js';
import { Vtn, type AdmitDecision, type VtnOptions } from '../../protocols/openadr/vtn.js';
import type { AllowList, AllowListConfig } from '../../security/allow-list.js';
import type { AuditSink } from '../../security/audit/types.js';
import { createMutualTlsServer, peerOf, clientTlsOptions, type TlsMaterial, type TlsProfileName } from '../../security/tls.js';
import type { Store } from '../../store/store.js';
import { StoreNonceCache } from './nonce-store.js';
import { StoreVtnStore } from './store.js';

export interface OpenadrVtnServerOptions {
  vtnID: string;
  /** Our certificate/key, trusted CA(s) and CRL. */
  material: TlsMaterial;
  /** Interface profile (R1 TSO, R2 retailer, R3 aggregator, R4 gateway); default R1. */
  profile?: TlsProfileName;
  /** Which client certificates may connect (and therefore register). */
  allowList: AllowList | AllowListConfig;
  audit: AuditSink;
  /** An open store whose migrations include `openadrStoreMigrations`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  store: Store<any>;
  host?: string;
  /** 0 (default) for an ephemeral port. */
  port?: number;
  clock?: Clock;
  /**
   * Bind venID to the certificate's participant id (default true): a VEN may only register as the
   * id its certificate names; false lets the VEN choose (still bound to its fingerprint).
   */
  venIdFromCertificate?: boolean;
  /** Sign outgoing payloads for VENs that asked for XML signatures, with our TLS key (default true). */
  signXml?: boolean;
  /**
   * HTTP layer: 'lean' (default) serves HTTP/1.1 directly on the authenticated TLS socket
   * (protocols/openadr/http1.ts, ~3× less CPU per poll, measured by bench/vtn.ts); 'node' uses
   * node:https.
   */
  http?: 'lean' | 'node';
  /** Extra POST endpoints on the same listener (e.g. the audit witness, src/roles/common/witnessing.ts). */
  routes?: ReadonlyMap<string, ExtraRoute>;
  /**
   * Limits of the lean HTTP layer (head bytes, header count, chunk count, hard body limit);
   * the body limit itself is `vtn.limits.maxBytes`. Refused requests are audited as
   * "http.refused", rate-limited per source address like TLS refusals.
   */
  http1?: Omit<Http1Limits, 'maxBodyBytes'>;
  /** Everything else the engine takes (hooks, poll frequency, signature policy, limits...). */
  vtn?: Partial<Omit<VtnOptions, 'vtnID' | 'store' | 'clock' | 'audit'>>;
}

export interface RunningVtn {
  vtn: Vtn;
  server: Server;
  port: number;
  /** Base URL VENs use, e.g. https://127.0.0.1:40123 */
  url: string;
  close(): Promise<void>;
}

// One OadrPeer per TLS socket: the hot path (every poll) does a WeakMap lookup, nothing else.
const peers = new WeakMap<object, OadrPeer>();

function oadrPeerOf(req: IncomingMessage): OadrPeer | undefined {
  return oadrPeerOfSocket(req.socket as TLSSocket);
}

function oadrPeerOfSocket(tlsSocket: TLSSocket): OadrPeer | undefined {
  const socket = tlsSocket;
  const cached = peers.get(socket);
  if (cached) return cached;
  const id = peerOf(tlsSocket);
  if (!id) return undefined;
  const peer: OadrPeer = {
    fingerprint: id.fingerprint,
    id: id.id,
    role: id.role,
    address: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`,
    certificatePem: () => {
      const raw = tlsSocket.getPeerCertificate()?.raw;
      return raw ? `-----BEGIN CERTIFICATE-----\n${raw.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n` : undefined;
    },
  };
  peers.set(socket, peer);
  return peer;
}

/**
 * Starts a VTN on mutual TLS.
 * @example
 * const store = await openStore({ url: 'tso.db', migrations: openadrStoreMigrations });
 * const { vtn, url } = await startOpenadrVtn({ vtnID: 'TSO1', material, audit, store,
 *   allowList: { participants: ['aggregator:AGG1'] } });
 * await vtn.createEvent({ marketContext: 'http://tso/tertiary2', activePeriod, signals });
 */
export async function startOpenadrVtn(opts: OpenadrVtnServerOptions): Promise<RunningVtn> {
  const profile = opts.profile ?? 'R1';
  const clock = opts.clock ?? systemClock;
  const push = httpsPushClient({ tls: clientTlsOptions(opts.material, profile, { audit: opts.audit }) });
  const bindToCert = opts.venIdFromCertificate ?? true;
  const userAdmit = opts.vtn?.admit;
  const signingCred = opts.material.credentials[0];
  // Accepted signature nonces live in the VTN's store, so a replay is refused after a restart too.
  const windowMs = opts.vtn?.signatureWindowMs ?? 300_000;
  const nonces = opts.vtn?.nonces ?? await StoreNonceCache.open(opts.store, { scope: `vtn:${opts.vtnID}`, windowMs }, clock.now());
  const vtn = new Vtn({
    ...opts.vtn,
    nonces,
    signatureWindowMs: windowMs,
    vtnID: opts.vtnID,
    store: new StoreVtnStore(opts.store, opts.vtnID),
    // Stateless between polls: other workers on this store hear of our changes (docs/scale.md),
    // and on the lean path an answer leaves the queue only once flushed to the socket.
    wake: opts.store.wake,
    ...((opts.http ?? 'lean') === 'lean' ? { confirm: 'sent' as const } : {}),
    clock,
    audit: opts.audit,
    push,
    ...(opts.signXml !== false && signingCred ? { signingKey: { privateKeyPem: signingCred.keyPem, certificatePem: signingCred.certPem } } : {}),
    admit: (peer, request): AdmitDecision => {
      if (bindToCert) {
        if (!peer.id) return { allowed: false, reason: 'certificate carries no participant id' };
        if (request.venID !== undefined && request.venID !== peer.id) return { allowed: false, reason: `venID ${request.venID} is not the certificate's participant ${peer.id}` };
      }
      const user = userAdmit?.(peer, request);
      if (user && !user.allowed) return user;
      return { allowed: true, venID: (user?.allowed ? user.venID : undefined) ?? (bindToCert ? peer.id : undefined) ?? request.venID ?? peer.id ?? '' };
    },
  });
  await vtn.start();
  const maxBodyBytes = opts.vtn?.limits?.maxBytes ?? 1024 * 1024;
  const common = { material: opts.material, profile, allowList: opts.allowList, audit: opts.audit, listener: `${opts.vtnID}:openadr` };
  const server: Server = (opts.http ?? 'lean') === 'lean'
    ? leanServer()
    : createMutualTlsServer(
      { ...common, serverOptions: { keepAliveTimeout: 120_000, requestTimeout: 60_000 } },
      createOadrListener(vtn.handle, { peerOf: oadrPeerOf, maxBodyBytes, ...(opts.routes ? { routes: opts.routes } : {}) }),
    ).server;
  function leanServer(): Server {
    const listener = createMutualTlsServer({ ...common, kind: 'tls' }, (socket) => {
      const peer = oadrPeerOfSocket(socket);
      if (!peer) {
        socket.destroy();
        return;
      }
      serveHttp1(socket, vtn.handle, peer, {
        ...opts.http1,
        maxBodyBytes,
        ...(opts.routes ? { routes: opts.routes } : {}),
        onWritten: (p) => void vtn.sent(p).catch(() => {}),
        // Audited through the listener's authenticator: one per-address limit for every refusal.
        onRefusal: (r) => listener.authenticator.recordRefusal({
          code: 'request_refused', reason: r.reason, address: peer.address ?? '?', fingerprint: peer.fingerprint,
          ...(peer.role ? { role: peer.role } : {}), ...(peer.id ? { id: peer.id } : {}), details: { status: r.status },
        }, 'http.refused'),
      });
    });
    return listener.server;
  }
  // Track connections so close() ends keep-alive sockets too (tls.Server has no closeAllConnections).
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s: import('node:net').Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? '127.0.0.1';
  return {
    vtn,
    server,
    port,
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        push.close();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      });
      await vtn.stop();
      if (nonces instanceof StoreNonceCache) await nonces.flush();
    },
  };
}
