/**
 * Mutual-TLS listeners: TLS options for node:tls / node:https servers, and a ready server
 * whose request handlers only ever see authenticated, allow-listed peers.
 */
import { createHash } from 'node:crypto';
import * as https from 'node:https';
import * as tls from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidInputError } from '../../core/errors.js';
import { onReloadSignal } from '../../core/reload-signal.js';
import { tlsProfile, type TlsProfile, type TlsProfileName } from './profiles.js';
import { TlsMaterial, type CrlReloadTrigger } from './material.js';
import { PeerAuthenticator, type PeerPolicy, type Refusal } from './authenticator.js';
import { enforceRevocationOnListener } from './revocation.js';

/** Options of {@link serverTlsOptions}. */
export interface ServerTlsSettings {
  /**
   * Session ticket keys (48 bytes). Give every worker of one listener the same keys so a peer
   * resumes on any of them; default: random per process (node's default).
   */
  ticketKeys?: Buffer;
  /** How long a session can be resumed, seconds; default 300 (node's default). */
  sessionTimeout?: number;
  /** Abort handshakes not finished within this many ms (audited); default 10 000. */
  handshakeTimeout?: number;
}

/**
 * TLS server options for an interface profile: our certificate(s), the CA(s) peers must chain
 * to, client certificates requested, TLS 1.2+ and the profile's suites in server order.
 *
 * `rejectUnauthorized` is false on purpose: the chain is still verified by OpenSSL, but the
 * decision is taken by {@link PeerAuthenticator} after the handshake so that refusals are
 * audited with the presented certificate. Use these options only through
 * {@link createMutualTlsServer}, or call `authenticator.authenticate(socket)` yourself on every
 * 'secureConnection' before reading from the socket.
 */
export function serverTlsOptions(material: TlsMaterial, profile: TlsProfileName | TlsProfile, settings: ServerTlsSettings = {}): tls.TlsOptions {
  const p = tlsProfile(profile);
  return {
    cert: material.credentials.map((c) => c.certPem),
    key: material.credentials.map((c) => c.keyPem),
    ca: material.caPem,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: p.minVersion,
    maxVersion: p.maxVersion,
    ciphers: p.ciphers,
    honorCipherOrder: true,
    ecdhCurve: 'X25519:P-256:P-384',
    // Sessions resumed on another listener or profile must not skip its client checks.
    sessionIdContext: createHash('sha256').update(`erab:${p.name}:${material.caPem}`).digest('hex').slice(0, 32),
    // A peer that opens connections and never completes the handshake holds resources; node's
    // default is 120 s. Timeouts surface as 'tlsClientError' and are audited.
    handshakeTimeout: settings.handshakeTimeout ?? 10_000,
    ...(settings.ticketKeys ? { ticketKeys: settings.ticketKeys } : {}),
    ...(settings.sessionTimeout !== undefined ? { sessionTimeout: settings.sessionTimeout } : {}),
  };
}

/** Options of {@link createMutualTlsServer}. */
export interface MutualTlsServerOptions extends PeerPolicy, ServerTlsSettings {
  material: TlsMaterial;
  profile: TlsProfileName | TlsProfile;
  /**
   * `https` (default): an https.Server; pass `handler` as its request listener.
   * `tls`: a tls.Server; `onConnection` receives each authenticated socket.
   */
  kind?: 'https' | 'tls';
  /** Extra options for https.createServer / tls.createServer (timeouts, keep-alive...). */
  serverOptions?: https.ServerOptions;
  /**
   * For a listener people reach with a browser (an operator console): the page a refused peer
   * gets instead of an empty reply (issue 16). It is answered as a fixed `403` before anything
   * the peer sends is parsed; it must not depend on the peer beyond the refusal's code.
   */
  refusalPage?: RefusalPage;
}

/** A fixed HTML page for a refused browser, chosen by the refusal's code. */
export type RefusalPage = (code: Refusal['code']) => string;

