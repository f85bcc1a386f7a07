/**
 * Differential test of our HTTP/1.1 parser (protocols/openadr/http1-parser.ts, served by
 * serveHttp1) against Node's own (llhttp, through node:http). fast-check generates pipelined
 * requests (Content-Length and chunked bodies of arbitrary bytes, keep-alive, HTTP/1.0, Expect,
 * Connection: close on the last one), applies at most one mutation from a catalogue of hostile or
 * unusual framings, splits the bytes at random points into separate TCP writes, and sends them to
 * both servers over real loopback sockets. Both must take the same decision for every request
 * (accepted with the same body bytes, or not accepted) — except where we are deliberately
 * stricter (or, once, more lenient) than llhttp, which the catalogue states rule by rule with the
 * RFC clause, so that a difference is never hidden.
 *
 * Plain TCP, not TLS: the comparison is about HTTP framing; serveHttp1 only uses the net.Socket
 * half of the TLS socket, and TLS record boundaries are one more way to split the bytes, which the
 * random TCP writes already cover.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { serveHttp1 } from '../../../src/protocols/openadr/http1.js';

const PATH = '/OpenADR2/Simple/2.0b/OadrPoll';
const digest = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
// Our limits in this test; generated valid requests stay well inside them, mutations cross them on purpose.
const LIMITS = { maxBodyBytes: 1 << 20, hardLimitBytes: 16 << 20, maxHeadBytes: 16 * 1024, maxHeaderCount: 100, maxChunkCount: 256 };

let ours: net.Server;
let node: http.Server;

before(async () => {
  ours = net.createServer((s) => serveHttp1(s, async (_service, body) => digest(body), { fingerprint: 'test' }, LIMITS));
  node = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      // The same routing as serveHttp1, so a routed-away request counts as "not accepted" on both sides.
      if (req.url !== PATH) res.writeHead(404).end();
      else if (req.method !== 'POST') res.writeHead(405).end();
      else res.writeHead(200, { 'content-type': 'application/xml', 'content-length': 64 }).end(digest(Buffer.concat(parts)));
    });
  });
  // Node's default clientError handler destroys the socket at once, dropping the answers to
  // earlier pipelined requests llhttp had already accepted. This one answers them first, then
  // refuses, so the test sees every decision llhttp took.
  const pending = new WeakMap<net.Socket, { reqs: Set<http.IncomingMessage>; refused?: string }>();
  const answered = (socket: net.Socket): boolean => ![...(pending.get(socket)?.reqs ?? [])].some((r) => r.complete);
  node.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const p = pending.get(req.socket) ?? { reqs: new Set() };
    pending.set(req.socket, p);
    p.reqs.add(req);
    res.on('finish', () => {
      p.reqs.delete(req);
      if (p.refused && answered(req.socket) && !req.socket.destroyed) req.socket.end(p.refused);
    });
  });
  node.on('clientError', (err: Error & { code?: string }, socket: net.Socket) => {
    if (socket.destroyed) return;
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431' : err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW' ? '413' : '400';
    const refusal = `HTTP/1.1 ${status} Refused\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`;
    // Requests llhttp completed before the error are answered first; an incomplete one never will be.
    if (answered(socket)) socket.end(refusal);
    else (pending.get(socket) as { refused?: string }).refused = refusal;
  });
  await Promise.all([ours, node].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
});
after(async () => {
  node.closeAllConnections();
  await Promise.all([ours, node].map((s) => new Promise((r) => s.close(r))));
});

// ------------------------------------------------------------------ requests as a model

/** One request, kept as parts so mutations can change one thing. */
interface Msg {
  prefix: string;
  line: string;
  fields: string[];
  chunked: boolean;
  body: Buffer; // the payload; for chunked, split by `sizes`
  sizes: number[];
  exts: string[]; // extension text per chunk
  sizeText?: string; // overrides the first chunk-size (hex) text
  afterData?: string; // overrides the CRLF after the first chunk's data
  trailers: string[];
}

