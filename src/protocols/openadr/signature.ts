/**
 * OpenADR 2.0b XML signatures (Profile Specification §10 Security, "XML Signature"): a ds:Signature
 * in oadrPayload, before oadrSignedObject, with two references — the oadrSignedObject (by its Id)
 * and the dsp:ReplayProtect (timestamp + nonce) inside a ds:Object — SHA-256 digests, RSA-SHA256
 * or ECDSA-SHA256.
 *
 * We sign in one format (exclusive c14n, the second reference designating the ds:SignatureProperty)
 * and accept every form the profile and its real implementations use: exclusive or inclusive c14n
 * 1.0, with or without comments, with an InclusiveNamespaces PrefixList; the second reference
 * designating the ds:SignatureProperty, the ds:SignatureProperties or the ds:Object that holds them
 * (signxml, hence openleadr-python, references the ds:Object). Inclusive c14n is not in the
 * profile's list but is what openleadr-python 0.5.x signs with, so refusing it would refuse them.
 *
 * Verification is paranoid on purpose, because this is also the command-authenticity scheme from
 * aggregator to gateway:
 *  - the key is the peer's certificate we already know (allow-list / TLS), never the KeyInfo;
 *  - exactly one ds:Signature, a direct child of oadrPayload, with exactly those two references,
 *    and only the algorithms above (the signature method must fit the signer's key type);
 *  - no Id value is carried by two elements; the one referenced as the signed object is the
 *    oadrSignedObject being processed (refuses the classic wrapping variants);
 *  - the ReplayProtect is the only one in the document and lies inside the element the second
 *    reference designates, which lies in a ds:Object of the ds:Signature;
 *  - the message returned is decoded from the bytes that were signed, and the ReplayProtect is
 *    read from the bytes that were signed, not from the document;
 *  - ReplayProtect timestamp within a window and nonce never seen before (time injected).
 */
