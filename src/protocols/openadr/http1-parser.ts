/**
 * An incremental HTTP/1.1 request parser (RFC 9112) for the lean OpenADR server (./http1.ts).
 *
 * Linear time in the input: every byte is looked at a bounded number of times, whatever the
 * split into reads. Lines (request line, fields, chunk sizes, trailers) are found with
 * `indexOf` on the new bytes only; a line that spans reads is kept as a list of pieces and
 * joined once. Body bytes are copied once into a growing buffer (doubling, so amortised
 * linear), never re-read. Nothing is re-scanned: the parser is a state machine that remembers
 * where it is.
 *
 * Everything is bounded: head bytes, field count, chunk count, chunk-line length, trailer
 * size, body size. What an OpenADR VTN never needs is refused with the status RFC 9110 /
 * RFC 9112 names for it (see {@link Http1Refusal}); after a refusal the stream is unusable and
 * the caller closes the connection.
 *
 * Pure: no sockets, no timers. {@link Http1Parser.execute} takes bytes and says what happened.
 */

/** Limits of one parser (one service). Every field has a safe default. */
export interface Http1Limits {
  /** Largest body kept (bytes); a larger one (up to `hardLimitBytes`) is drained and reported `oversize`. Default 1 MiB. */
  maxBodyBytes?: number;
  /** A body declared or grown past this is refused with 413 and the connection closed. Default 16 × maxBodyBytes. */
  hardLimitBytes?: number;
  /** Largest request head (request line, fields and their CRLFs); also the trailer budget. Default 16 KiB (node's default). */
  maxHeadBytes?: number;
  /** Most field lines in a head (and, separately, in a trailer section). Default 100. */
  maxHeaderCount?: number;
  /** Most chunks in one chunked body. Default 4096 (a 1 MiB body in chunks of 256 bytes). */
  maxChunkCount?: number;
}

/** A refusal: the status to answer, its reason phrase, and why (names the input and the rule). */
export class Http1Refusal {
  constructor(
    readonly status: number,
    readonly phrase: string,
    readonly why: string,
  ) {}
}

// RFC 9110 §15.5.1 400, §15.5.12 411, §15.5.14 413, §15.5.18 417, §15.6.2 501, §15.6.6 505;
// RFC 6585 §5 431.
const bad = (why: string): Http1Refusal => new Http1Refusal(400, 'Bad Request', why);
const tooLarge = (why: string): Http1Refusal => new Http1Refusal(413, 'Content Too Large', why);
const headTooLarge = (why: string): Http1Refusal => new Http1Refusal(431, 'Request Header Fields Too Large', why);

/** What the parser learnt from a request head. */
export interface RequestHead {
  method: string;
  /** The request-target as sent (origin-form for OpenADR). */
  target: string;
  http10: boolean;
  /** The connection closes after the response (HTTP/1.0 without keep-alive, `Connection: close`). */
  close: boolean;
  /** The client waits for `100 Continue` before sending the body (RFC 9110 §10.1.1). */
  expectContinue: boolean;
  /** Body framing: declared length, chunked, or none. */
  framing: { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'none' };
}

/** A complete request. `body` is undefined when it was larger than maxBodyBytes (drained, `size` bytes). */
export interface ParsedRequest {
  head: RequestHead;
  body: Buffer | undefined;
  size: number;
}

/** What one {@link Http1Parser.execute} call did: how many bytes it consumed and what it found. */
export type Http1Step =
  | { consumed: number; event: 'more' }
  | { consumed: number; event: 'head'; head: RequestHead }
  | { consumed: number; event: 'request'; request: ParsedRequest }
  | { consumed: number; event: 'refused'; refusal: Http1Refusal };

const CR = 0x0d;
const LF = 0x0a;
/** RFC 9110 §5.6.2 token characters. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9112 §3: method SP request-target SP HTTP-version, single SPs, target in visible ASCII. */
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/(\d)\.(\d)$/;
/** A field value may hold VCHAR, obs-text, SP and HTAB; any other control byte is invalid (RFC 9110 §5.5). */
const BAD_VALUE_CHAR = /[\x00-\x08\x0a-\x1f\x7f]/;
/**
 * RFC 9112 §7.1.1 chunk extensions: `;name[=token|quoted-string]`, no whitespace (the grammar's
 * BWS is refused here as llhttp refuses it: whitespace in chunk lines has served smuggling).
 */
