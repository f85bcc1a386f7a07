/**
 * A small HTTP/1.1 server for the OpenADR simple-HTTP transport, run directly on an already
 * authenticated TLS socket. It exists for speed: measured by bench/vtn.ts, node:http's request
 * machinery costs about three times the CPU of TLS itself per oadrPoll, and a VTN serving
 * hundreds of thousands of gateways spends most of its time there.
 *
 * It implements exactly what OpenADR clients send (RFC 9112): POST with Content-Length or chunked
 * bodies, keep-alive and `Connection: close`, HTTP/1.0, `Expect: 100-continue`, pipelined
 * requests answered in order. Parsing (./http1-parser.ts) is incremental and linear in the input,
 * and bounded: head size, header count, chunk count, body size (an oversize body is drained and
 * answered with the handler's 454, a body past the hard limit is refused with 413), idle and
 * slow-request timeouts. A framing the server refuses gets its 4xx/5xx, the connection closes,
 * and `onRefusal` is told (the VTN audits it per source address, rate-limited).
 *
 * Two blocks: the connection (bytes in, parser, timers, refusals) and the routing (service name
 * → handler), kept apart so routes can be added without touching the parsing.
 */
import type { Socket } from 'node:net';
import { type ExtraRoute, type OadrPeer, type OadrServiceHandler, OVERSIZE, SERVICE_PREFIX } from './http.js';
import { Http1Parser, type Http1Limits, type Http1Refusal, type RequestHead } from './http1-parser.js';
import { SERVICE_NAMES, type ServiceName } from './register-party.js';

export type { Http1Limits } from './http1-parser.js';

/** A request refused for its framing (what `onRefusal` receives); never holds body bytes. */
export interface Http1RefusalEvent {
  /** HTTP status answered (400, 411, 413, 417, 431, 501, 505...). */
  status: number;
  /** Which rule the request broke, e.g. "more than 4096 chunks in one body". */
  reason: string;
}

export interface Http1Options extends Http1Limits {
  /** Idle keep-alive connections are closed after this (ms). */
  idleTimeoutMs?: number;
  /** A request must arrive completely within this once started (ms). */
  requestTimeoutMs?: number;
  /** Extra POST endpoints by exact path (see ExtraRoute in ./http.ts). */
  routes?: ReadonlyMap<string, ExtraRoute>;
  /** Called once per refused request, before the connection closes (e.g. to audit it). */
  onRefusal?: (refusal: Http1RefusalEvent) => void;
  /** Called when a service answer has been flushed to the socket (the VTN's 'sent' confirmation, src/protocols/openadr/vtn.ts). */
  onWritten?: (peer: OadrPeer) => void;
}

const SERVICES = new Set<string>(SERVICE_NAMES);
/** Pipelined bytes kept while a request is with the handler; past this the socket is paused (TCP backpressure). */
const PAUSE_AT = 64 * 1024;

