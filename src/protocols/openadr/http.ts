/**
 * OpenADR 2.0b simple HTTP transport (Profile Specification §9 "Simple HTTP"): every payload is
 * an HTTP POST of an oadrPayload to `<base>/OpenADR2/Simple/2.0b/<Service>`, the reply is the
 * response payload in the HTTP 200 body. Errors in the payload are answered in ei:eiResponse,
 * never with an HTTP error status; a listener uses 4xx only for requests that are not OpenADR at
 * all (wrong method or path).
 *
 * Server side: the shared types (peer, service handler, extra routes, oversize marker); the
 * listener itself is the endpoint layer's (src/endpoints/openadr/listener.ts, mutual TLS with the
 * lean HTTP/1 layer in http1.ts). Client side: a keep-alive HTTPS transport taking node TLS options.
 */
import * as https from 'node:https';
import type * as tls from 'node:tls';
import { guardClientSocket } from '../../core/socket-guard.js';
import { OadrError, OadrResponseCode } from './errors.js';
import type { ServiceName } from './register-party.js';

export const SERVICE_PREFIX = '/OpenADR2/Simple/2.0b/';

/** The authenticated peer behind a request, as the TLS layer established it. */
export interface OadrPeer {
  /** OpenADR fingerprint of the client certificate (last 10 bytes of SHA-256, colon hex). */
  fingerprint: string;
  /** Participant id / role from the certificate, when it carries one. */
  id?: string;
  role?: string;
  address?: string;
  /** The client certificate as PEM (for XML signature checks); computed on demand. */
  certificatePem?: () => string | undefined;
}

/** The protocol engine behind an endpoint: takes a service and body, returns the reply XML. */
export type OadrServiceHandler = (service: ServiceName, body: Buffer, peer: OadrPeer) => Promise<string>;

/**
 * A non-OpenADR endpoint served on the same listener, behind the same mutual TLS and allow-list
 * (e.g. the audit witness's add-checkpoint). POST only; the body is bounded like a payload's.
 */
export type ExtraRoute = (body: Buffer, peer: OadrPeer) => Promise<{ status: number; contentType: string; body: string }>;

/** Marker body for "larger than allowed": decodes as too large for any limit. */
export const OVERSIZE: Buffer = Buffer.alloc(0);
/** True when the listener replaced an oversize body with the marker. */
export const isOversize = (b: Buffer): boolean => b === OVERSIZE;

/** How a client sends payloads to a peer's services. */
export interface OadrTransport {
  /** POSTs `xml` to the peer's service and resolves to the reply body. Rejects on transport failure only. */
  post(service: ServiceName, xml: string): Promise<string>;
  close(): void;
}

export interface HttpsTransportOptions {
  /** TLS options (our certificate, CA, server checks) — from the security layer. */
  tls: tls.ConnectionOptions;
  /** How long a request may go without any traffic (default 30 s). */
  timeoutMs?: number;
  /**
   * How long a new connection may take to complete its TLS handshake (default 10 s, never more
   * than `timeoutMs`). A peer that accepted the connection and never starts TLS (a VTN worker
   * killed while its connection was being handed to it) is given up after this, not `timeoutMs`.
   */
  handshakeTimeoutMs?: number;
  maxSockets?: number;
  maxResponseBytes?: number;
}

/**
 * A keep-alive HTTPS transport to `baseUrl` (e.g. `https://127.0.0.1:8443`), mutual TLS through
 * the given TLS options.
 */
export function httpsTransport(baseUrl: string, opts: HttpsTransportOptions): OadrTransport {
  const base = new URL(baseUrl);
  const agent = new https.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 4, ...opts.tls });
  const timeout = opts.timeoutMs ?? 30_000;
  const handshakeTimeout = Math.min(opts.handshakeTimeoutMs ?? 10_000, timeout);
  const maxBytes = opts.maxResponseBytes ?? 4 * 1024 * 1024;
  const prefix = base.pathname.replace(/\/$/, '');
  return {
    post(service, xml) {
      return new Promise((resolve, reject) => {
        const req = https.request({
          agent,
          host: base.hostname.replace(/^\[|\]$/g, ''),
          port: base.port || 443,
          method: 'POST',
          path: `${prefix}${SERVICE_PREFIX}${service}`,
          headers: { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) },
          timeout,
        }, (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > maxBytes) {
              res.destroy(new Error(`reply from ${service} larger than ${maxBytes} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) reject(new OadrError(OadrResponseCode.OTHER, `${service}: HTTP ${res.statusCode ?? '?'} ${text.slice(0, 200)}`));
            else resolve(text);
          });
          res.on('error', reject);
        });
        // Live revocation: a connection to a VTN whose certificate gets revoked is closed.
        req.on('socket', (s) => {
          guardClientSocket(opts.tls, s as tls.TLSSocket);
          if (req.reusedSocket) return;
          const handshake = setTimeout(() => req.destroy(new Error(`${service}: no TLS handshake with ${base.host} within ${handshakeTimeout} ms`)), handshakeTimeout);
          const done = (): void => clearTimeout(handshake);
          s.once('secureConnect', done);
          s.once('close', done);
        });
        req.on('timeout', () => req.destroy(new Error(`${service}: no reply within ${timeout} ms`)));
        req.on('error', reject);
        req.end(xml);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

/** A keep-alive HTTPS client POSTing to arbitrary VEN push URLs (the VTN's push transport). */
export function httpsPushClient(opts: HttpsTransportOptions): { post(url: string, xml: string): Promise<string>; close(): void } {
  const cache = new Map<string, OadrTransport>();
  return {
    post(url, xml) {
      const u = new URL(url);
      const i = u.pathname.indexOf(SERVICE_PREFIX);
      if (i < 0) return Promise.reject(new Error(`push URL ${url} has no ${SERVICE_PREFIX} path`));
      const base = `${u.protocol}//${u.host}${u.pathname.slice(0, i)}`;
      let t = cache.get(base);
      if (!t) {
        t = httpsTransport(base, opts);
        cache.set(base, t);
      }
      return t.post(u.pathname.slice(i + SERVICE_PREFIX.length) as ServiceName, xml);
    },
    close() {
      for (const t of cache.values()) t.close();
      cache.clear();
    },
  };
}
