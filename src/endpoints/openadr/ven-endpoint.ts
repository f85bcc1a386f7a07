/**
 * The VEN endpoint, assembled one way for every role that runs a VEN: the aggregator towards its
 * TSO, retailer or coordinator (R1/R2/R3), the gateway towards its aggregator (R4) and
 * `erab openadr ven`.
 *
 * It joins the protocol engine (protocols/openadr/ven.ts) to:
 * - a keep-alive HTTPS transport with mutual TLS that checks it reached the right VTN (role, id,
 *   optional pinned fingerprint; ERAB guideline §3.3) and closes when the VTN's certificate is
 *   revoked;
 * - the data layer: registration (optional), report outbox (no report lost across restarts) and
 *   the VTN's accepted signature nonces, all under one `scope` in the store;
 * - an optional push endpoint on the one OpenADR listener (listener.ts);
 * - XML signatures with our own TLS key.
 * Role-specific behaviour comes in through the engine's options and hooks (`ven`): onEvent,
 * checkDistribute (the gateway's command guard), reports, onRegistered...
 */
import { systemClock, type Clock } from '../../core/clock.js';
import { httpsTransport, type OadrTransport } from '../../protocols/openadr/http.js';
import { Ven, type VenOptions } from '../../protocols/openadr/ven.js';
import type { AllowList, AllowListConfig } from '../../security/allow-list.js';
import type { AuditSink } from '../../security/audit/types.js';
import { clientTlsOptions, type ExpectedPeer, type TlsMaterial, type TlsProfileName } from '../../security/tls.js';
import type { Store } from '../../store/store.js';
import { listenOadr, type OadrListener } from './listener.js';
import { StoreNonceCache } from './nonce-store.js';
import { StoreVenOutbox, StoreVenState } from './store.js';

/** How to reach a VTN: its URL, our certificate, and who it must be. */
export interface VtnConnection {
  /** The VTN's base URL, e.g. https://tso.example:8443 */
  vtnUrl: string;
  material: TlsMaterial;
  profile?: TlsProfileName;
  /** Who the VTN must be (role / id / pinned fingerprint). */
  expectVtn?: ExpectedPeer;
  /** Verify the VTN's host name against its certificate (default true). */
  checkHostname?: boolean;
  audit: AuditSink;
  /** Per request, ms (default 30 s). */
  timeoutMs?: number;
  /** Keep-alive connections at most (default 2). */
  maxSockets?: number;
}

/** The TLS client options of a connection to a VTN: our certificate, and only `expectVtn` as the server. */
export function vtnClientTls(c: VtnConnection): ReturnType<typeof clientTlsOptions> {
  return clientTlsOptions(c.material, c.profile ?? 'R1', {
    audit: c.audit,
    ...(c.expectVtn ? { expect: c.expectVtn } : {}),
    ...(c.checkHostname !== undefined ? { checkHostname: c.checkHostname } : {}),
  });
}

/**
 * A keep-alive HTTPS transport to a VTN over mutual TLS (what the VEN endpoint posts through).
 * @example const t = vtnTransport({ vtnUrl, material, profile: 'R4', expectVtn: { role: 'aggregator', id: 'AGG1' }, audit });
 */
export function vtnTransport(c: VtnConnection): OadrTransport {
  return httpsTransport(c.vtnUrl, { tls: vtnClientTls(c), maxSockets: c.maxSockets ?? 2, ...(c.timeoutMs !== undefined ? { timeoutMs: c.timeoutMs } : {}) });
}