function response(status: number, reason: string, body: string, contentType: string, close: boolean, extra = ''): Buffer {
  const len = Buffer.byteLength(body);
  return Buffer.from(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: ${contentType}\r\ncontent-length: ${len}\r\n${close ? 'connection: close\r\n' : 'connection: keep-alive\r\n'}${extra}\r\n${body}`);
}

/**
 * Serves OpenADR requests on one authenticated socket (TLS in production; any net.Socket) until it closes.
 * @example createMutualTlsServer({ kind: 'tls', ... }, (s) => serveHttp1(s, vtn.handle, peerFor(s), { onRefusal }))
 */
export function serveHttp1(socket: Socket, handler: OadrServiceHandler, peer: OadrPeer, opts: Http1Options = {}): void {
  const idleMs = opts.idleTimeoutMs ?? 120_000;
  const requestMs = opts.requestTimeoutMs ?? 30_000;
  const parser = new Http1Parser(opts);

  // Bytes received but not yet parsed: only while a request is with the handler (answers go out
  // in order) — parsing resumes where it stopped, nothing is parsed twice.
  const queue: Buffer[] = [];
  let queued = 0;
  // A polling VEN gets the same (pre-serialized) empty answer again and again: keep its bytes.
  let lastXml: string | undefined;
  let lastResponse: Buffer | undefined;
  let busy = false; // a request is with the handler
  let closing = false;
  let sentContinue = false;
  let requestTimer: NodeJS.Timeout | undefined;

  socket.setNoDelay(true);
  socket.setTimeout(idleMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('close', () => clearTimeout(requestTimer));

  const fail = (status: number, reason: string, why: string): void => {
    closing = true;
    stopRequestTimer();
    socket.end(response(status, reason, `${why}\n`, 'text/plain', true));
  };
  const refuse = (r: Http1Refusal): void => {
    try {
      opts.onRefusal?.({ status: r.status, reason: r.why });
    } finally {
      fail(r.status, r.phrase, r.why);
    }
  };

  const startRequestTimer = (): void => {
    if (!requestTimer) requestTimer = setTimeout(() => socket.destroy(), requestMs);
  };
  function stopRequestTimer(): void {
    clearTimeout(requestTimer);
    requestTimer = undefined;
  }

  /** Parses `data` from `start` until it is used up, a request goes to the handler, or a refusal. */
  const parse = (data: Buffer, start: number): void => {
    let at = start;
    while (at < data.length && !busy && !closing) {
      const step = parser.execute(data, at);
      at += step.consumed;
      if (step.event === 'refused') return refuse(step.refusal);
      if (step.event === 'head') {
        // RFC 9110 §10.1.1: answer 100 only if the client is still waiting for it.
        if (step.head.expectContinue && at === data.length && !sentContinue) {
          sentContinue = true;
          socket.write('HTTP/1.1 100 Continue\r\n\r\n');
        }
      } else if (step.event === 'request') {
        stopRequestTimer();
        sentContinue = false;
        dispatch(step.request.head, step.request.body ?? OVERSIZE);
      }
    }
    if (at < data.length && !closing) {
      queue.unshift(data.subarray(at));
      queued += data.length - at;
    }
    // The request timer only runs while a request is incomplete (a whole request in one read,
    // the usual case, arms no timer at all).
    if (!busy && !closing && parser.inRequest) startRequestTimer();
  };

  /** Feeds queued bytes to the parser, in order, while no request is with the handler. */
  const pump = (): void => {
    while (!busy && !closing && queue.length > 0) {
      const data = queue.shift() as Buffer;
      queued -= data.length;
      parse(data, 0);
    }
    if (queued <= PAUSE_AT && socket.isPaused()) socket.resume();
  };

  socket.on('data', (d: Buffer) => {
    if (closing) return;
    if (busy || queue.length > 0) {
      queue.push(d);
      queued += d.length;
      // Pipelined requests wait while one is with the handler; stop reading rather than buffer them.
      if (queued > PAUSE_AT) socket.pause();
      return;
    }
    parse(d, 0);
  });

  // ---------------------------------------------------------------- routing: service → handler

  /** Answers one complete request: routes it to the handler by service name, in order. */
  const dispatch = (head: RequestHead, body: Buffer): void => {
    const close = head.close;
    const route = head.method === 'POST' && body !== OVERSIZE ? opts.routes?.get(head.target) : undefined;
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
    const service = head.target.startsWith(SERVICE_PREFIX) ? head.target.slice(SERVICE_PREFIX.length).replace(/[?#].*$/, '').replace(/\/$/, '') : '';
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
        const written = opts.onWritten ? (e?: Error | null) => { if (!e) opts.onWritten?.(peer); } : undefined;
        if (close) socket.write(response(200, 'OK', xml, 'application/xml', true), written);
        else {
          if (xml !== lastXml) {
            lastXml = xml;
            lastResponse = response(200, 'OK', xml, 'application/xml', false);
          }
          socket.write(lastResponse as Buffer, written);
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
}
