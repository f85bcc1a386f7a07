/**
 * A load generator's keep-alive connection to a VTN: one mutual-TLS socket, HTTP/1.1 written and
 * read by hand (one request in flight), so the generator spends its CPU on TLS, not on an HTTP
 * client. Used by the VTN and fleet benchmarks; not a general HTTP client (no chunked bodies).
 */
import * as tls from 'node:tls';

export interface RawReply {
  status: number;
  body: string;
}

export class RawOadrConn {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: ((r: RawReply) => void) | undefined;
  private failed: ((e: Error) => void) | undefined;
  constructor(readonly socket: tls.TLSSocket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.parse();
    });
    socket.on('error', (e) => this.failed?.(e));
    socket.on('close', () => this.failed?.(new Error('connection closed')));
  }
  /** `noDelay`: disable Nagle (the fleet bench answers events right after a poll). */
  static open(port: number, party: { certPem: string; keyPem: string }, caPem: string, o: { noDelay?: boolean } = {}): Promise<RawOadrConn> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, cert: party.certPem, key: party.keyPem, ca: caPem, servername: 'localhost' }, () => {
        if (o.noDelay) s.setNoDelay(true);
        resolve(new RawOadrConn(s));
      });
      s.once('error', reject);
    });
  }
  private parse(): void {
    const he = this.buf.indexOf('\r\n\r\n');
    if (he < 0 || !this.waiting) return;
    const head = this.buf.subarray(0, he).toString('latin1');
    const m = /content-length:\s*(\d+)/i.exec(head);
    const len = m ? Number(m[1]) : 0;
    if (this.buf.length < he + 4 + len) return;
    const body = this.buf.subarray(he + 4, he + 4 + len).toString('utf8');
    this.buf = this.buf.subarray(he + 4 + len);
    const w = this.waiting;
    this.waiting = undefined;
    this.failed = undefined;
    w({ status: Number(head.slice(9, 12)), body });
  }
  send(raw: Buffer): Promise<RawReply> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failed = reject;
      this.socket.write(raw);
    });
  }
  close(): void {
    this.failed = undefined;
    this.socket.destroy();
  }
}

/** An OpenADR 2.0b simpleHttp POST to `service`, as raw bytes. */
export const oadrRequest = (service: string, xml: string): Buffer =>
  Buffer.from(`POST /OpenADR2/Simple/2.0b/${service} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(xml)}\r\n\r\n${xml}`);

/** Whether an OpenADR answer says 200. */
export const oadrOk = (body: string): boolean => body.includes('<ei:responseCode>200</ei:responseCode>');
