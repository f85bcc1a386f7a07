/**
 * The VTN endpoint, assembled one way for every role that runs a VTN: the TSO and retailer (R1/R2),
 * a coordinator, the aggregator downstream (R4 to gateways, R3 to resource aggregators below it)
 * and `erab openadr vtn`.
 *
 * It joins the protocol engine (protocols/openadr/vtn.ts) to:
 * - the one OpenADR listener (listener.ts): mutual TLS with allow-list, CRL live reload and the
 *   lean HTTP/1.1 layer; HTTP refusals audited; extra routes (the audit witness);
 * - the data layer: the engine's state (StoreVtnStore) and the accepted signature nonces
 *   (StoreNonceCache), so a restarted VTN — or another worker over the same store — knows them;
 * - the venID ↔ certificate binding (ERAB guideline §3.3, §3.3.1) before any role hook;
 * - the push client (mutual TLS to VENs that registered for the push model);
 * - XML signatures with our own TLS key for VENs that asked for them.
 *
 * The engine and its store are built in one place, `buildVtn`, separate from listening, so a
 * worker process (node:cluster) can build its own engine over the shared store and listen on
 * the shared handle.
 */
import type { Server } from 'node:tls';
import { systemClock, type Clock } from '../../core/clock.js';
import { type ExtraRoute, type OadrServiceHandler, httpsPushClient } from '../../protocols/openadr/http.js';
import type { Http1Limits } from '../../protocols/openadr/http1.js';
import { Vtn, type AdmitDecision, type VtnOptions } from '../../protocols/openadr/vtn.js';
import type { VtnStore } from '../../protocols/openadr/vtn-store.js';
import type { AllowList, AllowListConfig } from '../../security/allow-list.js';
import type { AuditSink } from '../../security/audit/types.js';
import { clientTlsOptions, type ServerTlsSettings, type TlsMaterial, type TlsProfileName } from '../../security/tls.js';
import type { Store } from '../../store/store.js';
import { listenOadr } from './listener.js';
import { StoreNonceCache } from './nonce-store.js';
import { StoreVtnStore } from './store.js';

/** What the engine is built from (see {@link buildVtn}). */
export interface VtnEngineOptions {
  vtnID: string;
  /** Our certificate/key (signing key for XML signatures, client certificate for push), trusted CA(s) and CRL. */
  material: TlsMaterial;
  /** Interface profile (R1 TSO, R2 retailer, R3 aggregator, R4 gateway); default R1. */
  profile?: TlsProfileName;
  audit: AuditSink;
  /** An open store whose migrations include `openadrStoreMigrations`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  store: Store<any>;
  /**
   * The engine's state over `store` (default a StoreVtnStore): a role may pass its own subclass,
   * e.g. one that relays what a worker process receives to its primary.
   */
  vtnStore?: VtnStore;
  clock?: Clock;
  /**
   * Bind venID to the certificate's participant id (default true): a VEN may only register as the
   * id its certificate names; false lets the VEN choose (still bound to its fingerprint).
   */
  venIdFromCertificate?: boolean;
  /** Certificate roles that may register (default: any the allow-list let through). */
  roles?: readonly string[];
  /** Sign outgoing payloads for VENs that asked for XML signatures, with our TLS key (default true). */
  signXml?: boolean;
  /** Everything else the engine takes (hooks, poll frequency, signature policy, limits...). */
  vtn?: Partial<Omit<VtnOptions, 'vtnID' | 'store' | 'clock' | 'audit' | 'push'>>;
}

export interface VtnEndpointOptions extends VtnEngineOptions {
  /** Which client certificates may connect (and therefore register). */
  allowList: AllowList | AllowListConfig;
  host?: string;
  /** 0 (default) for an ephemeral port. */
  port?: number;
  /** Name in audit records (default `<vtnID>:openadr`). */
  listener?: string;
  /** Extra POST endpoints on the same listener (e.g. the audit witness, src/roles/common/witnessing.ts). */
  routes?: ReadonlyMap<string, ExtraRoute>;
  /**
   * Limits of the HTTP layer (head bytes, header count, chunk count, hard body limit); the body
   * limit itself is `vtn.limits.maxBytes`. Refused requests are audited as "http.refused",
   * rate-limited per source address like TLS refusals.
   */
  http1?: Omit<Http1Limits, 'maxBodyBytes'>;
  /** TLS session settings of the listener (e.g. ticket keys shared by workers). */
  tls?: ServerTlsSettings;
  /** Wraps the request handler, e.g. to time every request into a role's metrics (src/roles/common/health.ts). */
  instrument?: (handler: OadrServiceHandler) => OadrServiceHandler;
}

/** The engine with what it was built over. */
export interface VtnEngine {
  vtn: Vtn;
  /** The engine's state in the data layer (registrations, events, queues, report registrations). */
  vtnStore: VtnStore;
  /** Flushes the nonce cache and closes the push client. */
  close(): Promise<void>;
}

