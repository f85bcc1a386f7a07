/**
 * A small HTTP/1.1 server for the OpenADR simple-HTTP transport, run directly on an already
 * authenticated TLS socket. It exists for speed: measured by bench/vtn.ts, node:http's request
 * machinery costs about three times the CPU of TLS itself per oadrPoll, and a VTN serving
 * hundreds of thousands of gateways spends most of its time there.
 *
 * It implements exactly what OpenADR clients send (RFC 9112): POST with Content-Length or chunked
 * bodies, keep-alive and `Connection: close`, HTTP/1.0, `Expect: 100-continue`, pipelined
 * requests answered in order. Everything is bounded: head size, body size (an oversize body is
 * drained and answered with the handler's 454, a body past the hard limit closes the connection),
 * chunk sizes, idle and slow-head timeouts. Anything else gets a 4xx/5xx and the connection closes.
 */
import type { TLSSocket } from 'node:tls';
import { type ExtraRoute, type OadrPeer, type OadrServiceHandler, OVERSIZE, SERVICE_PREFIX } from './http.js';
import { SERVICE_NAMES, type ServiceName } from './register-party.js';

export interface Http1Options {
  /** Largest body handed to the handler (bytes); larger ones are drained and replaced by OVERSIZE. */
  maxBodyBytes?: number;
  /** Bodies past this close the connection without being drained. */
  hardLimitBytes?: number;
  /** Largest request head (request line + headers). */
  maxHeadBytes?: number;
  /** Idle keep-alive connections are closed after this (ms). */
  idleTimeoutMs?: number;
  /** A request must arrive completely within this once started (ms). */
  requestTimeoutMs?: number;
  /** Extra POST endpoints by exact path (see ExtraRoute in ./http.ts). */
  routes?: ReadonlyMap<string, ExtraRoute>;
}

const SERVICES = new Set<string>(SERVICE_NAMES);
const CRLFCRLF = Buffer.from('\r\n\r\n');