import { createHash, createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import type { Clock } from '../../core/clock.js';
import type { EpochMillis } from '../../core/units.js';
import { formatDateTime, parseDateTime } from './durations.js';
import { OadrError, OadrResponseCode } from './errors.js';
import { NS, PAYLOAD_NS_DECLS } from './namespaces.js';
import type { ReplayCache } from './replay-cache.js';
import { type DecodedPayload, type OadrMessage, SIGNED_OBJECT_ID, decodeMessageElement, decodePayload, encodePayload, signedObjectIdOf } from './payload.js';
import { DEFAULT_XML_LIMITS, type XmlElement, type XmlLimits, childOf, escapeText, parseXml } from './xml.js';

const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const EXC_C14N_COMMENTS = 'http://www.w3.org/2001/10/xml-exc-c14n#WithComments';
const C14N = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
const C14N_COMMENTS = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const ECDSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256';

/** Per-peer signature policy (brief: required / optional / off). */
export type SignatureMode = 'required' | 'optional' | 'off';

export interface SigningKey {
  /** PEM private key (RSA or EC P-256). */
  privateKeyPem: string;
  /** PEM certificate matching the key; put in KeyInfo for peers that want it. */
  certificatePem: string;
}

/**
 * ECDSA-SHA256 for xml-crypto, with the signature value as r||s (XML Signature 1.1 §6.4.3), which
 * node produces with dsaEncoding 'ieee-p1363'.
 */
class EcdsaSha256 {
  getSignature(signedInfo: string | Buffer, privateKey: string | Buffer | KeyObject): string {
    return cryptoSign('sha256', Buffer.from(signedInfo), { key: privateKey as KeyObject, dsaEncoding: 'ieee-p1363' }).toString('base64');
  }
  verifySignature(material: string, key: string | Buffer | KeyObject, signatureValue: string): boolean {
    return cryptoVerify('sha256', Buffer.from(material), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' }, Buffer.from(signatureValue, 'base64'));
  }
  getAlgorithmName(): string {
    return ECDSA_SHA256;
  }
}

function withEcdsa(sx: SignedXml): SignedXml {
  (sx.SignatureAlgorithms as Record<string, unknown>)[ECDSA_SHA256] = EcdsaSha256;
  return sx;
}

// Parsed keys and certificates by PEM text: a VTN signs and verifies with the same keys thousands
// of times, and parsing them dominated the cost (measured with --cpu-prof). Sized for an
// aggregator's whole fleet of gateway certificates (a few KB each): a smaller cache thrashed at
// 500 gateways and X.509 parsing took 13 % of the aggregator's CPU.
const CACHE_MAX = 20_000;
const privateKeys = new Map<string, KeyObject>();
const certs = new Map<string, { fingerprint: string; subject: string; publicKey: KeyObject; der: string }>();
function remember<V>(m: Map<string, V>, k: string, make: () => V): V {
  let v = m.get(k);
  if (v === undefined) {
    v = make();
    if (m.size >= CACHE_MAX) m.delete(m.keys().next().value as string);
    m.set(k, v);
  }
  return v;
}
const privateKeyOf = (pem: string): KeyObject => remember(privateKeys, pem, () => createPrivateKey(pem));
function certInfo(pem: string): { fingerprint: string; subject: string; publicKey: KeyObject; der: string } {
  return remember(certs, pem, () => {
    const cert = new X509Certificate(pem);
    const digest = createHash('sha256').update(cert.raw).digest();
    const fingerprint = [...digest.subarray(digest.length - 10)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
    return { fingerprint, subject: cert.subject, publicKey: cert.publicKey, der: cert.raw.toString('base64') };
  });
}

/** The OpenADR fingerprint of a certificate: last 10 bytes of SHA-256(DER), colon-separated upper-case hex. */
export function openadrFingerprint(certPem: string): string {
  return certInfo(certPem).fingerprint;
}

export interface SignOptions {
  clock: Clock;
  /** Nonce source, injectable for tests; 16 random bytes hex by default. */
  nonce?: () => string;
}

/**
 * Serializes and signs a message as an oadrPayload with an enveloped ds:Signature and ReplayProtect.
 * @example const xml = signPayload(msg, { privateKeyPem, certificatePem }, { clock: systemClock });
 */
export function signPayload(message: OadrMessage, key: SigningKey, opts: SignOptions): string {
  return signXml(encodePayload(message), key, opts);
}

/**
 * Signs an already serialized, unsigned oadrPayload document. Documents produced by our own
 * serializer (encodePayload) take a fast path that canonicalises them directly (see
 * `c14nOwn`); anything else goes through xml-crypto. Both produce the same structure, and the
 * tests verify fast-path signatures with xml-crypto.
 */
export function signXml(unsignedPayload: string, key: SigningKey, opts: SignOptions): string {
  const privateKey = privateKeyOf(key.privateKeyPem);
  const kind = privateKey.asymmetricKeyType;
  if (kind !== 'rsa' && kind !== 'ec') throw new OadrError(OadrResponseCode.OTHER, `signing key type ${kind ?? 'unknown'} is not supported (RSA or EC)`);
  return signOwn(unsignedPayload, privateKey, kind, key.certificatePem, opts) ?? signGeneric(unsignedPayload, privateKey, kind, key, opts);
}

const OWN_HEAD = `<?xml version="1.0" encoding="UTF-8"?>\n<oadr:oadrPayload ${PAYLOAD_NS_DECLS}>`;
const OWN_OBJECT = `<oadr:oadrSignedObject oadr:Id="${SIGNED_OBJECT_ID}">`;
const OWN_TAIL = '</oadr:oadrSignedObject></oadr:oadrPayload>';
const PREFIX_URI = NS as Record<string, string>;

const unescapeOwnAttr = (v: string): string =>
  v.replace(/&(amp|lt|gt|quot|#13|#10|#9);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#13': '\r', '#10': '\n', '#9': '\t' })[e] as string);
// Exclusive c14n escaping (Canonical XML 1.0 §1.1 / Exc-C14N §3): attribute values and text.
const c14nAttr = (v: string): string =>
  v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;').replace(/\t/g, '&#x9;').replace(/\n/g, '&#xA;').replace(/\r/g, '&#xD;');
// Our text is already escaped for & < >; a verifier's parser normalises line ends before c14n.
const c14nText = (t: string): string => (t.includes('\r') ? t.replace(/\r\n?/g, '\n') : t);

/**
 * Exclusive XML canonicalisation (http://www.w3.org/2001/10/xml-exc-c14n#, no comments, no
 * inclusive prefixes) of an element serialized by OUR encoder: tags without namespace
 * declarations inside, every prefix one of NS, attribute values without '>' raw. Renders each
 * visibly used namespace on the first output element that uses it, sorts declarations by prefix
 * and attributes by (namespace URI, local name), expands empty-element tags. Returns undefined
 * for anything outside that format (the caller then uses xml-crypto).
 */
export function c14nOwn(xml: string): string | undefined {
  let out = '';
  let i = 0;
  const rendered: Map<string, string>[] = [new Map()];
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) return undefined; // text after the apex element
    if (lt > i) out += c14nText(xml.slice(i, lt));
    const gt = xml.indexOf('>', lt);
    if (gt < 0) return undefined;
    const c = xml.charCodeAt(lt + 1);
    if (c === 0x2f) {
      out += xml.slice(lt, gt + 1);
      rendered.pop();
      i = gt + 1;
      continue;
    }
    if (c === 0x21 || c === 0x3f) return undefined;
    const selfClose = xml.charCodeAt(gt - 1) === 0x2f;
    const inner = xml.slice(lt + 1, selfClose ? gt - 1 : gt).trimEnd();
    const sp = inner.indexOf(' ');
    const qname = sp < 0 ? inner : inner.slice(0, sp);
    const scope = rendered[rendered.length - 1] as Map<string, string>;
    const needed = new Map<string, string>();
    const uriOf = (q: string): string | undefined => {
      const colon = q.indexOf(':');
      if (colon < 0) return '';
      const prefix = q.slice(0, colon);
      const uri = PREFIX_URI[prefix];
      if (uri === undefined || prefix === 'xml' || prefix === 'xmlns') return undefined;
      if (scope.get(prefix) !== uri) needed.set(prefix, uri);
      return uri;
    };
    if (uriOf(qname) === undefined || !qname.includes(':')) return undefined;
    const attrs: { q: string; uri: string; local: string; value: string }[] = [];
    if (sp >= 0) {
      const rest = inner.slice(sp);
      const re = / ([^\s="]+)="([^"]*)"/y;
      let pos = 0;
      while (pos < rest.length) {
        re.lastIndex = pos;
        const m = re.exec(rest);
        if (!m) return undefined;
        const q = m[1] as string;
        if (q === 'xmlns' || q.startsWith('xmlns:')) return undefined;
        const uri = uriOf(q);
        if (uri === undefined) return undefined;
        attrs.push({ q, uri, local: q.slice(q.indexOf(':') + 1), value: unescapeOwnAttr(m[2] as string) });
        pos = re.lastIndex;
      }
    }
    attrs.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : a.local < b.local ? -1 : a.local > b.local ? 1 : 0));
    let tag = `<${qname}`;
    for (const p of [...needed.keys()].sort()) tag += ` xmlns:${p}="${needed.get(p) as string}"`;
    for (const a of attrs) tag += ` ${a.q}="${c14nAttr(a.value)}"`;
    tag += '>';
    out += tag;
    if (selfClose) out += `</${qname}>`;
    else {
      const next = needed.size ? new Map([...scope, ...needed]) : scope;
      rendered.push(next);
    }
    i = gt + 1;
  }
  return rendered.length === 1 ? out : undefined;
}

const sha256b64 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('base64');

// The pieces of our own signed format, shared by signOwn (which writes them) and verifyOwn (which
// recognises them and recomputes their canonical forms).
const ownReference = (uri: string, digest: string): string =>
  `<ds:Reference URI="${uri}"><ds:Transforms><ds:Transform Algorithm="${EXC_C14N}"></ds:Transform></ds:Transforms>` +
  `<ds:DigestMethod Algorithm="${SHA256}"></ds:DigestMethod><ds:DigestValue>${digest}</ds:DigestValue></ds:Reference>`;
/** Exclusive c14n of the ReplayProtect property: ds declared on it, attributes Id < Target. */
const canonSignatureProperty = (sigId: string, replayInner: string): string =>
  `<ds:SignatureProperty xmlns:ds="${NS.ds}" Id="${sigId}-replay" Target="#${sigId}">${replayInner}</ds:SignatureProperty>`;
/** Exclusive c14n of SignedInfo: ds declared on it, its children in our format unchanged. */
const canonSignedInfo = (body: string): string => `<ds:SignedInfo xmlns:ds="${NS.ds}">${body}</ds:SignedInfo>`;
/** Node's key options for ECDSA values as r||s (XML Signature 1.1 §6.4.3); RSA keys as they are. */
const signatureKey = (key: KeyObject): KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' } =>
  key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: 'ieee-p1363' } : key;

/** Fast path for our own serializations; undefined when the document is not in that format. */
function signOwn(xml: string, privateKey: KeyObject, kind: 'rsa' | 'ec', certificatePem: string, opts: SignOptions): string | undefined {
  if (!xml.startsWith(OWN_HEAD) || !xml.endsWith(OWN_TAIL)) return undefined;
  const objStart = OWN_HEAD.length;
  if (!xml.startsWith(OWN_OBJECT, objStart)) return undefined;
  const objectXml = xml.slice(objStart, xml.length - '</oadr:oadrPayload>'.length);
  const canonObject = c14nOwn(objectXml);
  if (canonObject === undefined) return undefined;
  const nonce = (opts.nonce ?? (() => randomBytes(16).toString('hex')))();
  const sigId = `sig-${randomBytes(6).toString('hex')}`;
  const propId = `${sigId}-replay`;
  const replayInner = `<dsp:ReplayProtect xmlns:dsp="${NS.dsp}"><dsp:timestamp>${formatDateTime(opts.clock.now())}</dsp:timestamp><dsp:nonce>${escapeText(nonce)}</dsp:nonce></dsp:ReplayProtect>`;
  const canonProp = canonSignatureProperty(sigId, replayInner);
  const alg = kind === 'ec' ? ECDSA_SHA256 : RSA_SHA256;
  const signedInfoBody = `<ds:CanonicalizationMethod Algorithm="${EXC_C14N}"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm="${alg}"></ds:SignatureMethod>` +
    ownReference(`#${SIGNED_OBJECT_ID}`, sha256b64(canonObject)) + ownReference(`#${propId}`, sha256b64(canonProp));
  const value = cryptoSign('sha256', Buffer.from(canonSignedInfo(signedInfoBody), 'utf8'), signatureKey(privateKey)).toString('base64');
  const der = certInfo(certificatePem).der;
  const signature = `<ds:Signature xmlns:ds="${NS.ds}" Id="${sigId}"><ds:SignedInfo>${signedInfoBody}</ds:SignedInfo><ds:SignatureValue>${value}</ds:SignatureValue>` +
    `<ds:KeyInfo><ds:X509Data><ds:X509Certificate>${der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>` +
    `<ds:Object><ds:SignatureProperties><ds:SignatureProperty Id="${propId}" Target="#${sigId}">${replayInner}</ds:SignatureProperty></ds:SignatureProperties></ds:Object></ds:Signature>`;
  return xml.slice(0, objStart) + signature + xml.slice(objStart);
}

/** Signs any oadrPayload document with xml-crypto. */
function signGeneric(unsignedPayload: string, privateKey: KeyObject, kind: 'rsa' | 'ec', key: SigningKey, opts: SignOptions): string {
  const nonce = (opts.nonce ?? (() => randomBytes(16).toString('hex')))();
  const sigId = `sig-${randomBytes(6).toString('hex')}`;
  const propId = `${sigId}-replay`;
  const replay =
    `<ds:SignatureProperties><ds:SignatureProperty Id="${propId}" Target="#${sigId}">` +
    `<dsp:ReplayProtect xmlns:dsp="${NS.dsp}"><dsp:timestamp>${formatDateTime(opts.clock.now())}</dsp:timestamp>` +
    `<dsp:nonce>${nonce}</dsp:nonce></dsp:ReplayProtect></ds:SignatureProperty></ds:SignatureProperties>`;
  const sx = withEcdsa(new SignedXml({
    privateKey,
    publicCert: key.certificatePem,
    signatureAlgorithm: kind === 'ec' ? ECDSA_SHA256 : RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
    getKeyInfoContent: SignedXml.getKeyInfoContent,
    objects: [{ content: replay }],
  }));
  sx.addReference({ xpath: `/*/*[local-name(.)='oadrSignedObject']`, digestAlgorithm: SHA256, transforms: [EXC_C14N], uri: `#${SIGNED_OBJECT_ID}` });
  sx.addReference({ xpath: `//*[local-name(.)='SignatureProperty' and @Id='${propId}']`, digestAlgorithm: SHA256, transforms: [EXC_C14N], uri: `#${propId}` });
  sx.computeSignature(unsignedPayload, {
    prefix: 'ds',
    attrs: { Id: sigId },
    location: { reference: `/*/*[local-name(.)='oadrSignedObject']`, action: 'before' },
  });
  return sx.getSignedXml();
}

/**
 * Remembers nonces for the replay window, in memory (a restart forgets them: roles with a store
 * use the store-backed ReplayCache); bounded so a flood cannot exhaust memory.
 */
export class NonceCache implements ReplayCache {
  private readonly seen = new Map<string, number>();
  constructor(private readonly windowMs: number, private readonly maxEntries = 1_000_000) {}
  /** Records the nonce; false when it was already seen within the window. */
  check(nonce: string, now: number): boolean {
    if (this.seen.size >= this.maxEntries) this.purge(now);
    const exp = this.seen.get(nonce);
    if (exp !== undefined && exp > now) return false;
    if (this.seen.size >= this.maxEntries) throw new OadrError(OadrResponseCode.OTHER, 'nonce cache full; refusing signed payloads until it drains');
    // A nonce must be remembered until its timestamp can no longer pass the window check.
    this.seen.set(nonce, now + 2 * this.windowMs);
    return true;
  }
  /** Memory is all there is: a claim is settled when `check` grants it. */
  confirm(): true {
    return true;
  }
  purge(now: number): void {
    for (const [k, exp] of this.seen) if (exp <= now) this.seen.delete(k);
  }
  get size(): number {
    return this.seen.size;
  }
}

export interface VerifyOptions {
  /** The certificate the signer must hold (from the allow-list / registration), PEM. */
  signerCertificatePem: string;
  clock: Clock;
  /** Claims the ReplayProtect nonce; the caller then awaits `confirmNonce` before acting on the payload. */
  nonces: ReplayCache;
  /** Accepted clock skew either side of now, ms (default 5 minutes). */
  windowMs?: number;
  limits?: XmlLimits;
  /** The caller's hardened decode of exactly `xml` (decodePayload), to avoid parsing it twice. */
  decoded?: DecodedPayload;
}

/** What a verified payload proves: the message exactly as signed, and by whom and when. */
export interface VerifiedPayload {
  message: OadrMessage;
  /** The canonical XML of the oadrSignedObject that the signature covers. */
  signedObjectXml: string;
  signer: { fingerprint: string; subject: string };
  timestamp: EpochMillis;
  nonce: string;
}

const refuse = (why: string): OadrError => new OadrError(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, `XML signature refused: ${why}`);

function walk(el: XmlElement, visit: (e: XmlElement) => void): void {
  visit(el);
  for (const c of el.children) walk(c, visit);
}

/** xml-crypto's check over the whole document; returns the canonical XML of the two references. */
function verifyGeneric(xml: string, publicKey: KeyObject): string[] {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const sx = withEcdsa(new SignedXml({ publicCert: publicKey, getCertFromKeyInfo: () => null }));
  const domSig = doc.documentElement?.getElementsByTagNameNS(NS.ds, 'Signature')[0];
  if (!domSig) throw refuse('no ds:Signature');
  sx.loadSignature(domSig);
  let ok = false;
  try {
    ok = sx.checkSignature(xml);
  } catch (err) {
    throw refuse((err as Error).message.slice(0, 200));
  }
  if (!ok) throw refuse('signature or digest does not match');
  const signedRefs = sx.getSignedReferences();
  if (signedRefs.length !== 2) throw refuse('not every reference was validated');
  return signedRefs;
}

const reEsc = (t: string): string => t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** ownReference as a pattern: the URI given (already a pattern), the digest captured. */
const OWN_REF = (uriPattern: string): string =>
  reEsc(ownReference('\u0000', '\u0001')).replace('\u0000', uriPattern).replace('\u0001', '([A-Za-z0-9+/]{43}=)');
/**
 * The ds:Signature exactly as signOwn writes it. Timestamp and nonce are limited to characters
 * that exclusive c14n leaves as they are, so the canonical form below is the text itself.
 */
const OWN_SIGNATURE = new RegExp(
  `^<ds:Signature xmlns:ds="${reEsc(NS.ds)}" Id="(sig-[0-9a-f]{12})"><ds:SignedInfo>(` +
  `<ds:CanonicalizationMethod Algorithm="${reEsc(EXC_C14N)}"></ds:CanonicalizationMethod>` +
  `<ds:SignatureMethod Algorithm="(${reEsc(ECDSA_SHA256)}|${reEsc(RSA_SHA256)})"></ds:SignatureMethod>` +
  OWN_REF(`#${SIGNED_OBJECT_ID}`) + OWN_REF('#\\1-replay') +
  `)</ds:SignedInfo><ds:SignatureValue>([A-Za-z0-9+/]{1,1400}={0,2})</ds:SignatureValue>` +
  `<ds:KeyInfo><ds:X509Data><ds:X509Certificate>[A-Za-z0-9+/]{1,8000}={0,2}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>` +
  `<ds:Object><ds:SignatureProperties><ds:SignatureProperty Id="\\1-replay" Target="#\\1">(` +
  `<dsp:ReplayProtect xmlns:dsp="${reEsc(NS.dsp)}"><dsp:timestamp>[0-9TZ:.+-]{1,40}</dsp:timestamp><dsp:nonce>[A-Za-z0-9_.-]{1,256}</dsp:nonce></dsp:ReplayProtect>` +
  `)</ds:SignatureProperty></ds:SignatureProperties></ds:Object></ds:Signature>`,
);

/**
 * Fast check for documents in exactly the format our own signer writes (our peers, in practice):
 * the references and SignedInfo are canonicalised from the text (`c14nOwn`), digests compared,
 * and the signature value verified over the canonical SignedInfo with the expected key — the
 * same computation xml-crypto does, without a DOM and XPath. Anything else returns undefined
 * and goes through xml-crypto. The caller has already checked the document's structure on the
 * hardened parse, and decodes the message it processes from the canonical bytes returned here.
 */
function verifyOwn(xml: string, publicKey: KeyObject): string[] | undefined {
  if (!xml.startsWith(OWN_HEAD) || !xml.endsWith(OWN_TAIL)) return undefined;
  const sigStart = OWN_HEAD.length;
  const sigEnd = xml.indexOf('</ds:Signature>', sigStart);
  if (sigEnd < 0) return undefined;
  const after = sigEnd + '</ds:Signature>'.length;
  if (!xml.startsWith(OWN_OBJECT, after)) return undefined;
  const m = OWN_SIGNATURE.exec(xml.slice(sigStart, after));
  if (!m) return undefined;
  const [, sigId, signedInfoBody, alg, objectDigest, propDigest, value, replayInner] = m as unknown as string[];
  const canonObject = c14nOwn(xml.slice(after, xml.length - '</oadr:oadrPayload>'.length));
  if (canonObject === undefined) return undefined;
  const canonProp = canonSignatureProperty(sigId as string, replayInner as string);
  if (sha256b64(canonObject) !== objectDigest || sha256b64(canonProp) !== propDigest) {
    throw refuse('invalid signature: a reference digest does not match its element');
  }
  if ((publicKey.asymmetricKeyType === 'ec') !== (alg === ECDSA_SHA256)) throw refuse(`signature method ${alg as string} does not fit the signer's ${publicKey.asymmetricKeyType ?? 'unknown'} key`);
  const ok = cryptoVerify('sha256', Buffer.from(canonSignedInfo(signedInfoBody as string), 'utf8'), signatureKey(publicKey), Buffer.from(value as string, 'base64'));
  if (!ok) throw refuse(`invalid signature: the signature value ${(value as string).slice(0, 100)} is incorrect`);
  return [canonObject, canonProp];
}

// ------------------------------------------------------------ what a signature may look like

/** Canonicalisations allowed for SignedInfo and as a reference's transform. */
const CANONICALIZATIONS: ReadonlySet<string> = new Set([EXC_C14N, EXC_C14N_COMMENTS, C14N, C14N_COMMENTS]);
const EXCLUSIVE: ReadonlySet<string> = new Set([EXC_C14N, EXC_C14N_COMMENTS]);
/** The one signature method each key type may use (profile §10: RSA-SHA256, ECDSA-SHA256). */
const METHOD_FOR_KEY: Readonly<Record<string, string>> = { rsa: RSA_SHA256, ec: ECDSA_SHA256 };
const ID_ATTRIBUTES: ReadonlySet<string> = new Set(['Id', 'ID', 'id']);

const algorithmOf = (e: XmlElement): string => e.attrs.find((a) => a.name === 'Algorithm' && a.ns === '')?.value ?? '';
const isDs = (e: XmlElement | undefined, name: string): e is XmlElement => e !== undefined && e.ns === NS.ds && e.name === name;
const dsChildren = (e: XmlElement, name: string): XmlElement[] => e.children.filter((c) => isDs(c, name));

/** A CanonicalizationMethod or c14n Transform: an allowed algorithm, holding at most an exclusive c14n InclusiveNamespaces. */
function checkCanonicalization(el: XmlElement, where: string): void {
  const alg = algorithmOf(el);
  if (!CANONICALIZATIONS.has(alg)) throw refuse(`${where}: canonicalization "${alg.slice(0, 100)}" is not allowed (exclusive or inclusive c14n 1.0)`);
  for (const c of el.children) {
    if (!(EXCLUSIVE.has(alg) && c.ns === EXC_C14N && c.name === 'InclusiveNamespaces' && c.children.length === 0)) {
      throw refuse(`${where}: unexpected ${c.name} inside the canonicalization`);
    }
  }
}

/**
 * One ds:Reference: a same-document URI, transforms that are an optional enveloped-signature then
 * one canonicalisation (no XPath or XSLT), SHA-256. Returns the URI.
 */
function checkReference(ref: XmlElement, n: number): string {
  const where = `Reference ${n}`;
  const uri = ref.attrs.find((a) => a.name === 'URI' && a.ns === '')?.value ?? '';
  if (!/^#[^#]/.test(uri)) throw refuse(`${where}: URI "${uri.slice(0, 60)}" is not a same-document reference "#Id"`);
  const [transforms, digestMethod, digestValue, ...rest] = ref.children;
  if (!isDs(transforms, 'Transforms')) throw refuse(`${where}: must name its canonicalization in ds:Transforms`);
  const steps = transforms.children;
  const last = steps[steps.length - 1];
  if (!last || steps.some((t) => !isDs(t, 'Transform'))) throw refuse(`${where}: ds:Transforms must hold ds:Transform elements`);
  for (const t of steps.slice(0, -1)) {
    if (algorithmOf(t) !== ENVELOPED || t.children.length) throw refuse(`${where}: transform "${algorithmOf(t).slice(0, 100)}" is not allowed before the canonicalization`);
  }
  checkCanonicalization(last, `${where} transform`);
  if (!isDs(digestMethod, 'DigestMethod') || algorithmOf(digestMethod) !== SHA256) {
    throw refuse(`${where}: digest method "${(digestMethod ? algorithmOf(digestMethod) : '').slice(0, 100)}" is not allowed (SHA-256)`);
  }
  if (!isDs(digestValue, 'DigestValue') || rest.length) throw refuse(`${where}: expected DigestMethod then DigestValue`);
  return uri;
}

/** Where the ReplayProtect reference may point: a ds:Object of this signature, its ds:SignatureProperties, or one ds:SignatureProperty in them. */
function isReplayHolder(el: XmlElement, sigEl: XmlElement): boolean {
  for (const o of dsChildren(sigEl, 'Object')) {
    if (o === el) return true;
    for (const props of dsChildren(o, 'SignatureProperties')) {
      if (props === el || dsChildren(props, 'SignatureProperty').includes(el)) return true;
    }
  }
  return false;
}

/** Every dsp:ReplayProtect under `el`, with its parent. */
function replayProtects(el: XmlElement, parent: XmlElement | undefined = undefined, out: { el: XmlElement; parent: XmlElement | undefined }[] = []): { el: XmlElement; parent: XmlElement | undefined }[] {
  if (el.ns === NS.dsp && el.name === 'ReplayProtect') out.push({ el, parent });
  for (const c of el.children) replayProtects(c, el, out);
  return out;
}

/** The one dsp:ReplayProtect under `el`, which must sit in a ds:SignatureProperty. */
function theReplayProtect(el: XmlElement, where: string): XmlElement {
  const found = replayProtects(el);
  if (found.length !== 1) throw refuse(`expected exactly one dsp:ReplayProtect in ${where}, found ${found.length}`);
  const [{ el: rp, parent }] = found as [{ el: XmlElement; parent: XmlElement | undefined }];
  if (!parent || !isDs(parent, 'SignatureProperty')) throw refuse(`dsp:ReplayProtect in ${where} is not inside a ds:SignatureProperty`);
  return rp;
}

/**
 * Checks the signature's shape on the hardened parse, before any cryptography: placement,
 * algorithms, references, Id uniqueness and where the ReplayProtect is. Returns the element the
 * ReplayProtect reference designates and the document's ReplayProtect.
 */
function checkShape(decoded: DecodedPayload, keyType: string): { holder: XmlElement; replay: XmlElement } {
  const root = decoded.root;
  // One Signature in the whole document, a direct child of oadrPayload, before the object.
  let signatures = 0;
  walk(root, (e) => { if (e.ns === NS.ds && e.name === 'Signature') signatures++; });
  if (signatures !== 1) throw refuse(`expected exactly one ds:Signature, found ${signatures}`);
  const sigEl = root.children[0];
  if (!isDs(sigEl, 'Signature')) throw refuse('ds:Signature must precede oadrSignedObject');
  const infos = dsChildren(sigEl, 'SignedInfo');
  if (infos.length !== 1) throw refuse(`expected one ds:SignedInfo, found ${infos.length}`);
  const [c14nMethod, signatureMethod, ...refs] = (infos[0] as XmlElement).children;
  if (!isDs(c14nMethod, 'CanonicalizationMethod')) throw refuse('ds:SignedInfo must start with ds:CanonicalizationMethod');
  checkCanonicalization(c14nMethod, 'CanonicalizationMethod');
  if (!isDs(signatureMethod, 'SignatureMethod') || signatureMethod.children.length) throw refuse('ds:SignedInfo must name a ds:SignatureMethod');
  const method = algorithmOf(signatureMethod);
  if (method !== RSA_SHA256 && method !== ECDSA_SHA256) throw refuse(`signature method "${method.slice(0, 100)}" is not allowed (RSA-SHA256 or ECDSA-SHA256)`);
  if (method !== METHOD_FOR_KEY[keyType]) throw refuse(`signature method ${method} does not fit the signer's ${keyType} key`);
  if (refs.length !== 2 || refs.some((r) => !isDs(r, 'Reference'))) throw refuse(`expected 2 references (signed object and ReplayProtect), found ${refs.length}`);
  const uris = refs.map((r, i) => checkReference(r, i + 1));

  // No Id value carried twice, anywhere (xml-crypto and signxml resolve any of Id/ID/id).
  const holders = new Map<string, XmlElement[]>();
  walk(root, (e) => {
    for (const a of e.attrs) if (ID_ATTRIBUTES.has(a.name)) holders.set(a.value, [...(holders.get(a.value) ?? []), e]);
  });
  for (const [id, els] of holders) if (els.length > 1) throw refuse(`Id "${id.slice(0, 40)}" is carried by ${els.length} elements`);

  const objectId = signedObjectIdOf(decoded.signedObject);
  if (!objectId) throw refuse('oadrSignedObject has no Id');
  if (!uris.includes(`#${objectId}`)) throw refuse('no reference to the oadrSignedObject being processed');
  if (holders.get(objectId)?.[0] !== decoded.signedObject) throw refuse(`Id "${objectId.slice(0, 40)}" is not unique to the processed oadrSignedObject`);
  const propId = (uris.find((u) => u !== `#${objectId}`) ?? '').slice(1);
  const holder = holders.get(propId)?.[0];
  if (!holder || !isReplayHolder(holder, sigEl)) {
    throw refuse('ReplayProtect reference does not designate a ds:Object of the ds:Signature, its ds:SignatureProperties or one ds:SignatureProperty in them');
  }
  // The document's only ReplayProtect is inside what the reference designates.
  const replay = theReplayProtect(root, 'the payload');
  if (replayProtects(holder).length !== 1) throw refuse('dsp:ReplayProtect is outside the element its reference designates');
  return { holder, replay };
}

/**
 * Verifies a signed oadrPayload against the expected signer certificate and replay rules.
 * Throws OadrError(463) on any failure, naming the rule.
 */
export function verifyPayload(xml: string, opts: VerifyOptions): VerifiedPayload {
  const limits = opts.limits ?? DEFAULT_XML_LIMITS;
  const windowMs = opts.windowMs ?? 5 * 60_000;
  // Hardened parse first: xmldom never sees a DTD, an entity trick or an oversize body.
  const decoded = opts.decoded ?? decodePayload(xml, limits, 'signed oadrPayload');
  if (!decoded.hasSignature) throw refuse('payload is not signed');
  const signer = certInfo(opts.signerCertificatePem);
  const shape = checkShape(decoded, signer.publicKey.asymmetricKeyType ?? 'unknown');

  // Cryptographic check with the certificate we expect, never the one the message offers. Our
  // own format takes the fast path; every other form goes through xml-crypto.
  const signedRefs = verifyOwn(xml, signer.publicKey) ?? verifyGeneric(xml, signer.publicKey);

  // Decode what was signed, from the signed bytes.
  let objXml: string | undefined;
  let propEl: XmlElement | undefined;
  for (const r of signedRefs) {
    const el = parseXml(r, limits, 'signed reference');
    if (el.ns === NS.oadr && el.name === 'oadrSignedObject' && objXml === undefined) objXml = r;
    else if (el.ns === NS.ds && el.name === shape.holder.name && propEl === undefined) propEl = el;
    else throw refuse(`signed reference to ${el.name} is not the oadrSignedObject or the ReplayProtect's ${shape.holder.name}`);
  }
  if (!objXml || !propEl) throw refuse('signed references are not the oadrSignedObject and its ReplayProtect');
  const objEl = parseXml(objXml, limits, 'signed oadrSignedObject');
  if (objEl.children.length !== 1) throw refuse('signed oadrSignedObject must hold one payload');
  const message = decodeMessageElement(objEl.children[0] as XmlElement);
  if (JSON.stringify(message) !== JSON.stringify(decoded.message)) throw refuse('processed payload differs from the signed payload');

  // The ReplayProtect is read from the signed bytes, and must be the document's one.
  const rp = theReplayProtect(propEl, `the signed ${shape.holder.name}`);
  const textOf = (e: XmlElement | undefined, name: string): string | undefined => (e ? childOf(e, NS.dsp, name)?.text : undefined);
  if (textOf(rp, 'timestamp') !== textOf(shape.replay, 'timestamp') || textOf(rp, 'nonce') !== textOf(shape.replay, 'nonce')) {
    throw refuse('the document\'s ReplayProtect differs from the signed one');
  }
  const tsText = rp ? childOf(rp, NS.dsp, 'timestamp')?.text : undefined;
  const nonce = rp ? childOf(rp, NS.dsp, 'nonce')?.text : undefined;
  if (!tsText || !nonce) throw refuse('missing dsp:ReplayProtect timestamp or nonce');
  let timestamp: EpochMillis;
  try {
    timestamp = parseDateTime(tsText, 'ReplayProtect/timestamp');
  } catch {
    throw refuse('ReplayProtect timestamp is not a date-time');
  }
  const now = opts.clock.now();
  if (Math.abs(now - timestamp) > windowMs) throw refuse(`ReplayProtect timestamp ${tsText} outside ±${windowMs / 1000} s of now`);
  if (nonce.length > 256) throw refuse('nonce too long');
  if (!opts.nonces.check(nonce, now, timestamp)) throw refuse('nonce already used (replay)');

  return { message, signedObjectXml: objXml, signer: { fingerprint: signer.fingerprint, subject: signer.subject }, timestamp, nonce };
}

/** The two cryptographic checks, exported for the tests that hold them to each other. */
export const signatureChecks = { verifyOwn, verifyGeneric };

/** The public key of a certificate (for callers who need to check key types up front). */
export const certificateKey = (certPem: string): KeyObject => createPublicKey(certPem);
