/**
 * Sending RFC 5424 messages to a collector over TLS as RFC 5425 specifies (DESIGN.md §3: export to
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