function wire(m: Msg): Buffer {
  const head = Buffer.from(`${m.prefix}${m.line}\r\n${m.fields.map((f) => `${f}\r\n`).join('')}\r\n`, 'latin1');
  if (!m.chunked) return Buffer.concat([head, m.body]);
  const parts: Buffer[] = [head];
  let at = 0;
  m.sizes.forEach((n, i) => {
    const size = i === 0 && m.sizeText !== undefined ? m.sizeText : n.toString(16);
    parts.push(Buffer.from(`${size}${m.exts[i] ?? ''}\r\n`, 'latin1'), m.body.subarray(at, at + n), Buffer.from(i === 0 && m.afterData !== undefined ? m.afterData : '\r\n', 'latin1'));
    at += n;
  });
  parts.push(Buffer.from(`0\r\n${m.trailers.map((t) => `${t}\r\n`).join('')}\r\n`, 'latin1'));
  return Buffer.concat(parts);
}

/** Splits `body` into chunk sizes from `cuts` (each a fraction). */
function sizesOf(len: number, cuts: number[]): number[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * len)).filter((p) => p > 0 && p < len))].sort((a, b) => a - b);
  const out: number[] = [];
  let last = 0;
  for (const p of [...points, len]) {
    out.push(p - last);
    last = p;
  }
  return len === 0 ? [] : out;
}

const msgArb = fc.record({
  http10: fc.boolean(),
  chunked: fc.boolean(),
  // size 'max': fast-check's default size would keep bodies to a few bytes.
  body: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 3000, size: 'max' })),
  cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
  extra: fc.array(fc.constantFrom('Content-Type: application/xml', 'User-Agent: erab-test', 'Accept: */*', 'X-Request-ID: 42', 'Expect: 100-continue'), { maxLength: 3 }),
}).map(({ http10, chunked, body, cuts, extra }): Msg => {
  const b = Buffer.from(body);
  const c = chunked && !http10;
  return {
    prefix: '',
    line: `POST ${PATH} HTTP/1.${http10 ? 0 : 1}`,
    fields: [...(http10 ? [] : ['Host: vtn.example']), ...(c ? ['Transfer-Encoding: chunked'] : [`Content-Length: ${b.length}`]), ...(http10 ? ['Connection: keep-alive'] : []), ...extra],
    chunked: c,
    body: b,
    sizes: c ? sizesOf(b.length, cuts) : [],
    exts: [],
    trailers: [],
  };
});

// ------------------------------------------------------------------ the mutation catalogue

/**
 * What the two parsers are expected to decide about the mutated request:
 * - same: the same decision and, if accepted, the same body bytes (the default);
 * - cut: the mutation shifts the framing so the following bytes are garbage; both accept the same
 *   prefix and neither accepts the garbage (llhttp refuses at the first bad byte, we at the end of
 *   the line or the limit, so ours may still be waiting when the test stops looking);
 * - a deliberate difference: what each side does, and the rule behind ours.
 */
/**
 * `nodeVaries`: the llhttp bundled with some Node versions agrees with us here (Node 24's accepts
 * HTAB around Content-Length, Node 20's refuses it); node's side is then either what `node` says
 * or the same as ours, while ours must still be exactly `ours`.
 */
type Expectation = 'same' | 'cut' | { ours: 'refused' | 'accepted'; node: 'accepted' | 'pending' | 'refused'; why: string; nodeVaries?: true };

interface Mutation {
  name: string;
  applies: (m: Msg) => boolean;
  apply: (m: Msg, pick: number) => Msg;
  expect: Expectation;
}
const pickOf = <T>(xs: T[], n: number): T => xs[n % xs.length] as T;
const isLength = (f: string): boolean => /^content-length:/i.test(f);
const replaceField = (m: Msg, test: (f: string) => boolean, by: string[]): string[] => m.fields.flatMap((f) => (test(f) ? by : [f]));
const chunkedWithData = (m: Msg): boolean => m.chunked && m.sizes.length > 0;