const CHUNK_EXT = /^(?:;[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:=(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t !#-[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"))?)*$/;
/** Longest chunk-size line with its extensions (RFC 9112 §7.1.1: "a server ought to limit the total length of chunk extensions"). */
const MAX_CHUNK_LINE = 4096;

type State =
  | 'start' // before the request line (empty lines are skipped, RFC 9112 §2.2)
  | 'fields' // field lines of the head
  | 'body' // Content-Length body
  | 'chunk-size'
  | 'chunk-data'
  | 'chunk-crlf' // the CRLF after chunk data
  | 'trailers';

/** Collects body bytes in one buffer that doubles when full: one copy per byte, amortised. */
class BodyBuffer {
  private buf: Buffer | undefined;
  length = 0;
  append(data: Buffer, start: number, end: number): void {
    const n = end - start;
    if (!this.buf || this.length + n > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.length + n, Math.min(2 * (this.buf?.length ?? 0), 1 << 30), 256));
      this.buf?.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    data.copy(this.buf, this.length, start, end);
    this.length += n;
  }
  take(): Buffer {
    const b = this.buf ? this.buf.subarray(0, this.length) : Buffer.alloc(0);
    this.buf = undefined;
    this.length = 0;
    return b;
  }
}

/** Trims optional whitespace (SP / HTAB only, RFC 9110 §5.6.3) from both ends. */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return s.slice(a, b);
}

/**
 * Parses a stream of HTTP/1.1 requests incrementally. Feed it bytes with {@link execute} until
 * it has consumed them all; it stops after each head and each complete request so the caller
 * can answer in order (pipelining) and stop feeding while a handler runs.
 * @example
 * const p = new Http1Parser({ maxBodyBytes: 1 << 20 });
 * let at = 0;
 * while (at < data.length) {
 *   const step = p.execute(data, at);
 *   at += step.consumed;
 *   if (step.event === 'request') handle(step.request);
 *   if (step.event === 'refused') return close(step.refusal);
 * }
 */
export class Http1Parser {
  readonly maxBody: number;
  readonly hard: number;
  readonly maxHead: number;
  readonly maxFields: number;
  readonly maxChunks: number;

  private state: State = 'start';
  // The line being collected: pieces from earlier reads, joined once when its LF arrives.
  private lineParts: Buffer[] = [];
  private lineBytes = 0;
  // The request being parsed.
  private headBytes = 0;
  private fieldCount = 0;
  private head: RequestHead | undefined;
  private contentLength: number | undefined;
  private codings: string[] = [];
  private hosts = 0;
  private remaining = 0; // body or chunk-data bytes still to come
  private size = 0; // body bytes so far
  private keep = true; // the body is still within maxBodyBytes and being kept
  private chunks = 0;
  private crlfSeen = 0; // bytes of the CRLF after chunk data seen so far
  private body = new BodyBuffer();

  constructor(limits: Http1Limits = {}) {
    this.maxBody = limits.maxBodyBytes ?? 1024 * 1024;
    this.hard = limits.hardLimitBytes ?? 16 * this.maxBody;
    this.maxHead = limits.maxHeadBytes ?? 16 * 1024;
    this.maxFields = limits.maxHeaderCount ?? 100;
    this.maxChunks = limits.maxChunkCount ?? 4096;
  }

  /** True between the first byte of a request and its end (the caller's request timer runs meanwhile). */
  get inRequest(): boolean {
    return this.state !== 'start' || this.lineBytes > 0;
  }

  /**
   * Consumes bytes of `data` from `start`, up to the end of the data, the end of a head, the end
   * of a request or a refusal, whichever comes first. After a refusal the parser must not be fed again.
   */
  execute(data: Buffer, start: number): Http1Step {
    let pos = start;
    const end = data.length;
    while (pos < end) {
      switch (this.state) {
        case 'body': {
          const n = Math.min(this.remaining, end - pos);
          if (this.keep) this.body.append(data, pos, pos + n);
          this.size += n;
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) return { consumed: pos - start, event: 'request', request: this.finish() };
          break;
        }
        case 'chunk-data': {
          const n = Math.min(this.remaining, end - pos);
          if (this.keep && this.size + n > this.maxBody) {
            this.keep = false; // past the limit: stop keeping, keep draining
            this.body.take();
          }
          if (this.keep) this.body.append(data, pos, pos + n);
          this.size += n;
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) {
            this.state = 'chunk-crlf';
            this.crlfSeen = 0;
          }
          break;
        }
        case 'chunk-crlf': {
          // RFC 9112 §7.1: chunk-data is followed by exactly CRLF.
          const want = this.crlfSeen === 0 ? CR : LF;
          if (data[pos] !== want) return this.refuse(pos - start, bad('chunk data is not followed by CRLF (RFC 9112 §7.1)'));
          pos++;
          if (++this.crlfSeen === 2) this.state = 'chunk-size';
          break;
        }
        default: {
          // A line-oriented state: find the end of the line in the new bytes only.
          const lf = data.indexOf(LF, pos);
          const stop = lf < 0 ? end : lf + 1;
          const n = stop - pos;
          const limited = this.lineLimit(n);
          if (limited) return this.refuse(stop - start, limited);
          if (lf < 0) {
            this.lineParts.push(data.subarray(pos, end));
            this.lineBytes += n;
            pos = end;
            break;
          }
          let line: Buffer;
          if (this.lineParts.length === 0) line = data.subarray(pos, lf + 1);
          else {
            this.lineParts.push(data.subarray(pos, lf + 1));
            line = Buffer.concat(this.lineParts, this.lineBytes + n);
          }
          this.lineParts = [];
          this.lineBytes = 0;
          pos = lf + 1;
          // RFC 9112 §2.2: lines end in CRLF. A bare LF (which a recipient MAY accept) is refused,
          // as llhttp refuses it; a bare CR inside a line is invalid.
          if (line.length < 2 || line[line.length - 2] !== CR) return this.refuse(pos - start, bad('line ends in a bare LF, not CRLF (RFC 9112 §2.2)'));
          const text = line.toString('latin1', 0, line.length - 2);
          if (text.includes('\r')) return this.refuse(pos - start, bad('bare CR inside a line (RFC 9112 §2.2)'));
          const step = this.onLine(text, pos - start);
          if (step) return step;
        }
      }
    }
    return { consumed: pos - start, event: 'more' };
  }

  /** Checks that a line growing by `n` bytes stays within its state's budget. */
  private lineLimit(n: number): Http1Refusal | undefined {
    const lineLen = this.lineBytes + n;
    if (this.state === 'chunk-size') {
      return lineLen > MAX_CHUNK_LINE ? tooLarge(`chunk-size line longer than ${MAX_CHUNK_LINE} bytes (RFC 9112 §7.1.1)`) : undefined;
    }
    if (this.headBytes + lineLen > this.maxHead) {
      return this.state === 'trailers'
        ? tooLarge(`trailer section larger than ${this.maxHead} bytes`)
        : headTooLarge(`request head larger than ${this.maxHead} bytes (RFC 6585 §5)`);
    }
    return undefined;
  }

  private refuse(consumed: number, refusal: Http1Refusal): Http1Step {
    return { consumed, event: 'refused', refusal };
  }

  /** Handles one complete line (without its CRLF); returns a step when the caller must act. */
  private onLine(text: string, consumed: number): Http1Step | undefined {
    switch (this.state) {
      case 'start':
        this.headBytes += text.length + 2;
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
        if (text === '') return undefined;
        return this.onRequestLine(text, consumed);
      case 'fields':
        this.headBytes += text.length + 2;
        if (text === '') return this.onHeadEnd(consumed);
        return this.onField(text, consumed, true);
      case 'trailers':
        this.headBytes += text.length + 2;
        if (text === '') return { consumed, event: 'request', request: this.finish() };
        return this.onField(text, consumed, false);
      case 'chunk-size':
        return this.onChunkSize(text, consumed);
      default:
        return undefined;
    }
  }

  private onRequestLine(text: string, consumed: number): Http1Step | undefined {
    const m = REQUEST_LINE.exec(text);
    if (!m) {
      if (/^\S+ \S+ HTTP\/\d+\.\d+$/.test(text) && !/ HTTP\/\d\.\d$/.test(text)) {
        return this.refuse(consumed, new Http1Refusal(505, 'HTTP Version Not Supported', 'only HTTP/1.0 and HTTP/1.1 are served (RFC 9110 §15.6.6)'));
      }
      return this.refuse(consumed, bad('malformed request line: want "METHOD SP target SP HTTP/1.x" (RFC 9112 §3)'));
    }
    const major = m[3] as string;
    const minor = m[4] as string;
    // RFC 9110 §2.5 / §15.6.6: we implement HTTP/1.0 and 1.1 only. A higher 1.x minor would
    // warrant treatment as 1.1, but none exists and llhttp refuses it too.
    if (major !== '1' || (minor !== '0' && minor !== '1')) {
      return this.refuse(consumed, new Http1Refusal(505, 'HTTP Version Not Supported', `HTTP/${major}.${minor} is not served; only HTTP/1.0 and HTTP/1.1 (RFC 9110 §15.6.6)`));
    }
    const http10 = minor === '0';
    this.head = { method: m[1] as string, target: m[2] as string, http10, close: http10, expectContinue: false, framing: { kind: 'none' } };
    this.state = 'fields';
    return undefined;
  }

  private onField(text: string, consumed: number, inHead: boolean): Http1Step | undefined {
    if (++this.fieldCount > this.maxFields) {
      return this.refuse(consumed, inHead
        ? headTooLarge(`more than ${this.maxFields} header fields (RFC 6585 §5)`)
        : tooLarge(`more than ${this.maxFields} trailer fields`));
    }
    // RFC 9112 §5.2: obs-fold (a line starting with whitespace) is refused with 400.
    if (text.charCodeAt(0) === 0x20 || text.charCodeAt(0) === 0x09) return this.refuse(consumed, bad('obsolete line folding in a field (RFC 9112 §5.2)'));
    const colon = text.indexOf(':');
    const name = colon > 0 ? text.slice(0, colon) : '';
    // RFC 9112 §5.1: no whitespace between field name and colon; the name is a token.
    if (!TOKEN.test(name)) return this.refuse(consumed, bad(`malformed field line: the name must be a token followed by ":" (RFC 9112 §5.1)`));
    const rawValue = text.slice(colon + 1);
    if (BAD_VALUE_CHAR.test(rawValue)) return this.refuse(consumed, bad(`control character in the value of field ${name} (RFC 9110 §5.5)`));
    if (!inHead) return undefined; // trailers are validated and ignored (RFC 9110 §6.5.1)
    const head = this.head as RequestHead;
    const value = trimOws(rawValue);
    switch (name.toLowerCase()) {
      case 'content-length': {
        // RFC 9110 §8.6: 1*DIGIT. RFC 9112 §6.3 item 5: a second or invalid one is a framing error.
        if (this.contentLength !== undefined) return this.refuse(consumed, bad('more than one Content-Length field (RFC 9112 §6.3)'));
        if (!/^\d+$/.test(value)) return this.refuse(consumed, bad(`Content-Length "${value.slice(0, 40)}" is not a decimal number (RFC 9110 §8.6)`));
        const n = value.length > 15 ? Infinity : Number(value);
        if (n > this.hard) return this.refuse(consumed, tooLarge(`Content-Length ${value.slice(0, 40)} exceeds the ${this.hard}-byte limit (RFC 9110 §15.5.14)`));
        this.contentLength = n;
        return undefined;
      }
      case 'transfer-encoding':
        // RFC 9110 §5.3: several lines are one comma-separated list.
        for (const c of value.split(',')) {
          const coding = trimOws(c).toLowerCase();
          if (coding !== '') this.codings.push(coding);
        }
        return undefined;
      case 'connection':
        for (const c of value.split(',')) {
          const option = trimOws(c).toLowerCase();
          if (option === 'close') head.close = true;
          else if (option === 'keep-alive' && head.http10) head.close = false;
        }
        return undefined;
      case 'expect':
        // RFC 9110 §10.1.1: 100-continue is the only expectation; a 1.0 client's is ignored.
        if (value.toLowerCase() !== '100-continue') return this.refuse(consumed, new Http1Refusal(417, 'Expectation Failed', `unsupported expectation "${value.slice(0, 40)}" (RFC 9110 §10.1.1)`));
        if (!head.http10) head.expectContinue = true;
        return undefined;
      case 'host':
        this.hosts++;
        return undefined;
      default:
        return undefined;
    }
  }

  /** The head is complete: decide the framing (RFC 9112 §6). */
  private onHeadEnd(consumed: number): Http1Step {
    const head = this.head as RequestHead;
    // RFC 9112 §3.2: an HTTP/1.1 request needs exactly one Host field.
    if (!head.http10 && this.hosts !== 1) return this.refuse(consumed, bad(`${this.hosts === 0 ? 'no' : 'more than one'} Host field in an HTTP/1.1 request (RFC 9112 §3.2)`));
    if (this.codings.length > 0) {
      // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
      if (head.http10) return this.refuse(consumed, bad('Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)'));
      // RFC 9112 §6.1: both framings is a smuggling vector; we refuse (the server MAY).
      if (this.contentLength !== undefined) return this.refuse(consumed, bad('both Content-Length and Transfer-Encoding (RFC 9112 §6.1)'));
      // RFC 9112 §6.3 item 4: chunked must be the final coding, else 400.
      if (this.codings[this.codings.length - 1] !== 'chunked') return this.refuse(consumed, bad(`Transfer-Encoding "${this.codings.join(', ').slice(0, 80)}" does not end in chunked (RFC 9112 §6.3)`));
      // RFC 9112 §7: chunked is applied at most once.
      if (this.codings.indexOf('chunked') !== this.codings.length - 1) return this.refuse(consumed, bad('chunked applied more than once (RFC 9112 §7)'));
      // RFC 9112 §6.1: a transfer coding we do not implement (gzip...) is 501.
      if (this.codings.length > 1) return this.refuse(consumed, new Http1Refusal(501, 'Not Implemented', `transfer coding "${this.codings[0]!.slice(0, 40)}" is not implemented; only chunked (RFC 9112 §6.1)`));
      head.framing = { kind: 'chunked' };
      this.state = 'chunk-size';
    } else if (this.contentLength !== undefined) {
      head.framing = { kind: 'length', length: this.contentLength };
      this.remaining = this.contentLength;
      this.keep = this.contentLength <= this.maxBody;
      this.state = 'body';
    } else if (head.method === 'POST') {
      // Every OpenADR POST carries a payload; one without framing is refused (RFC 9110 §15.5.12).
      return this.refuse(consumed, new Http1Refusal(411, 'Length Required', 'POST without Content-Length or chunked Transfer-Encoding (RFC 9110 §15.5.12)'));
    } else {
      // RFC 9112 §6.3 item 7: no framing in a request means no body.
      this.state = 'body';
      this.remaining = 0;
    }
    // A zero-length body ends the request with its head: report the request, no separate head step.
    if (this.state === 'body' && this.remaining === 0) return { consumed, event: 'request', request: this.finish() };
    return { consumed, event: 'head', head };
  }

  private onChunkSize(text: string, consumed: number): Http1Step | undefined {
    // RFC 9112 §7.1: chunk-size = 1*HEXDIG, then chunk extensions (ignored, RFC 9112 §7.1.1).
    let i = 0;
    let n = 0;
    for (; i < text.length; i++) {
      const d = parseInt(text[i] as string, 16);
      if (Number.isNaN(d)) break;
      n = n * 16 + d;
      if (this.size + n > this.hard) return this.refuse(consumed, tooLarge(`chunked body exceeds the ${this.hard}-byte limit (RFC 9110 §15.5.14)`));
    }
    if (i === 0) return this.refuse(consumed, bad(`malformed chunk size "${text.slice(0, 20)}" (RFC 9112 §7.1)`));
    if (i < text.length && !CHUNK_EXT.test(text.slice(i))) return this.refuse(consumed, bad(`malformed chunk extension "${text.slice(i, i + 40)}" (RFC 9112 §7.1.1)`));
    if (++this.chunks > this.maxChunks) return this.refuse(consumed, tooLarge(`more than ${this.maxChunks} chunks in one body`));
    if (n === 0) {
      // last-chunk, then the trailer section (RFC 9112 §7.1.2), its own size and field budget.
      this.state = 'trailers';
      this.headBytes = 0;
      this.fieldCount = 0;
      return undefined;
    }
    this.remaining = n;
    this.state = 'chunk-data';
    return undefined;
  }

  /** Ends the current request and resets for the next one. */
  private finish(): ParsedRequest {
    const request: ParsedRequest = {
      head: this.head as RequestHead,
      body: this.keep ? this.body.take() : undefined,
      size: this.size,
    };
    this.body.take();
    this.keep = true;
    this.state = 'start';
    this.headBytes = 0;
    this.fieldCount = 0;
    this.head = undefined;
    this.contentLength = undefined;
    this.codings = [];
    this.hosts = 0;
    this.remaining = 0;
    this.size = 0;
    this.chunks = 0;
    return request;
  }
}