function response(status: number, reason: string, body: string, contentType: string, close: boolean, extra = ''): Buffer {
  const len = Buffer.byteLength(body);
  return Buffer.from(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: ${contentType}\r\ncontent-length: ${len}\r\n${close ? 'connection: close\r\n' : 'connection: keep-alive\r\n'}${extra}\r\n${body}`);
}

interface Head {
  method: string;
  path: string;
  http10: boolean;
  contentLength: number | undefined;
  chunked: boolean;
  close: boolean;
  expectContinue: boolean;
}

function parseHead(text: string): Head | string {
  const lines = text.split('\r\n');
  const m = /^([A-Z]{1,16}) (\S{1,2048}) HTTP\/1\.([01])$/.exec(lines[0] ?? '');
  if (!m) return 'malformed request line';
  const head: Head = { method: m[1] as string, path: m[2] as string, http10: m[3] === '0', contentLength: undefined, chunked: false, close: m[3] === '0', expectContinue: false };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const c = line.indexOf(':');
    if (c <= 0 || /\s/.test(line.slice(0, c))) return 'malformed header';
    const name = line.slice(0, c).toLowerCase();
    const value = line.slice(c + 1).trim();
    if (name === 'content-length') {
      if (!/^\d{1,15}$/.test(value) || (head.contentLength !== undefined && head.contentLength !== Number(value))) return 'bad content-length';
      head.contentLength = Number(value);
    } else if (name === 'transfer-encoding') {
      if (value.toLowerCase() !== 'chunked') return 'unsupported transfer-encoding';
      head.chunked = true;
    } else if (name === 'connection') {
      const v = value.toLowerCase();
      if (v.includes('close')) head.close = true;
      else if (v.includes('keep-alive') && head.http10) head.close = false;
    } else if (name === 'expect') {
      if (value.toLowerCase() !== '100-continue') return 'unsupported expectation';
      head.expectContinue = true;
    }
  }
  // RFC 9112 §6.3: both framings at once is a smuggling vector; refuse.
  if (head.chunked && head.contentLength !== undefined) return 'both content-length and chunked';
  return head;
}

/**
 * Serves OpenADR requests on one authenticated TLS socket until it closes.
 * @example createMutualTlsServer({ kind: 'tls', ... }, (s) => serveHttp1(s, vtn.handle, peerFor(s)))
 */
export function serveHttp1(socket: TLSSocket, handler: OadrServiceHandler, peer: OadrPeer, opts: Http1Options = {}): void {
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const hard = opts.hardLimitBytes ?? 16 * maxBody;
  const maxHead = opts.maxHeadBytes ?? 16 * 1024;
  const idleMs = opts.idleTimeoutMs ?? 120_000;
  const requestMs = opts.requestTimeoutMs ?? 30_000;

  let buf: Buffer = Buffer.alloc(0);
  // A polling VEN gets the same (pre-serialized) empty answer again and again: keep its bytes.
  let lastXml: string | undefined;
  let lastResponse: Buffer | undefined;
  let busy = false; // a request is with the handler; pipelined bytes wait in buf
  let closing = false;
  let requestTimer: NodeJS.Timeout | undefined;

  socket.setNoDelay(true);
  socket.setTimeout(idleMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('close', () => clearTimeout(requestTimer));

  const fail = (status: number, reason: string, why: string): void => {
    closing = true;
    socket.end(response(status, reason, `${why}\n`, 'text/plain', true));
  };

  const startRequestTimer = (): void => {
    if (!requestTimer) requestTimer = setTimeout(() => socket.destroy(), requestMs);
  };
  const stopRequestTimer = (): void => {
    clearTimeout(requestTimer);
    requestTimer = undefined;
  };

  /** Decodes a chunked body starting at `start`: the body and where the message ends, undefined when incomplete, or an error text. */
  const dechunk = (start: number): { body: Buffer; end: number } | undefined | string => {
    const parts: Buffer[] = [];
    let size = 0;
    let pos = start;
    for (;;) {
      const eol = buf.indexOf('\r\n', pos);
      if (eol < 0) return buf.length - pos > 64 ? 'malformed chunk size' : undefined;
      const sizeText = buf.subarray(pos, eol).toString('latin1').split(';', 1)[0]?.trim() ?? '';
      if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) return 'malformed chunk size';
      const n = parseInt(sizeText, 16);
      if (n === 0) {
        // Last chunk; optional trailers (ignored) end with an empty line.
        if (buf.length < eol + 4) return undefined;
        let endAt: number;
        if (buf[eol + 2] === 0x0d && buf[eol + 3] === 0x0a) endAt = eol + 4;
        else {
          const t = buf.indexOf(CRLFCRLF, eol + 2);
          if (t < 0) return buf.length - eol > maxHead ? 'trailers too large' : undefined;
          endAt = t + 4;
        }
        return { body: size > maxBody ? OVERSIZE : Buffer.concat(parts, size), end: endAt };
      }
      size += n;
      if (size > hard) return 'body too large';
      if (buf.length < eol + 2 + n + 2) return undefined;
      if (size <= maxBody) parts.push(buf.subarray(eol + 2, eol + 2 + n));
      if (buf[eol + 2 + n] !== 0x0d || buf[eol + 3 + n] !== 0x0a) return 'malformed chunk';
      pos = eol + 4 + n;
    }
  };

  let sentContinue = false;
  const maybeContinue = (head: Head, avail: number): void => {
    if (head.expectContinue && avail === 0 && !sentContinue) {
      sentContinue = true;
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    }
  };

  const pump = (): void => {
    // The request timer only runs while a request is incomplete (a whole request in one read,
    // the usual case, arms no timer at all).
    while (!busy && !closing && buf.length > 0) {
      const he = buf.indexOf(CRLFCRLF);
      if (he < 0) {
        if (buf.length > maxHead) fail(431, 'Request Header Fields Too Large', 'request head too large');
        else startRequestTimer();
        return;
      }
      if (he > maxHead) return fail(431, 'Request Header Fields Too Large', 'request head too large');
      const head = parseHead(buf.subarray(0, he).toString('latin1'));
      if (typeof head === 'string') return fail(400, 'Bad Request', head);
      const avail = buf.length - (he + 4);
      let body: Buffer;
      let end: number;
      if (head.chunked) {
        maybeContinue(head, avail);
        const r = dechunk(he + 4);
        if (r === undefined) {
          startRequestTimer();
          return;
        }
        if (typeof r === 'string') return r === 'body too large' ? fail(413, 'Content Too Large', r) : fail(400, 'Bad Request', r);
        body = r.body;
        end = r.end;
      } else {
        const len = head.contentLength ?? 0;
        if (len > hard) return fail(413, 'Content Too Large', 'body too large');
        if (avail < len) {
          maybeContinue(head, avail);
          if (len > maxBody) {
            // Drain an oversize body without buffering it; it is answered (454) once fully read.
            oversizePending = { head, remaining: len - avail };
            buf = Buffer.alloc(0);
          }
          startRequestTimer();
          return;
        }
        body = len > maxBody ? OVERSIZE : Buffer.from(buf.subarray(he + 4, he + 4 + len));
        end = he + 4 + len;
      }
      buf = buf.subarray(end);
      stopRequestTimer();
      sentContinue = false;
      dispatch(head, body);
    }
  };

  let oversizePending: { head: Head; remaining: number } | undefined;

  const dispatch = (head: Head, body: Buffer): void => {
    const close = head.close;
    const route = head.method === 'POST' && body !== OVERSIZE ? opts.routes?.get(head.path) : undefined;
    if (route) {
      busy = true;
      route(body, peer).catch(() => ({ status: 500, contentType: 'text/plain', body: 'internal error\n' })).then((r) => {
        busy = false;
        if (socket.destroyed) return;
        socket.write(response(r.status, r.status === 200 ? 'OK' : 'Error', r.body, r.contentType, close));
        if (close) { closing = true; socket.end(); } else pump();
      });
      return;
    }
    const service = head.path.startsWith(SERVICE_PREFIX) ? head.path.slice(SERVICE_PREFIX.length).replace(/[?#].*$/, '').replace(/\/$/, '') : '';
    if (!SERVICES.has(service)) {
      socket.write(response(404, 'Not Found', 'not an OpenADR 2.0b service\n', 'text/plain', close));
      if (close) { closing = true; socket.end(); }
      return;
    }
    if (head.method !== 'POST') {
      socket.write(response(405, 'Method Not Allowed', 'POST only\n', 'text/plain', close, 'allow: POST\r\n'));
      if (close) { closing = true; socket.end(); }
      return;
    }
    busy = true;
    handler(service as ServiceName, body, peer).then(
      (xml) => {
        busy = false;
        if (socket.destroyed) return;
        if (close) socket.write(response(200, 'OK', xml, 'application/xml', true));
        else {
          if (xml !== lastXml) {
            lastXml = xml;
            lastResponse = response(200, 'OK', xml, 'application/xml', false);
          }
          socket.write(lastResponse as Buffer);
        }
        if (close) {
          closing = true;
          socket.end();
        } else pump();
      },
      () => {
        busy = false;
        fail(500, 'Internal Server Error', 'internal error');
      },
    );
  };

  socket.on('data', (d: Buffer) => {
    if (closing) return;
    if (oversizePending) {
      // Skip the rest of an oversize body, then answer it like any other (handler → 454).
      const take = Math.min(d.length, oversizePending.remaining);
      oversizePending.remaining -= take;
      if (oversizePending.remaining > 0) return;
      const { head } = oversizePending;
      oversizePending = undefined;
      stopRequestTimer();
      sentContinue = false;
      buf = d.subarray(take);
      dispatch(head, OVERSIZE);
      pump();
      return;
    }
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    // Pipelined requests wait while one is with the handler; bound what they may pile up.
    if (buf.length > hard + maxHead) {
      socket.destroy();
      return;
    }
    pump();
  });
}
