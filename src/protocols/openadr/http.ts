/**
 * OpenADR 2.0b simple HTTP transport (Profile Specification §9 "Simple HTTP"): every payload is
 * an HTTP POST of an oadrPayload to `<base>/OpenADR2/Simple/2.0b/<Service>`, the reply is the
 * response payload in the HTTP 200 body. Errors in the payload are answered in ei:eiResponse,
 * never with an HTTP error status, so this module only uses 4xx for requests that are not
 * OpenADR at all (wrong method or path).
 *
 * Server side: a small router usable with any node http(s) server (mutual TLS is wired in the
 * roles layer). Client side: a keep-alive HTTPS transport taking node TLS options.
 */
import * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as tls from 'node:tls';
import { guardClientSocket } from '../../core/socket-guard.js';
import { OadrError, OadrResponseCode } from './errors.js';
import { SERVICE_NAMES, type ServiceName } from './register-party.js';

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

export interface ListenerOptions {
  /** Extra POST endpoints by exact path (no query string), e.g. `/erab/witness/add-checkpoint`. */
  routes?: ReadonlyMap<string, ExtraRoute>;
  /** Resolves the authenticated peer of a request; requests without one are refused (403). */
  peerOf: (req: IncomingMessage) => OadrPeer | undefined;
  /** Largest body buffered; larger bodies are drained and answered by the handler's 454 path. */
  maxBodyBytes?: number;
  /** Bodies beyond this are not even drained: the connection is closed. */
  hardLimitBytes?: number;
}

const SERVICES = new Set<string>(SERVICE_NAMES);

/**
 * A node `request` listener routing `/OpenADR2/Simple/2.0b/<Service>` POSTs to `handler`.
 * @example https.createServer(tlsOpts, createOadrListener(vtn.handle, { peerOf }))
 */
export function createOadrListener(handler: OadrServiceHandler, opts: ListenerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const max = opts.maxBodyBytes ?? 1024 * 1024;
  const hard = opts.hardLimitBytes ?? 16 * max;
  return (req, res) => {
    const url = req.url ?? '';
    const route = opts.routes?.get(url);
    if (route) {
      serveExtraRoute(route, req, res, opts, max);
      return;
    }
    const service = url.startsWith(SERVICE_PREFIX) ? url.slice(SERVICE_PREFIX.length).replace(/[?#].*$/, '').replace(/\/$/, '') : '';
    if (!SERVICES.has(service)) {
      req.resume();
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not an OpenADR 2.0b service\n');
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' }).end('POST only\n');
      return;
    }
    const peer = opts.peerOf(req);
    if (!peer) {
      req.resume();
      res.writeHead(403, { 'content-type': 'text/plain' }).end('client certificate required\n');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > hard) {
        req.socket.destroy();
        return;
      }
      if (size <= max) chunks.push(c);
    });
    req.on('end', () => {
      // An oversize body reaches the handler truncated-by-marker: it answers 454 in eiResponse.
      const body = size > max ? OVERSIZE : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      handler(service as ServiceName, body, peer).then(
        (xml) => {
          res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
          res.end(xml);
        },
        () => {
          res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n');
        },
      );
    });
    req.on('error', () => res.destroy());
  };
}

/** One extra route on the node:https listener: POST only, authenticated peer, body up to `max` (413 beyond). */
function serveExtraRoute(route: ExtraRoute, req: IncomingMessage, res: ServerResponse, opts: ListenerOptions, max: number): void {
  if (req.method !== 'POST') {
    req.resume();
    res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' }).end('POST only\n');
    return;
  }
  const peer = opts.peerOf(req);
  if (!peer) {
    req.resume();
    res.writeHead(403, { 'content-type': 'text/plain' }).end('client certificate required\n');
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > max) {
      req.socket.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    route(Buffer.concat(chunks, size), peer).then(
      (r) => res.writeHead(r.status, { 'content-type': r.contentType, 'content-length': Buffer.byteLength(r.body) }).end(r.body),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n'),
    );
  });
  req.on('error', () => res.destroy());
}

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
  timeoutMs?: number;
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
        req.on('socket', (s) => guardClientSocket(opts.tls, s as tls.TLSSocket));
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
