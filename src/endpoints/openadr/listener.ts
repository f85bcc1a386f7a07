/**
 * The one OpenADR listener: mutual TLS (src/security/tls: CA, allow-list, CRL with live reload,
 * refusals audited) with the lean HTTP/1.1 layer (src/protocols/openadr/http1.ts) on every
 * authenticated socket. Every VTN endpoint and every VEN push endpoint listens through this.
 *
 * Measured by bench/vtn.ts, node:http's request machinery costs about three times the CPU of TLS
 * itself per oadrPoll; this path is why a VTN answers tens of thousands of polls per second per
 * core. node:https is no longer used for OpenADR listeners.
 */
import type { AddressInfo, Socket } from 'node:net';
import type { Server, TLSSocket } from 'node:tls';
import type { ExtraRoute, OadrPeer, OadrServiceHandler } from '../../protocols/openadr/http.js';
import { serveHttp1, type Http1Limits } from '../../protocols/openadr/http1.js';
import type { AllowList, AllowListConfig } from '../../security/allow-list.js';
import type { AuditSink } from '../../security/audit/types.js';
import { createMutualTlsServer, peerOf, type ServerTlsSettings, type TlsMaterial, type TlsProfileName } from '../../security/tls.js';

// One OadrPeer per TLS socket: the hot path (every poll) does a WeakMap lookup, nothing else.
const peers = new WeakMap<TLSSocket, OadrPeer>();

/**
 * The OpenADR view of an authenticated TLS socket's peer (fingerprint, participant id and role
 * from the certificate, address, PEM on demand), computed once per socket.
 */
export function oadrPeerOfSocket(socket: TLSSocket): OadrPeer | undefined {
  const cached = peers.get(socket);
  if (cached) return cached;
  const id = peerOf(socket);
  if (!id) return undefined;
  const peer: OadrPeer = {
    fingerprint: id.fingerprint,
    id: id.id,
    role: id.role,
    address: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`,
    certificatePem: () => socket.getPeerX509Certificate?.()?.toString(),
  };
  peers.set(socket, peer);
  return peer;
}

/** Where and how an OpenADR endpoint listens. */
export interface OadrListenerOptions {
  material: TlsMaterial;
  /** Interface profile (R1 TSO, R2 retailer, R3 aggregator, R4 gateway). */
  profile: TlsProfileName;
  /** Which client certificates may connect. */
  allowList: AllowList | AllowListConfig;
  audit: AuditSink;
  /** Name in audit records, e.g. "TSO1:openadr" or "aggregator:AGG1:R4". */
  listener: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (default) for an ephemeral port. Workers of a node:cluster share the primary's handle for the same port. */
  port?: number;
  /** Extra POST endpoints on the same listener (e.g. the audit witness, src/roles/common/witnessing.ts). */
  routes?: ReadonlyMap<string, ExtraRoute>;
  /** Largest OpenADR body handed to the handler (larger ones get the handler's 454 path). */
  maxBodyBytes: number;
  /** Limits of the HTTP layer (head bytes, header count, chunk count...); refusals are audited as "http.refused". */
  http1?: Omit<Http1Limits, 'maxBodyBytes'>;
  /** TLS session settings (e.g. shared ticket keys for the workers of one listener). */
  tls?: ServerTlsSettings;
  /** Called when an answer to `peer` has been written to its socket (the VTN then confirms its queue entries). */
  onWritten?: (peer: OadrPeer) => void;
}

/** A listening OpenADR endpoint. */
export interface OadrListener {
  server: Server;
  port: number;
  /** Base URL peers use, e.g. https://127.0.0.1:40123 */
  url: string;
  /** Re-reads certificate, key, CA and CRL files (after rotation or revocation). */
  reload(): Promise<void>;
  /** Stops listening and ends every open connection. */
  close(): Promise<void>;
}

/**
 * Listens for OpenADR payloads: only certificates from our CA, not revoked and on the allow-list
 * reach `handler`; HTTP refusals go through the TLS layer's per-address rate-limited audit.
 * @example
 * const l = await listenOadr(vtn.handle, { material, profile: 'R4', allowList: { roles: ['gateway'] },
 *   audit, listener: 'aggregator:AGG1:R4', maxBodyBytes: 1 << 20 });
 */
export async function listenOadr(handler: OadrServiceHandler, o: OadrListenerOptions): Promise<OadrListener> {
  const listener = createMutualTlsServer({
    kind: 'tls', material: o.material, profile: o.profile, allowList: o.allowList, audit: o.audit, listener: o.listener, ...o.tls,
  }, (socket) => {
    const peer = oadrPeerOfSocket(socket);
    if (!peer) {
      socket.destroy();
      return;
    }
    serveHttp1(socket, handler, peer, {
      ...o.http1,
      maxBodyBytes: o.maxBodyBytes,
      ...(o.routes ? { routes: o.routes } : {}),
      ...(o.onWritten ? { onWritten: o.onWritten } : {}),
      // Audited through the listener's authenticator: one per-address limit for every refusal.
      onRefusal: (r) => listener.authenticator.recordRefusal({
        code: 'request_refused', reason: r.reason, address: peer.address ?? '?', fingerprint: peer.fingerprint,
        ...(peer.role ? { role: peer.role } : {}), ...(peer.id ? { id: peer.id } : {}), details: { status: r.status },
      }, 'http.refused'),
    });
  });
  const server = listener.server;
  // Track connections so close() ends keep-alive sockets too (tls.Server has no closeAllConnections).
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    reload: () => listener.reload(),
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
