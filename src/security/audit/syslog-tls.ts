/**
 * Sending RFC 5424 messages to a collector over TLS as RFC 5425 specifies (docs/architecture.md §3: export to
 * syslog over TLS). The connection is mutual TLS with erab's 'syslog' profile: the caller passes
 * client options from security/tls (our certificate, the CA, revocation, expected collector).
 *
 * Framing is RFC 5425 §4.3 octet counting:  SYSLOG-FRAME = MSG-LEN SP SYSLOG-MSG, where MSG-LEN is
 * the number of octets of SYSLOG-MSG (no leading zeroes). The session ends with a TLS close_notify
 * (§4.4), which `end()` sends.
 */
import * as tls from 'node:tls';
import { ErabError, InvalidInputError } from '../../core/errors.js';
import { guardClientSocket } from '../tls/client.js';

/** One RFC 5425 frame. */
export function octetCountingFrame(msg: string): Buffer {
  const body = Buffer.from(msg, 'utf8');
  if (body.length === 0) throw new InvalidInputError('an empty syslog message cannot be framed');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

/** Splits a byte stream of RFC 5425 frames; returns the messages and the unparsed rest. */
export function parseOctetCountingFrames(buf: Buffer): { messages: string[]; rest: Buffer } {
  const messages: string[] = [];
  let at = 0;
  for (;;) {
    const sp = buf.indexOf(0x20, at);
    if (sp < 0) break;
    const lenText = buf.subarray(at, sp).toString('ascii');
    if (!/^[1-9][0-9]{0,8}$/.test(lenText)) throw new InvalidInputError(`syslog frame: "${lenText.slice(0, 12)}" is not a MSG-LEN (RFC 5425 §4.3)`);
    const len = Number(lenText);
    if (buf.length < sp + 1 + len) break;
    messages.push(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
    at = sp + 1 + len;
  }
  return { messages, rest: buf.subarray(at) };
}

export interface SyslogTlsTarget {
  host: string;
  /** 6514 is the IANA port for syslog over TLS (RFC 5425 §4.1). */
  port: number;
  /** Client options, e.g. clientTlsOptions(material, 'syslog', { expect: { id: 'siem-1' } }). */
  tls: tls.ConnectionOptions;
  /** Give up when connecting or sending stalls this long (default 30 s). */
  timeoutMs?: number;
}

/**
 * Sends the messages over one mutual-TLS connection and closes it. Resolves to the number sent;
 * rejects (ErabError 'syslog_failed') when the handshake is refused or the connection fails.
 */
export function sendSyslogOverTls(messages: Iterable<string>, target: SyslogTlsTarget): Promise<number> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(new ErabError('syslog_failed', `syslog over TLS to ${target.host}:${target.port}: ${err.message}`, { cause: err }));
    };
    const socket = tls.connect({ ...target.tls, host: target.host, port: target.port });
    guardClientSocket(target.tls, socket); // closed if the collector's certificate gets revoked meanwhile
    socket.setTimeout(target.timeoutMs ?? 30_000, () => fail(new Error('timed out')));
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      const it = messages[Symbol.iterator]();
      const pump = (): void => {
        for (;;) {
          const next = it.next();
          if (next.done) {
            socket.end(); // close_notify, then FIN
            return;
          }
          sent += 1;
          if (!socket.write(octetCountingFrame(next.value))) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      try {
        pump();
      } catch (err) {
        fail(err as Error);
      }
    });
    socket.once('close', (hadError) => {
      if (settled) return;
      if (hadError) return; // 'error' already rejected
      settled = true;
      resolve(sent);
    });
  });
}

/** Options of {@link SyslogTlsStream}. */
export interface SyslogStreamOptions extends SyslogTlsTarget {
  /** Messages held while the collector is unreachable; the oldest are dropped beyond it (default 10 000). */
  queueMax?: number;
  /** Wait before reconnecting after a failure, doubling up to `maxRetryMs` (default 1 s … 60 s). */
  retryMs?: number;
  maxRetryMs?: number;
  /** Told of every connection failure (the caller logs it; the stream keeps retrying). */
  onError?: (err: Error) => void;
}

/**
 * A live RFC 5425 stream of security events to a collector: one long-lived mutual-TLS
 * connection, reconnected with back-off, and a bounded queue so a collector outage never blocks
 * or grows the role (dropped messages are counted, and the audit log itself keeps every record).
 * @example
 * const s = new SyslogTlsStream({ host: '127.0.0.1', port: 6514, tls: clientTlsOptions(material, 'syslog') });
 * log.observe((r) => s.send(toSyslog(r)));
 */
export class SyslogTlsStream {
  private readonly queue: string[] = [];
  private socket: tls.TLSSocket | undefined;
  private connected = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private delay: number;
  private closed = false;
  /** Messages written to the collector's connection. */
  sent = 0;
  /** Messages dropped because the queue was full. */
  dropped = 0;

  constructor(private readonly o: SyslogStreamOptions) {
    this.delay = o.retryMs ?? 1000;
    this.connect();
  }

  /** Messages waiting for the collector. */
  get queued(): number {
    return this.queue.length;
  }

  /** Queues one RFC 5424 message and writes it at once when connected. */
  send(msg: string): void {
    if (this.closed) return;
    if (this.queue.length >= (this.o.queueMax ?? 10_000)) {
      this.queue.shift();
      this.dropped += 1;
    }
    this.queue.push(msg);
    if (this.connected) this.flush();
  }

  /** Writes what is queued, then ends the session with close_notify (RFC 5425 §4.4). */
  close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const s = this.socket;
    if (!s || !this.connected) {
      s?.destroy();
      return Promise.resolve();
    }
    this.flush();
    return new Promise((resolve) => {
      const t = setTimeout(() => { s.destroy(); resolve(); }, 5_000);
      t.unref();
      s.once('close', () => { clearTimeout(t); resolve(); });
      s.end();
    });
  }

  private connect(): void {
    const socket = tls.connect({ ...this.o.tls, host: this.o.host, port: this.o.port });
    this.socket = socket;
    guardClientSocket(this.o.tls, socket);
    socket.setTimeout(this.o.timeoutMs ?? 30_000, () => socket.destroy(new Error('timed out')));
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      this.connected = true;
      this.delay = this.o.retryMs ?? 1000;
      this.flush();
    });
    socket.on('error', (err) => this.o.onError?.(new ErabError('syslog_failed', `syslog over TLS to ${this.o.host}:${this.o.port}: ${err.message}`, { cause: err })));
    socket.once('close', () => {
      this.connected = false;
      this.socket = undefined;
      if (this.closed) return;
      this.retryTimer = setTimeout(() => this.connect(), this.delay);
      this.retryTimer.unref();
      this.delay = Math.min(this.delay * 2, this.o.maxRetryMs ?? 60_000);
    });
  }

  private flush(): void {
    const s = this.socket;
    if (!s) return;
    // A message leaves the queue once handed to the socket; one lost in a broken connection is
    // still in the audit log (erab audit export resends history).
    while (this.queue.length > 0) {
      s.write(octetCountingFrame(this.queue.shift()!));
      this.sent += 1;
    }
  }
}
