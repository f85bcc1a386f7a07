/**
 * Hardened XML reading and small serialization helpers for OpenADR payloads.
 *
 * Reading is one bounded pass, linear in the input size (see parseXml): size is checked before
 * decoding, any DTD (`<!DOCTYPE`, `<!ENTITY` ...) is refused before anything is parsed, tag
 * balance, nesting depth and element count are checked as the tree is built, every prefix is
 * resolved against the xmlns bindings in scope (prefixes are never trusted by spelling), and
 * only the five predefined entities and character references (XML 1.0 §4.6) are decoded; any
 * other `&name;` is refused.
 */
import { OadrError, OadrResponseCode, compliance } from './errors.js';
import { NS } from './namespaces.js';

export interface XmlLimits {
  /** Largest accepted body in bytes (UTF-8). */
  maxBytes: number;
  /** Deepest accepted element nesting. OpenADR 2.0b payloads nest about 14 deep with a signature. */
  maxDepth: number;
  /** Most elements accepted in one document. */
  maxElements: number;
}

export const DEFAULT_XML_LIMITS: XmlLimits = { maxBytes: 1024 * 1024, maxDepth: 40, maxElements: 50_000 };

export interface XmlAttr {
  /** Namespace URI, '' for an unprefixed attribute. */
  ns: string;
  name: string;
  value: string;
}

/** A namespace-resolved element. `text` is the element's own character data, trimmed. */
export interface XmlElement {
  ns: string;
  name: string;
  attrs: XmlAttr[];
  children: XmlElement[];
  text: string;
}

const bad = (source: string, rule: string): OadrError =>
  new OadrError(OadrResponseCode.INVALID_DATA, `${source}: ${rule}`);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a body as strict UTF-8 and applies the size limit before decoding. */
export function decodeBody(body: string | Uint8Array, limits: XmlLimits, source: string): string {
  if (typeof body === 'string') {
    if (Buffer.byteLength(body, 'utf8') > limits.maxBytes) throw bad(source, `body larger than ${limits.maxBytes} bytes`);
    return body;
  }
  if (body.byteLength > limits.maxBytes) throw bad(source, `body larger than ${limits.maxBytes} bytes`);
  try {
    return utf8.decode(body);
  } catch {
    throw bad(source, 'body is not valid UTF-8');
  }
}