export interface RunningVtn extends VtnEngine {
  server: Server;
  port: number;
  /** Base URL VENs use, e.g. https://127.0.0.1:40123 */
  url: string;
  /** Re-reads certificate, key, CA and CRL files (after rotation or revocation). */
  reload(): Promise<void>;
}

/**
 * Builds the VTN engine over the store: state, nonces, push client, signing key, the venID ↔
 * certificate binding. Does not listen (see {@link startVtnEndpoint}); call `vtn.start()`.
 */
export async function buildVtn(opts: VtnEngineOptions, how: { confirmOnWrite?: boolean } = {}): Promise<VtnEngine> {
  const profile = opts.profile ?? 'R1';
  const clock = opts.clock ?? systemClock;
  const push = httpsPushClient({ tls: clientTlsOptions(opts.material, profile, { audit: opts.audit }) });
  const bindToCert = opts.venIdFromCertificate ?? true;
  const roles = opts.roles;
  const userAdmit = opts.vtn?.admit;
  const signingCred = opts.material.credentials[0];
  // Accepted signature nonces live in the VTN's store, so a replay is refused after a restart too.
  const windowMs = opts.vtn?.signatureWindowMs ?? 300_000;
  const nonces = opts.vtn?.nonces ?? await StoreNonceCache.open(opts.store, { scope: `vtn:${opts.vtnID}`, windowMs }, clock.now());
  const vtnStore = opts.vtnStore ?? new StoreVtnStore(opts.store, opts.vtnID);
  const vtn = new Vtn({
    ...opts.vtn,
    nonces,
    signatureWindowMs: windowMs,
    vtnID: opts.vtnID,
    store: vtnStore,
    // Stateless between polls: other workers on this store hear of our changes (docs/scale.md),
    // and behind our own listener an answer leaves the VEN's queue only once written to its socket.
    ...(opts.store.wake ? { wake: opts.store.wake } : {}),
    ...(how.confirmOnWrite ? { confirm: 'sent' as const } : {}),
    clock,
    audit: opts.audit,
    push,
    ...(opts.signXml !== false && signingCred ? { signingKey: { privateKeyPem: signingCred.keyPem, certificatePem: signingCred.certPem } } : {}),
    admit: (peer, request): AdmitDecision => {
      if (roles && !roles.includes(peer.role ?? '')) return { allowed: false, reason: `role ${peer.role ?? 'none'} may not register with ${opts.vtnID}` };
      if (bindToCert) {
        if (!peer.id) return { allowed: false, reason: 'certificate carries no participant id' };
        if (request.venID !== undefined && request.venID !== peer.id) return { allowed: false, reason: `venID ${request.venID} is not the certificate's participant ${peer.id}` };
      }
      const user = userAdmit?.(peer, request);
      if (user && !user.allowed) return user;
      return { allowed: true, venID: (user?.allowed ? user.venID : undefined) ?? (bindToCert ? peer.id : undefined) ?? request.venID ?? peer.id ?? '' };
    },
  });
  return {
    vtn,
    vtnStore,
    close: async () => {
      await vtn.stop();
      push.close();
      if (nonces instanceof StoreNonceCache) await nonces.flush();
    },
  };
}

/**
 * Starts a VTN endpoint: builds the engine, starts it, listens on mutual TLS.
 * @example
 * const store = await openStore({ url: 'tso.db', migrations: openadrStoreMigrations });
 * const { vtn, url } = await startVtnEndpoint({ vtnID: 'TSO1', material, audit, store,
 *   allowList: { participants: ['aggregator:AGG1'] } });
 * await vtn.createEvent({ marketContext: 'http://tso/tertiary2', activePeriod, signals });
 */
export async function startVtnEndpoint(opts: VtnEndpointOptions): Promise<RunningVtn> {
  const engine = await buildVtn(opts, { confirmOnWrite: true });
  try {
    await engine.vtn.start();
    const listener = await listenOadr(opts.instrument ? opts.instrument(engine.vtn.handle) : engine.vtn.handle, {
      material: opts.material,
      profile: opts.profile ?? 'R1',
      allowList: opts.allowList,
      audit: opts.audit,
      listener: opts.listener ?? `${opts.vtnID}:openadr`,
      maxBodyBytes: opts.vtn?.limits?.maxBytes ?? 1024 * 1024,
      ...(opts.host !== undefined ? { host: opts.host } : {}),
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      ...(opts.routes ? { routes: opts.routes } : {}),
      ...(opts.http1 ? { http1: opts.http1 } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
      onWritten: (peer) => void engine.vtn.sent(peer).catch(() => {}),
    });
    return {
      ...engine,
      server: listener.server,
      port: listener.port,
      url: listener.url,
      reload: listener.reload,
      close: async () => {
        await listener.close();
        await engine.close();
      },
    };
  } catch (err) {
    await engine.close();
    throw err;
  }
}