/** How long a refused browser has to read the page before the connection is cut. */
const REFUSAL_PAGE_LINGER_MS = 2000;
/** What a refused peer may send while it reads the page: drained unparsed, then cut. */
const REFUSAL_PAGE_MAX_DRAIN = 64 * 1024;

/**
 * Answers a refused socket with the page and closes it. The request is never parsed: the
 * bytes the browser sent are drained (bounded) only so that closing does not reset the
 * connection before the browser read the answer.
 */
function answerRefused(socket: tls.TLSSocket, html: string): void {
  const body = Buffer.from(html, 'utf8');
  const page = Buffer.concat([
    Buffer.from(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: ${body.length}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n`, 'latin1'),
    body,
  ]);
  let drained = 0;
  let answered = false;
  // The page goes out once the browser has sent (the start of) its request: a page written
  // before the request can be lost to a browser that finds the connection closed when it writes
  // (Chromium: ERR_SOCKET_NOT_CONNECTED). A peer that sends nothing is cut after the linger time.
  socket.on('data', (d: Buffer) => {
    drained += d.length;
    if (drained > REFUSAL_PAGE_MAX_DRAIN) socket.destroy();
    else if (!answered) {
      answered = true;
      socket.end(page);
    }
  });
  socket.on('error', () => socket.destroy());
  socket.setTimeout(REFUSAL_PAGE_LINGER_MS, () => socket.destroy());
}

/** What {@link createMutualTlsServer} returns. */
export interface MutualTlsServer<S extends tls.Server = tls.Server> {
  server: S;
  authenticator: PeerAuthenticator;
  /**
   * Re-reads the material's files (certificate, key, CA, CRL) and installs them for new
   * connections, e.g. after `erab pki rotate` or `erab pki crl`; open connections whose peer the
   * new CRL revokes are closed. Throws (keeping the old settings) on a bad file. Audited. SIGHUP
   * does the same for every listener of the process.
   */
  reload(trigger?: CrlReloadTrigger): Promise<void>;
}

/**
 * Wraps the server's 'secureConnection' listeners so they only see authenticated sockets:
 * each accepted socket is checked by `authenticator`, refused ones are destroyed (and
 * audited) before the HTTP parser or the application sees a byte. Also audits handshake
 * failures. Call once, after the server's own listeners are installed.
 */
export function guardServer(server: tls.Server, authenticator: PeerAuthenticator, refusalPage?: RefusalPage): void {
  // Live revocation: the CRL is watched while the server listens, and authenticated sockets
  // whose peer a new CRL revokes are closed (./revocation.ts).
  const track = enforceRevocationOnListener(server, authenticator.material, authenticator.audit, authenticator.listener);
  const inner = server.listeners('secureConnection') as ((s: tls.TLSSocket) => void)[];
  server.removeAllListeners('secureConnection');
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    let res;
    try {
      res = authenticator.authenticate(socket);
    } catch (err) {
      // The audit sink failed: never serve a peer we could not record; fail closed, loudly.
      socket.destroy();
      throw err;
    }
    if (!res.ok) {
      if (refusalPage) answerRefused(socket, refusalPage(res.refusal.code));
      else socket.destroy();
      return;
    }
    track(socket);
    for (const l of inner) l.call(server, socket);
  });
  server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
    try {
      authenticator.handshakeFailed(err, socket);
    } finally {
      socket.destroy(); // node usually has already; make sure a half-open handshake holds nothing
    }
  });
}

/**
 * Creates an https (default) or tls server that requires a client certificate from the
 * configured CA(s), not revoked, and on the allow-list; everything else is refused at the
 * handshake or right after it and audited as "tls.refused". Handlers read the peer with
 * `peerOf(req)` (O(1)).
 * @example
 * const { server } = createMutualTlsServer({ material, profile: 'R1', audit,
 *   allowList: { participants: ['aggregator:AGG1'] } }, (req, res) => {
 *   const peer = peerOf(req)!; // { role: 'aggregator', id: 'AGG1', fingerprint: 'AB:..' }
 *   res.end(`hello ${peer.id}`);
 * });
 * server.listen(0, '127.0.0.1');
 */
export function createMutualTlsServer(
  opts: MutualTlsServerOptions & { kind?: 'https' },
  handler?: (req: IncomingMessage, res: ServerResponse) => void,
): MutualTlsServer<https.Server>;
export function createMutualTlsServer(
  opts: MutualTlsServerOptions & { kind: 'tls' },
  onConnection?: (socket: tls.TLSSocket) => void,
): MutualTlsServer<tls.Server>;
export function createMutualTlsServer(
  opts: MutualTlsServerOptions,
  listener?: ((req: IncomingMessage, res: ServerResponse) => void) | ((socket: tls.TLSSocket) => void),
): MutualTlsServer {
  const profile = tlsProfile(opts.profile);
  const settings: ServerTlsSettings = {
    ...(opts.ticketKeys ? { ticketKeys: opts.ticketKeys } : {}),
    ...(opts.sessionTimeout !== undefined ? { sessionTimeout: opts.sessionTimeout } : {}),
    ...(opts.handshakeTimeout !== undefined ? { handshakeTimeout: opts.handshakeTimeout } : {}),
  };
  const tlsOpts = { ...opts.serverOptions, ...serverTlsOptions(opts.material, profile, settings) };
  const server: tls.Server = opts.kind === 'tls'
    ? tls.createServer(tlsOpts, listener as ((s: tls.TLSSocket) => void) | undefined)
    : https.createServer(tlsOpts, listener as ((req: IncomingMessage, res: ServerResponse) => void) | undefined);
  const authenticator = new PeerAuthenticator(opts.material, { ...opts, profile: profile.name });
  guardServer(server, authenticator, opts.kind === 'tls' ? undefined : opts.refusalPage);
  const material = opts.material;
  const audit = opts.audit;
  const actor = { kind: 'system' as const, id: authenticator.listener };
  if (material.insecureKeyFiles.length > 0) {
    audit.append({
      actor, action: 'tls.insecure_key_mode', target: authenticator.listener, outcome: 'success',
      reason: 'private key file(s) readable by group or others loaded because ERAB_ALLOW_INSECURE_KEY_MODE / allowInsecureKeyMode is set',
      details: { files: [...material.insecureKeyFiles] },
    });
  }

  /** Certificate(s), key(s) and CA(s) from the files, into the context for new connections. */
  const reloadCredentials = async (trigger: CrlReloadTrigger): Promise<void> => {
    if (!material.files) throw new InvalidInputError('this TLS material was not loaded from files; nothing to reload');
    const { crlFile: _crl, ...files } = material.files;
    try {
      const fresh = await TlsMaterial.fromFiles(files);
      server.setSecureContext({ ...opts.serverOptions, ...serverTlsOptions(fresh, profile, settings) });
      audit.append({
        actor, action: 'tls.credentials_reloaded', target: authenticator.listener, outcome: 'success',
        details: { trigger, certificates: fresh.credentials.map((c) => ({ serial: c.identity.serial, fingerprint: c.identity.fingerprint })) },
      });
    } catch (err) {
      audit.append({
        actor, action: 'tls.credentials_reload_failed', target: authenticator.listener, outcome: 'failure',
        reason: `${(err as Error).message.slice(0, 300)}; the previous certificate and key stay in use`, details: { trigger },
      });
      throw err;
    }
  };
  const reload = async (trigger: CrlReloadTrigger = 'api'): Promise<void> => {
    await reloadCredentials(trigger);
    // The authenticator keeps using `material`; only its revocation list changes at run time.
    if (material.files?.crlFile) await material.reloadCrl(undefined, { trigger });
  };

  // SIGHUP reloads the certificate and key of every listening server (its CRL is reloaded by
  // the material's own watcher, which registered for SIGHUP as well; see material.ts).
  let offSignal: (() => void) | undefined;
  server.on('listening', () => {
    if (material.files && !offSignal) offSignal = onReloadSignal(() => reloadCredentials('signal').catch(() => { /* audited */ }));
  });
  server.on('close', () => {
    offSignal?.();
    offSignal = undefined;
  });
  return { server, authenticator, reload };
}