const MUTATIONS: Mutation[] = [
  // ---- both parsers refuse
  { name: 'non-hex chunk size', applies: chunkedWithData, apply: (m, n) => ({ ...m, sizeText: pickOf(['zz', '0x1', '-1', '', ' 1', '1 ', '+1', 'g'], n) }), expect: 'same' },
  { name: 'chunk size overflow', applies: chunkedWithData, apply: (m) => ({ ...m, sizeText: 'f'.repeat(20) }), expect: 'same' },
  { name: 'malformed chunk extension', applies: chunkedWithData, apply: (m, n) => ({ ...m, exts: [pickOf([';a b', '; a', ';a="x', ';a=b c', ';a=,', ';@', ';a;', ';', ';a =b', ';a= b', ';a="x"y', ';a="x\\', ';a=\xe9'], n)] }), expect: 'same' },
  { name: 'chunk data longer than its size', applies: (m) => chunkedWithData(m) && (m.sizes[0] ?? 0) >= 2, apply: (m) => ({ ...m, sizeText: ((m.sizes[0] as number) - 1).toString(16) }), expect: 'same' },
  { name: 'bare LF after chunk data', applies: chunkedWithData, apply: (m, n) => ({ ...m, afterData: pickOf(['\n', '\r', 'XX', '\r\r'], n) }), expect: 'same' },
  { name: 'malformed trailer', applies: (m) => m.chunked, apply: (m, n) => ({ ...m, trailers: [pickOf(['X T: 1', 'X-T 1', ' X-T: 1', 'X-T: a\x01'], n)] }), expect: 'same' },
  { name: 'both Content-Length and chunked', applies: () => true, apply: (m) => ({ ...m, fields: [...m.fields, m.chunked ? `Content-Length: ${m.body.length}` : 'Transfer-Encoding: chunked'] }), expect: 'same' },
  { name: 'obs-fold', applies: () => true, apply: (m) => ({ ...m, fields: ['X-Fold: a\r\n b', ...m.fields] }), expect: 'same' },
  { name: 'bare LF in the head', applies: () => true, apply: (m, n) => ({ ...m, fields: [pickOf(['X-A: a\nX-B: b', 'X-A: a\rX-B: b'], n), ...m.fields] }), expect: 'same' },
  { name: 'invalid Content-Length', applies: (m) => !m.chunked, apply: (m, n) => ({ ...m, fields: replaceField(m, isLength, [`Content-Length: ${pickOf(['+1', '1, 1', '', 'abc', '0x10', '1.0', '-1', `${m.body.length} ${m.body.length}`], n)}`]) }), expect: 'same' },
  { name: 'duplicate Content-Length', applies: (m) => !m.chunked, apply: (m) => ({ ...m, fields: [...m.fields, `Content-Length: ${m.body.length}`] }), expect: 'same' },
  { name: 'chunked not last or twice', applies: (m) => m.chunked, apply: (m, n) => ({ ...m, fields: replaceField(m, (f) => /^transfer-encoding:/i.test(f), pickOf([['Transfer-Encoding: chunked, gzip'], ['Transfer-Encoding: identity'], ['Transfer-Encoding: chunked, chunked'], ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked']], n)) }), expect: 'same' },
  { name: 'control character in a value', applies: () => true, apply: (m, n) => ({ ...m, fields: [`X-C: a${pickOf(['\x00', '\x01', '\x7f', '\x1b'], n)}b`, ...m.fields] }), expect: 'same' },
  { name: 'malformed field name', applies: () => true, apply: (m, n) => ({ ...m, fields: [pickOf(['X-A : 1', ': 1', 'X(A): 1', 'X-A'], n), ...m.fields] }), expect: 'same' },
  { name: 'unknown HTTP version', applies: () => true, apply: (m, n) => ({ ...m, line: m.line.replace(/HTTP\/1\.\d$/, pickOf(['HTTP/1.2', 'HTTP/3.0', 'HTTP/1.x', 'http/1.1', 'HTTP/11'], n)) }), expect: 'same' },
  { name: 'no Host in HTTP/1.1', applies: (m) => m.line.endsWith('1.1'), apply: (m) => ({ ...m, fields: m.fields.filter((f) => !/^host:/i.test(f)) }), expect: 'same' },
  { name: 'unsupported expectation', applies: (m) => m.line.endsWith('1.1'), apply: (m) => ({ ...m, fields: [...m.fields.filter((f) => !/^expect:/i.test(f)), 'Expect: 200-ok'] }), expect: 'same' },
  // node accepts any Expect value that contains "100-continue" somewhere; we refuse a list with another member (RFC 9110 §10.1.1 MAY 417).
  { name: 'expectation list with another member', applies: (m) => m.line.endsWith('1.1'), apply: (m) => ({ ...m, fields: [...m.fields.filter((f) => !/^expect:/i.test(f)), 'Expect: 100-continue', 'Expect: 200-ok'] }), expect: { ours: 'refused', node: 'accepted', why: 'only 100-continue is an expectation we meet; any other member is answered 417 (RFC 9110 §10.1.1); node looks for 100-continue anywhere in the value' } },
  { name: 'method not POST', applies: () => true, apply: (m, n) => ({ ...m, line: m.line.replace(/^POST/, pickOf(['post', 'PUT', 'GET'], n)) }), expect: 'same' },
  // ---- both parsers accept
  { name: 'valid chunk extensions', applies: chunkedWithData, apply: (m, n) => ({ ...m, exts: [pickOf([';a', ';a=b', ';a="x y"', ';a=b;c=d', ';a="\\"q"'], n)] }), expect: 'same' },
  { name: 'trailer fields', applies: (m) => m.chunked, apply: (m) => ({ ...m, trailers: ['X-Trailer: 1', 'X-Other: two words'] }), expect: 'same' },
  { name: 'leading zeros in chunk size', applies: chunkedWithData, apply: (m) => ({ ...m, sizeText: `0000${(m.sizes[0] as number).toString(16).toUpperCase()}` }), expect: 'same' },
  { name: 'empty line before the request line', applies: () => true, apply: (m) => ({ ...m, prefix: '\r\n' }), expect: 'same' },
  { name: 'optional whitespace and case in fields', applies: () => true, apply: (m) => ({ ...m, fields: m.fields.map((f) => { const c = f.indexOf(':'); return `${f.slice(0, c).toUpperCase()}:   ${f.slice(c + 1).trim().replace(/^chunked$/, 'ChUnKeD')}  `; }) }), expect: 'same' },
  { name: 'obs-text in a value', applies: () => true, apply: (m) => ({ ...m, fields: ['X-Name: caf\xe9 \xff', ...m.fields] }), expect: 'same' },
  { name: 'Expect: 100-continue', applies: (m) => m.line.endsWith('1.1'), apply: (m) => ({ ...m, fields: [...m.fields, 'Expect: 100-continue'] }), expect: 'same' },
  // ---- the framing moves: what follows is garbage to both
  { name: 'Content-Length shorter than the body', applies: (m) => !m.chunked && m.body.length > 0, apply: (m, n) => ({ ...m, fields: replaceField(m, isLength, [`Content-Length: ${n % m.body.length}`]) }), expect: 'cut' },
  // ---- deliberate differences, each with its rule
  { name: 'POST without framing', applies: () => true, apply: (m) => ({ ...m, chunked: false, body: Buffer.alloc(0), fields: m.fields.filter((f) => !isLength(f) && !/^transfer-encoding:/i.test(f)) }), expect: { ours: 'refused', node: 'accepted', why: 'every OpenADR POST has a payload: 411 Length Required (RFC 9110 §15.5.12); llhttp reads no body' } },
  { name: 'transfer coding other than chunked', applies: (m) => m.chunked, apply: (m) => ({ ...m, fields: replaceField(m, (f) => /^transfer-encoding:/i.test(f), ['Transfer-Encoding: gzip, chunked']) }), expect: { ours: 'refused', node: 'accepted', why: 'we do not implement gzip: 501 (RFC 9112 §6.1 SHOULD); llhttp hands over the still-gzipped bytes' } },
  { name: 'Transfer-Encoding in HTTP/1.0', applies: (m) => m.chunked, apply: (m) => ({ ...m, line: m.line.replace(/1\.1$/, '1.0') }), expect: { ours: 'refused', node: 'accepted', why: 'RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding MUST be treated as faulty framing (400)' } },
  { name: 'two Host fields', applies: (m) => m.line.endsWith('1.1'), apply: (m) => ({ ...m, fields: [...m.fields, 'Host: other.example'] }), expect: { ours: 'refused', node: 'accepted', why: 'RFC 9112 §3.2: a server MUST answer 400 to more than one Host field' } },
  { name: 'HTTP/2.0 or HTTP/0.9 request line', applies: () => true, apply: (m, n) => ({ ...m, line: m.line.replace(/HTTP\/1\.\d$/, pickOf(['HTTP/2.0', 'HTTP/0.9'], n)) }), expect: { ours: 'refused', node: 'accepted', why: 'only HTTP/1.0 and 1.1 are served: 505 (RFC 9110 §15.6.6)' } },
  { name: 'two spaces in the request line', applies: () => true, apply: (m) => ({ ...m, line: m.line.replace(' ', '  ') }), expect: { ours: 'refused', node: 'accepted', why: 'RFC 9112 §3: single SP separators; parsing on whitespace runs is only a MAY, which we decline (400)' } },
  { name: 'more header fields than our limit', applies: () => true, apply: (m) => ({ ...m, fields: [...m.fields, ...Array.from({ length: 101 }, (_, i) => `X-F${i}: ${i}`)] }), expect: { ours: 'refused', node: 'accepted', why: 'a VTN needs a handful of fields: 431 past maxHeaderCount (RFC 6585 §5); node silently drops fields past 2000' } },
  { name: 'more chunks than our limit', applies: (m) => m.chunked, apply: (m) => { const body = Buffer.alloc(300, 0x42); return { ...m, body, sizes: Array.from({ length: 300 }, () => 1) }; }, expect: { ours: 'refused', node: 'accepted', why: 'chunk count is bounded (maxChunkCount): 413 (RFC 9110 §15.5.14), so tiny chunks cannot cost per-chunk work without end' } },
  { name: 'declared size over our hard limit', applies: () => true, apply: (m, n) => (n % 2 === 0 || !chunkedWithData(m) ? { ...m, chunked: false, fields: replaceField(m, (f) => isLength(f) || /^transfer-encoding:/i.test(f), ['Content-Length: 999999999']) } : { ...m, sizeText: 'fffffff' }), expect: { ours: 'refused', node: 'pending', why: 'a body declared past hardLimitBytes is refused at once with 413 (RFC 9110 §15.5.14); node waits for it' } },
  { name: 'chunk extension with an empty name or value', applies: chunkedWithData, apply: (m, n) => ({ ...m, exts: [pickOf([';=b', ';a=', ';;a'], n)] }), expect: { ours: 'refused', node: 'accepted', why: 'RFC 9112 §7.1.1: an extension name is a token (at least one character) and a value a token or quoted-string; llhttp lets empty ones through' } },
  { name: 'HTAB around the Content-Length value', applies: (m) => !m.chunked, apply: (m) => ({ ...m, fields: replaceField(m, isLength, [`Content-Length:\t${m.body.length}\t`]) }), expect: { ours: 'accepted', node: 'refused', why: 'HTAB is optional whitespace around any field value (RFC 9110 §5.5, §5.6.3); the llhttp of Node 20 refuses it in Content-Length only', nodeVaries: true } },
];

// ------------------------------------------------------------------ sending and reading answers

interface Outcome {
  /** Body digests of the requests accepted, in order, up to the first request not accepted. */
  accepted: string[];
  /** After them: all requests answered, a refusal/routing status, or no answer (still waiting / closed). */
  end: 'done' | 'refused' | 'pending';
}

/** Sends `pieces` as separate TCP writes and reads responses until `count` are accepted, one is not, or the line goes quiet. */
function run(port: number, pieces: Buffer[], count: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const accepted: string[] = [];
    let buf: Buffer = Buffer.alloc(0);
    let quiet: NodeJS.Timeout | undefined;
    let finished = false;
    const s = net.connect(port, '127.0.0.1');
    s.setNoDelay(true);
    const finish = (end: Outcome['end']): void => {
      if (finished) return;
      finished = true;
      clearTimeout(quiet);
      s.destroy();
      resolve({ accepted, end });
    };
    const idle = (): void => {
      clearTimeout(quiet);
      quiet = setTimeout(() => finish('pending'), 400);
    };
    const parse = (eof: boolean): void => {
      for (;;) {
        const he = buf.indexOf('\r\n\r\n');
        if (he < 0) return;
        const head = buf.subarray(0, he).toString('latin1');
        const status = Number(head.slice(9, 12));
        if (status >= 100 && status < 200) { // interim (100 Continue)
          buf = buf.subarray(he + 4);
          continue;
        }
        if (status !== 200) return finish('refused'); // its body does not matter
        const m = /\r\ncontent-length: *(\d+)/i.exec(head);
        const len = m ? Number(m[1]) : buf.length - he - 4;
        if (!m && !eof) return;
        if (buf.length < he + 4 + len) return;
        const body = buf.subarray(he + 4, he + 4 + len).toString('latin1');
        buf = buf.subarray(he + 4 + len);
        accepted.push(body);
        if (accepted.length === count) return finish('done');
      }
    };
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      idle();
      parse(false);
    });
    s.on('error', () => finish('pending'));
    s.on('close', () => {
      parse(true);
      finish('pending');
    });
    s.on('connect', async () => {
      for (const p of pieces) {
        if (s.destroyed) return;
        s.write(p);
        await new Promise((r) => setImmediate(r));
      }
      idle();
    });
  });
}

/** Splits `bytes` at the given fractions into TCP writes. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)).filter((p) => p > 0 && p < bytes.length))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  return out;
}

const caseArb = fc.record({
  msgs: fc.array(msgArb, { minLength: 1, maxLength: 4 }),
  closeLast: fc.boolean(),
  at: fc.nat(),
  pick: fc.nat(),
  cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 10 }),
});

/** Runs generated cases with `mu` applied to one request (or none), against both servers. */
async function differential(mu: Mutation | undefined): Promise<void> {
  await fc.assert(
    fc.asyncProperty(caseArb, async ({ msgs, closeLast, at, pick, cuts }) => {
      const list = msgs.slice();
      if (closeLast) {
        const last = list[list.length - 1] as Msg;
        list[list.length - 1] = { ...last, fields: [...last.fields.filter((f) => !/^connection:/i.test(f)), 'Connection: close'] };
      }
      let k = -1;
      const expect: Expectation = mu?.expect ?? 'same';
      if (mu) {
        // The first request from `at` on that the mutation applies to; a "cut" shifts framing
        // into the next request, so it needs one after it.
        const usable = list.map((m, i) => mu.applies(m) && (expect !== 'cut' || i < list.length - 1));
        for (let j = 0; j < list.length && k < 0; j++) if (usable[(at + j) % list.length]) k = (at + j) % list.length;
        fc.pre(k >= 0);
        list[k] = mu.apply(list[k] as Msg, pick);
      }
      const bytes = Buffer.concat(list.map(wire));
      const pieces = split(bytes, cuts);
      const [a, b] = await Promise.all([run((ours.address() as AddressInfo).port, pieces, list.length), run((node.address() as AddressInfo).port, pieces, list.length)]);
      const ctx = `mutation "${mu?.name ?? 'none'}" on request ${k}; ours ${JSON.stringify(a)} node ${JSON.stringify(b)}\n${JSON.stringify(bytes.toString('latin1').slice(0, 600))}`;
      if (expect === 'same') {
        assert.deepEqual(a, b, ctx);
      } else if (expect === 'cut') {
        assert.deepEqual(a.accepted, b.accepted, ctx);
        assert.equal(a.accepted.length, k + 1, ctx);
        assert.notEqual(a.end, 'done', ctx);
        assert.equal(b.end, 'refused', ctx);
      } else {
        // Identical up to the mutated request; there each side does what the rule says.
        assert.deepEqual(a.accepted.slice(0, k), b.accepted.slice(0, k), ctx);
        const nodeAgrees = expect.nodeVaries === true && JSON.stringify(a) === JSON.stringify(b);
        for (const [o, want] of (nodeAgrees ? [[a, expect.ours]] : [[a, expect.ours], [b, expect.node]]) as [typeof a, string][]) {
          if (want === 'accepted') assert.ok(o.accepted.length > k, `${want} expected (${expect.why}); ${ctx}`);
          else {
            assert.equal(o.accepted.length, k, `${want} expected (${expect.why}); ${ctx}`);
            assert.equal(o.end, want, `${want} expected (${expect.why}); ${ctx}`);
          }
        }
      }
    }),
    // ERAB_FUZZ_RUNS for a longer run; ERAB_FUZZ_SEED and ERAB_FUZZ_PATH replay a reported failure.
    {
      numRuns: Number(process.env.ERAB_FUZZ_RUNS ?? (mu ? 12 : 100)),
      // Shrinking large bodies over sockets can take long: report what was found after 20 s.
      interruptAfterTimeLimit: 20_000,
      markInterruptAsFailure: false,
      ...(process.env.ERAB_FUZZ_SEED ? { seed: Number(process.env.ERAB_FUZZ_SEED), path: process.env.ERAB_FUZZ_PATH } : {}),
    },
  );
}

test('our parser and llhttp take the same decision and hand over the same body bytes (differences stated rule by rule)', async (t) => {
  await t.test('valid pipelined requests, unmutated', () => differential(undefined));
  // One subtest per catalogue entry, so every rule runs on every run of the suite.
  for (const mu of MUTATIONS) {
    const rule = mu.expect === 'same' ? 'same decision' : mu.expect === 'cut' ? 'neither accepts what follows' : `ours ${mu.expect.ours}, node ${mu.expect.node}: ${mu.expect.why}`;
    await t.test(`${mu.name} (${rule})`, () => differential(mu));
  }
});