export interface VenEndpointOptions extends VtnConnection {
  venName: string;
  /** An open store whose migrations include `openadrStoreMigrations`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  store: Store<any>;
  /**
   * Names this VEN's rows in the store (outbox `openadr-ven:<scope>`, registration `<scope>`,
   * nonces `ven:<scope>`); default venName. One store can hold several VENs (an aggregator's parties).
   */
  scope?: string;
  /**
   * Keep the registration across restarts (default true). False: register at every start (a
   * gateway, so the VTN's report requests are served again after a restart).
   */
  persistRegistration?: boolean;
  clock?: Clock;
  /** Run a push endpoint (mutual TLS) and register for the push model. */
  push?: { host?: string; port?: number; allowList: AllowList | AllowListConfig };
  /** Sign our payloads with our TLS key and ask the VTN to sign its (default false). */
  xmlSignature?: boolean;
  /** The VTN's certificate PEM, to verify its XML signatures. */
  vtnCertificatePem?: string;
  /** Wraps the transport to the VTN (tests: observe or tamper with the wire). */
  wrapTransport?: (t: OadrTransport) => OadrTransport;
  /** A transport instead of HTTPS to `vtnUrl` (tests with an in-process VTN engine); no TLS then. */
  transport?: OadrTransport;
  /** Called after every exchange with the VTN that got an answer (e.g. a gateway's fail-safe). */
  onContact?: () => void;
  /** Callbacks, report sources, back-off, limits, the distribute check... */
  ven?: Partial<Omit<VenOptions, 'venName' | 'transport' | 'clock' | 'audit' | 'outbox' | 'state' | 'pushAddress'>>;
  /** Start the poll loop right away (default true). */
  autoStart?: boolean;
}

export interface RunningVen {
  ven: Ven;
  /** Push endpoint, when configured. */
  pushServer?: OadrListener['server'];
  pushUrl?: string;
  outbox: StoreVenOutbox;
  /** The TLS client options towards the VTN (for other requests to it, e.g. the audit witness); none with `transport`. */
  tls: ReturnType<typeof clientTlsOptions> | undefined;
  /** Starts the loop (when built with autoStart: false). */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a VEN against its VTN over mutual TLS.
 * @example
 * const { ven } = await startVenEndpoint({ venName: 'AGG1', vtnUrl, material, audit, store,
 *   expectVtn: { role: 'tso', id: 'TSO1' }, ven: { onEvent: (e) => 'optIn', reports: [...] } });
 */
export async function startVenEndpoint(opts: VenEndpointOptions): Promise<RunningVen> {
  const clock = opts.clock ?? systemClock;
  const scope = opts.scope ?? opts.venName;
  const tls = opts.transport ? undefined : vtnClientTls(opts);
  const wire = opts.transport ?? httpsTransport(opts.vtnUrl, { tls: tls!, maxSockets: opts.maxSockets ?? 2, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) });
  const inner = opts.wrapTransport ? opts.wrapTransport(wire) : wire;
  const onContact = opts.onContact;
  const transport: OadrTransport = onContact
    ? {
      post: async (service, xml) => {
        const reply = await inner.post(service, xml);
        onContact();
        return reply;
      },
      close: () => inner.close(),
    }
    : inner;
  const outbox = new StoreVenOutbox(opts.store, `openadr-ven:${scope}`);
  // (A test with an in-process transport may give no material: nothing to sign with then.)
  const cred = (opts.material as TlsMaterial | undefined)?.credentials[0];
  let push: OadrListener | undefined;
  let handlePush: Ven['handlePush'] | undefined;
  if (opts.push) {
    push = await listenOadr((service, body) => (handlePush ? handlePush(service, body) : Promise.reject(new Error('not ready'))), {
      material: opts.material, profile: opts.profile ?? 'R1', allowList: opts.push.allowList, audit: opts.audit,
      listener: `${opts.venName}:openadr-push`, maxBodyBytes: opts.ven?.limits?.maxBytes ?? 1024 * 1024,
      ...(opts.push.host !== undefined ? { host: opts.push.host } : {}),
      ...(opts.push.port !== undefined ? { port: opts.push.port } : {}),
    });
  }
  // The VTN's accepted signature nonces live in our store: a replayed reply or push is refused after a restart too.
  const windowMs = opts.ven?.signatureWindowMs ?? 300_000;
  const nonces = opts.ven?.nonces ?? await StoreNonceCache.open(opts.store, { scope: `ven:${scope}`, windowMs }, clock.now());
  const ven = new Ven({
    ...opts.ven,
    nonces,
    signatureWindowMs: windowMs,
    venName: opts.venName,
    transport,
    clock,
    audit: opts.audit,
    outbox,
    ...(opts.persistRegistration !== false ? { state: new StoreVenState(opts.store, scope) } : {}),
    ...(push ? { pushAddress: push.url } : {}),
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
    tls,
    ...(push ? { pushServer: push.server, pushUrl: push.url } : {}),
    start: () => ven.start(),
    close: async () => {
      ven.stop();
      transport.close();
      if (nonces instanceof StoreNonceCache) await nonces.flush();
      await push?.close();
    },
  };
}
