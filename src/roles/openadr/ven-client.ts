/**
 * A VEN as a running service: the protocol engine (protocols/openadr/ven.ts) talking to its VTN
 * over keep-alive HTTPS with mutual TLS (checking it reached the right VTN), registration and
 * outbox in the data layer (no report lost across restarts), optional push endpoint on mutual TLS.
 * The aggregator (upstream) and gateway roles start one of these.
 */
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../../core/clock.js';
import { createOadrListener, httpsTransport, type OadrPeer } from '../../protocols/openadr/http.js';
import { Ven, type VenOptions } from '../../protocols/openadr/ven.js';
import type { AllowList, AllowListConfig } from '../../security/allow-list.js';
import type { AuditSink } from '../../security/audit/types.js';
import { clientTlsOptions, createMutualTlsServer, peerOf, type ExpectedPeer, type TlsMaterial, type TlsProfileName } from '../../security/tls.js';
import type { Store } from '../../store/store.js';
import { StoreNonceCache } from './nonce-store.js';
import { StoreVenOutbox, StoreVenState } from './store.js';

export interface OpenadrVenClientOptions {
  venName: string;
  /** The VTN's base URL, e.g. https://tso.example:8443 */
  vtnUrl: string;
  material: TlsMaterial;
  profile?: TlsProfileName;
  /** Who the VTN must be (role / id / pinned fingerprint). */
  expectVtn?: ExpectedPeer;
  /** Verify the VTN's host name against its certificate (default true). */
  checkHostname?: boolean;
  audit: AuditSink;
  /** An open store whose migrations include `openadrStoreMigrations`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  store: Store<any>;
  clock?: Clock;
  /** Run a push endpoint (mutual TLS) and register for the push model. */
  push?: { host?: string; port?: number; allowList: AllowList | AllowListConfig };
  /** Sign our payloads with our TLS key and ask the VTN to sign its (default false). */
  xmlSignature?: boolean;
  /** The VTN's certificate PEM, to verify its XML signatures. */
  vtnCertificatePem?: string;
  /** Callbacks, report sources, back-off, limits... */
  ven?: Partial<Omit<VenOptions, 'venName' | 'transport' | 'clock' | 'audit' | 'outbox' | 'state' | 'pushAddress'>>;
  /** Start the poll loop right away (default true). */
  autoStart?: boolean;
}

export interface RunningVen {
  ven: Ven;
  /** Push endpoint, when configured. */
  pushServer?: Server;
  pushUrl?: string;
  outbox: StoreVenOutbox;
  close(): Promise<void>;
}

/**
 * Starts a VEN against its VTN over mutual TLS.
 * @example
 * const { ven } = await startOpenadrVen({ venName: 'AGG1', vtnUrl, material, audit, store,
 *   expectVtn: { role: 'tso', id: 'TSO1' }, ven: { onEvent: (e) => 'optIn', reports: [...] } });
 */
export async function startOpenadrVen(opts: OpenadrVenClientOptions): Promise<RunningVen> {
  const profile = opts.profile ?? 'R1';
  const clock = opts.clock ?? systemClock;
  const tls = clientTlsOptions(opts.material, profile, {
    audit: opts.audit,
    ...(opts.expectVtn ? { expect: opts.expectVtn } : {}),
    ...(opts.checkHostname !== undefined ? { checkHostname: opts.checkHostname } : {}),
  });
  const transport = httpsTransport(opts.vtnUrl, { tls, maxSockets: 2 });
  const outbox = new StoreVenOutbox(opts.store, `openadr-ven:${opts.venName}`);
  const cred = opts.material.credentials[0];
  let pushServer: Server | undefined;
  let pushUrl: string | undefined;
  let handlePush: ((service: Parameters<Ven['handlePush']>[0], body: Buffer) => Promise<string>) | undefined;
  if (opts.push) {
    const { server } = createMutualTlsServer(
      { material: opts.material, profile, allowList: opts.push.allowList, audit: opts.audit, listener: `${opts.venName}:openadr-push` },
      createOadrListener((service, body) => (handlePush ? handlePush(service, body) : Promise.reject(new Error('not ready'))), {
        peerOf: (req): OadrPeer | undefined => {
          const p = peerOf(req);
          return p ? { fingerprint: p.fingerprint, id: p.id, role: p.role } : undefined;
        },
      }),
    );
    const host = opts.push.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.push?.port ?? 0, host, () => resolve());
    });
    pushServer = server;
    pushUrl = `https://${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`;
  }
  // The VTN's accepted signature nonces live in our store: a replayed reply or push is refused after a restart too.
  const windowMs = opts.ven?.signatureWindowMs ?? 300_000;
  const nonces = opts.ven?.nonces ?? await StoreNonceCache.open(opts.store, { scope: `ven:${opts.venName}`, windowMs }, clock.now());
  const ven = new Ven({
    ...opts.ven,
    nonces,
    signatureWindowMs: windowMs,
    venName: opts.venName,
    transport,
    clock,
    audit: opts.audit,
    outbox,
    state: new StoreVenState(opts.store, opts.venName),
    ...(pushUrl ? { pushAddress: pushUrl } : {}),
    // The key is given even without xmlSignature: a signed push is always answered signed.
    ...(cred ? { signingKey: { privateKeyPem: cred.keyPem, certificatePem: cred.certPem } } : {}),
    ...(opts.xmlSignature && cred ? { xmlSignature: true } : {}),
    ...(opts.vtnCertificatePem ? { vtnCertificatePem: opts.vtnCertificatePem } : {}),
  });
  handlePush = ven.handlePush;
  if (opts.autoStart !== false) await ven.start();
  else await ven.restore();
  return {
    ven,
    outbox,
    ...(pushServer ? { pushServer } : {}),
    ...(pushUrl ? { pushUrl } : {}),
    close: async () => {
      ven.stop();
      transport.close();
      if (nonces instanceof StoreNonceCache) await nonces.flush();
      if (pushServer) {
        const s = pushServer;
        await new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        });
      }
    },
  };
}
