/**
 * OpenADR 2.0b simple HTTP (Profile Specification §9) over erab's mutual TLS, for the
 * aggregator: the downstream VTN listener (R4/R3, allow-listed gateways and sub-aggregators)
 * and the upstream VEN transports (R1/R2/R3, checking that the server is the expected party).
 *
 * Kept small and local: the protocol engines (src/protocols/openadr/vtn.ts, ven.ts) are
 * transport-neutral, the TLS policy lives in src/security/tls; this file only joins them.
 */
import type * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { createOadrListener, httpsTransport, type ExtraRoute, type OadrPeer, type OadrServiceHandler, type OadrTransport } from '../../../protocols/openadr/http.js';
import type { AllowListConfig } from '../../../security/allow-list.js';
import type { AuditSink } from '../../../security/audit/types.js';
import type { ParticipantRole } from '../../../security/identity.js';
import { clientTlsOptions, createMutualTlsServer, peerOf, type TlsMaterial, type TlsProfileName } from '../../../security/tls.js';

/** The OpenADR view of the authenticated TLS peer behind a request. */
export function oadrPeerOf(req: IncomingMessage): OadrPeer | undefined {
  const p = peerOf(req);
  if (!p) return undefined;
  const socket = req.socket as TLSSocket;
  return {
    fingerprint: p.fingerprint,
    id: p.id,
    role: p.role,
    address: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`,
    certificatePem: () => socket.getPeerX509Certificate?.()?.toString(),
  };
}

export interface OadrServerOptions {
  material: TlsMaterial;
  profile: TlsProfileName;
  allowList: AllowListConfig;
  audit: AuditSink;
  host: string;
  port: number;
  /** Name in audit records, e.g. "aggregator:R4". */
  listener: string;
  /** Extra POST endpoints on the same listener (the audit witness). */
  routes?: ReadonlyMap<string, ExtraRoute>;
}

/** A running OpenADR HTTPS listener. */
export interface OadrServer {
  readonly port: number;
  readonly server: https.Server;
  /** Re-reads certificate, key, CA and CRL files (after rotation or revocation). */
  reload(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Listens for OpenADR payloads with mutual TLS: only certificates from our CA, not revoked and
 * on the allow-list reach `handler`; refusals are audited by the TLS layer.
 * @example const s = await startOadrServer(vtn.handle, { material, profile: 'R4', allowList: { roles: ['gateway'] }, audit, host: '127.0.0.1', port: 0, listener: 'aggregator:R4' });
 */
export async function startOadrServer(handler: OadrServiceHandler, o: OadrServerOptions): Promise<OadrServer> {
  const listener = createOadrListener(handler, { peerOf: oadrPeerOf, ...(o.routes ? { routes: o.routes } : {}) });
  const { server, reload } = createMutualTlsServer(
    { material: o.material, profile: o.profile, allowList: o.allowList, audit: o.audit, listener: o.listener, serverOptions: { keepAliveTimeout: 65_000, requestTimeout: 30_000 } },
    listener,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    server,
    reload,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/**
 * An HTTPS transport to an upstream VTN that presents our certificate and refuses any server
 * that is not `expect` (role, id, optional pinned fingerprint) — a VEN must know it reached
 * the right VTN (ERAB guideline §3.3).
 */
export function upstreamTransport(
  vtnUrl: string,
  material: TlsMaterial,
  profile: TlsProfileName,
  expect: { role: ParticipantRole; id: string; fingerprint?: string | undefined },
  audit: AuditSink,
): OadrTransport {
  return httpsTransport(vtnUrl, { tls: upstreamTlsOptions(material, profile, expect, audit), timeoutMs: 15_000 });
}

/** The TLS client options of an upstream connection: our certificate, and only `expect` as the server. */
export function upstreamTlsOptions(
  material: TlsMaterial,
  profile: TlsProfileName,
  expect: { role: ParticipantRole; id: string; fingerprint?: string | undefined },
  audit: AuditSink,
): ReturnType<typeof clientTlsOptions> {
  return clientTlsOptions(material, profile, {
    expect: { role: expect.role, id: expect.id, ...(expect.fingerprint ? { fingerprint: expect.fingerprint } : {}) },
    audit,
  });
}