const isNameStart = (c: number): boolean =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a || c > 0x7f;
const isWs = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Decodes predefined entities and character references in one pass; refuses anything else. */
export function decodeEntities(s: string, source: string): string {
  if (!s.includes('&')) return s;
  if (/&(?![^;&\s]{0,12};)/.test(s)) throw bad(source, 'bare "&" in character data');
  return s.replace(/&([^;&\s]{0,12});/g, (_m, ref: string) => {
    const pre = PREDEFINED[ref];
    if (pre !== undefined) return pre;
    let cp = NaN;
    if (/^#x[0-9a-fA-F]{1,6}$/.test(ref)) cp = parseInt(ref.slice(2), 16);
    else if (/^#[0-9]{1,7}$/.test(ref)) cp = parseInt(ref.slice(1), 10);
    if (!Number.isFinite(cp) || cp > 0x10ffff || cp === 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
      throw bad(source, `entity reference "&${ref.slice(0, 16)};" is not allowed`);
    }
    return String.fromCodePoint(cp);
  });
}

type Scope = Map<string, string> & { names?: Map<string, { ns: string; name: string }> };

function resolve(qname: string, scope: Scope, source: string, isAttr: boolean): { ns: string; name: string } {
  // Element names repeat a lot within one scope: memoise the resolution per scope.
  const key = isAttr ? `@${qname}` : qname;
  const names = (scope.names ??= new Map());
  const hit = names.get(key);
  if (hit) return hit;
  const colon = qname.indexOf(':');
  let r: { ns: string; name: string };
  if (colon < 0) r = { ns: isAttr ? '' : (scope.get('') ?? ''), name: qname };
  else {
    const prefix = qname.slice(0, colon);
    const ns = prefix === 'xml' ? NS.xml : scope.get(prefix);
    if (ns === undefined) throw compliance(`${source}: namespace prefix "${prefix.slice(0, 32)}" is not declared`);
    r = { ns, name: qname.slice(colon + 1) };
  }
  if (names.size < 512) names.set(key, r);
  return r;
}

/** XML 1.0 §2.11: CR LF and lone CR become LF before anything else sees the text. */
const normalizeLineEnds = (t: string): string => (t.includes('\r') ? t.replace(/\r\n?/g, '\n') : t);
/** XML 1.0 §3.3.3: literal whitespace in an attribute value becomes a space (character references stay). */
const normalizeAttr = (v: string): string => (/[\t\n\r]/.test(v) ? normalizeLineEnds(v).replace(/[\t\n]/g, ' ') : v);

// One attribute: whitespace, name, =, quoted value. Sticky, so the whole tag must be attributes.
const ATTR = /[ \t\r\n]+([^\s=/>"']+)[ \t\r\n]*=[ \t\r\n]*(?:"([^"<]*)"|'([^'<]*)')/y;

interface Open {
  el: XmlElement;
  qname: string;
  scope: Scope;
  text: string;
}

/**
 * Parses an XML document into a namespace-resolved tree in one linear pass, refusing what a
 * hostile peer could use: any DTD or entity declaration (billion laughs, XXE, external DTD) is
 * refused before anything else is looked at; no entity other than the five predefined and
 * character references is ever expanded; size, nesting depth and element count are bounded;
 * tags must balance, attributes must be well-formed and unique, prefixes must be declared.
 * Errors are OadrError(454) — 459 for an undeclared prefix — naming `source` and the rule.
 *
 * (A single pass of our own instead of fast-xml-parser: measured ~5× faster on OpenADR payloads
 * by bench/openadr-codec.ts, and it lets the security checks and the tree share one scan.)
 * @example const root = parseXml(body, DEFAULT_XML_LIMITS, 'POST /OpenADR2/Simple/2.0b/OadrPoll');
 */
export function parseXml(body: string | Uint8Array, limits: XmlLimits = DEFAULT_XML_LIMITS, source = 'XML body'): XmlElement {
  const xml = decodeBody(body, limits, source);
  // Outright refusal before any parsing, whatever the structure around it.
  if (xml.includes('<!DOCTYPE') || xml.includes('<!ENTITY') || xml.includes('<!doctype')) {
    throw bad(source, 'DTD / entity declarations are not allowed');
  }
  const n = xml.length;
  const bom = xml.charCodeAt(0) === 0xfeff ? 1 : 0;
  let i = bom;
  let elements = 0;
  let root: XmlElement | undefined;
  const stack: Open[] = [];
  const rootScope: Scope = new Map<string, string>();
  while (i < n) {
    const lt = xml.indexOf('<', i);
    const textEnd = lt < 0 ? n : lt;
    const top = stack[stack.length - 1];
    if (textEnd > i) {
      if (top) top.text += decodeEntities(normalizeLineEnds(xml.slice(i, textEnd)), source);
      else for (let k = i; k < textEnd; k++) if (!isWs(xml.charCodeAt(k))) throw bad(source, 'text outside the root element');
    }
    if (lt < 0) break;
    const c = xml.charCodeAt(lt + 1);
    if (c === 0x2f) {
      // end tag
      const gt = xml.indexOf('>', lt + 2);
      if (gt < 0) throw bad(source, 'unterminated end tag');
      const name = xml.slice(lt + 2, gt).trimEnd();
      const open = stack.pop();
      if (!open || open.qname !== name) throw bad(source, `end tag </${name.slice(0, 64)}> does not match <${(open?.qname ?? '').slice(0, 64)}>`);
      open.el.text = open.text.trim();
      i = gt + 1;
      continue;
    }
    if (c === 0x21) {
      if (xml.startsWith('<!--', lt)) {
        const end = xml.indexOf('-->', lt + 4);
        if (end < 0) throw bad(source, 'unterminated comment');
        i = end + 3;
        continue;
      }
      if (xml.startsWith('<![CDATA[', lt)) {
        if (!top) throw bad(source, 'CDATA outside the root element');
        const end = xml.indexOf(']]>', lt + 9);
        if (end < 0) throw bad(source, 'unterminated CDATA section');
        top.text += xml.slice(lt + 9, end);
        i = end + 3;
        continue;
      }
      throw bad(source, 'markup declarations (<!...>) are not allowed');
    }
    if (c === 0x3f) {
      const end = xml.indexOf('?>', lt + 2);
      if (end < 0) throw bad(source, 'unterminated processing instruction');
      const target = xml.slice(lt + 2, Math.min(end, lt + 40)).split(/\s/, 1)[0] ?? '';
      if (target.toLowerCase() === 'xml') {
        if (lt !== bom) throw bad(source, 'XML declaration not at the start');
        const enc = /encoding\s*=\s*["']([^"']*)["']/.exec(xml.slice(lt, end));
        if (enc && !/^(utf-8|us-ascii)$/i.test(enc[1] ?? '')) throw bad(source, `unsupported encoding "${(enc[1] ?? '').slice(0, 32)}" (UTF-8 only)`);
      }
      i = end + 2;
      continue;
    }
    if (!isNameStart(c)) throw bad(source, 'invalid character after "<"');
    // start tag: name, then attributes up to ">" or "/>"
    let j = lt + 1;
    while (j < n) {
      const ch = xml.charCodeAt(j);
      if (isWs(ch) || ch === 0x2f || ch === 0x3e) break;
      j++;
    }
    const qname = xml.slice(lt + 1, j);
    const rawAttrs: [string, string][] = [];
    ATTR.lastIndex = j;
    for (;;) {
      const m = ATTR.exec(xml);
      if (!m) break;
      rawAttrs.push([m[1] as string, m[2] ?? m[3] ?? '']);
      j = ATTR.lastIndex;
      if (rawAttrs.length > 256) throw bad(source, 'more than 256 attributes on one element');
    }
    while (j < n && isWs(xml.charCodeAt(j))) j++;
    let selfClose = false;
    if (xml.charCodeAt(j) === 0x2f && xml.charCodeAt(j + 1) === 0x3e) {
      selfClose = true;
      j += 2;
    } else if (xml.charCodeAt(j) === 0x3e) j += 1;
    else throw bad(source, j >= n ? 'unterminated start tag' : `malformed start tag <${qname.slice(0, 64)}>`);
    if (++elements > limits.maxElements) throw bad(source, `more than ${limits.maxElements} elements`);
    if (!top && root) throw bad(source, 'more than one root element');
    const parentScope = top?.scope ?? rootScope;
    let scope: Scope = parentScope;
    const seen = rawAttrs.length > 1 ? new Set<string>() : undefined;
    const plain: [string, string][] = [];
    for (const [k, v] of rawAttrs) {
      if (seen) {
        if (seen.has(k)) throw bad(source, `duplicate attribute ${k.slice(0, 64)} on <${qname.slice(0, 64)}>`);
        seen.add(k);
      }
      if (k === 'xmlns' || k.startsWith('xmlns:')) {
        if (scope === parentScope) scope = new Map(parentScope);
        scope.set(k === 'xmlns' ? '' : k.slice(6), decodeEntities(normalizeAttr(v), source));
      } else plain.push([k, v]);
    }
    const { ns, name } = resolve(qname, scope, source, false);
    const el: XmlElement = {
      ns,
      name,
      attrs: plain.map(([k, v]) => {
        const r = resolve(k, scope, source, true);
        return { ns: r.ns, name: r.name, value: decodeEntities(normalizeAttr(v), source) };
      }),
      children: [],
      text: '',
    };
    if (top) top.el.children.push(el);
    else root = el;
    if (!selfClose) {
      if (stack.length + 1 > limits.maxDepth) throw bad(source, `nesting deeper than ${limits.maxDepth} elements`);
      stack.push({ el, qname, scope, text: '' });
    }
    i = j;
  }
  if (stack.length > 0) throw bad(source, `element <${(stack[stack.length - 1]?.qname ?? '').slice(0, 64)}> is not closed`);
  if (!root) throw bad(source, 'no root element');
  return root;
}

// ---------------------------------------------------------------- reading helpers

/** First child element with this namespace and local name. */
export function childOf(el: XmlElement, ns: string, name: string): XmlElement | undefined {
  for (const c of el.children) if (c.name === name && c.ns === ns) return c;
  return undefined;
}

/** Every child element with this namespace and local name, in document order. */
export function childrenOf(el: XmlElement, ns: string, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name && c.ns === ns);
}

const prefixOf = (ns: string): string => {
  for (const [p, u] of Object.entries(NS)) if (u === ns) return p;
  return `{${ns}}`;
};

/** The mandatory child; a missing one is a schema compliance error (459) naming the path. */
export function required(el: XmlElement, ns: string, name: string, path: string): XmlElement {
  const c = childOf(el, ns, name);
  if (!c) throw compliance(`${path}: missing mandatory element ${prefixOf(ns)}:${name}`);
  return c;
}

/** Text of a mandatory child element. */
export function reqText(el: XmlElement, ns: string, name: string, path: string): string {
  return required(el, ns, name, path).text;
}

/** Text of an optional child element. */
export function optText(el: XmlElement, ns: string, name: string): string | undefined {
  return childOf(el, ns, name)?.text;
}

/** An attribute by namespace and local name. */
export function attrOf(el: XmlElement, ns: string, name: string): string | undefined {
  for (const a of el.attrs) if (a.name === name && a.ns === ns) return a.value;
  return undefined;
}

// ---------------------------------------------------------------- writing helpers

export const escapeText = (s: string): string =>
  /[&<>]/.test(s) ? s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') : s;

export const escapeAttr = (s: string): string =>
  /[&<>"\r\n\t]/.test(s)
    ? s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
        .replace(/\r/g, '&#13;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;')
    : s;

/** `<q>inner</q>` where inner is already XML. */
export const elem = (qname: string, inner: string): string => `<${qname}>${inner}</${qname}>`;

/** `<q>escaped text</q>`. */
export const leaf = (qname: string, value: string | number | boolean): string =>
  `<${qname}>${escapeText(String(value))}</${qname}>`;

/** Emits `leaf` only when the value is present. */
export const optLeaf = (qname: string, value: string | number | boolean | undefined): string =>
  value === undefined ? '' : leaf(qname, value);
