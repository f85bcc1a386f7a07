/**
 * Reading certificates, private keys and CRLs from PEM files. Every failure names the file
 * and what is wrong with it, because a misplaced or truncated file is the most common
 * operator mistake with a PKI. Nothing here ever prints key material.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { explain, InvalidInputError } from '../../core/errors.js';
import { x509 } from './x509.js';

/** PEM files larger than this are refused (a CA bundle or CRL of ours is far smaller). */
export const MAX_PEM_BYTES = 8 * 1024 * 1024;

/** One `-----BEGIN <label>-----` block of a PEM file. */
export interface PemBlock {
  label: string;
  der: Buffer;
  /** The block as text, BEGIN and END lines included. */
  text: string;
}

/** Reads a text file, naming it in the error when it is missing, unreadable or too large. */
export function readTextFile(file: string, what: string): string {
  return readBoundedFile(file, what, undefined).toString('utf8');
}

/**
 * The environment variable that lets erab load private key files group or others can access
 * (`ERAB_ALLOW_INSECURE_KEY_MODE=1`), for every command that loads a key. The API equivalent is
 * the `allowInsecureKeyMode` option of {@link readPrivateKeyText} and its callers.
 */
export const INSECURE_KEY_MODE_ENV = 'ERAB_ALLOW_INSECURE_KEY_MODE';

/** Options of {@link readPrivateKeyText}. */
export interface KeyFileOptions {
  /**
   * Load a key file that group or others can access anyway (warned, and audited by listeners).
   * Default: whether ERAB_ALLOW_INSECURE_KEY_MODE=1 is set.
   */
  allowInsecureKeyMode?: boolean | undefined;
}

/** What {@link readPrivateKeyText} read. */
export interface KeyFileText {
  text: string;
  /** The file's permission bits when group or others can access it and the override let it load. */
  insecureMode?: number;
}

/**
 * Reads a private key file, refusing it when group or others have any access to it (mode & 077),
 * as ssh refuses such a key: another local user could copy it and impersonate us. The mode is
 * taken from the open file (fstat), so what is checked is what is read. With the override
 * (`allowInsecureKeyMode` or ERAB_ALLOW_INSECURE_KEY_MODE=1) the key loads and a process warning
 * (code ERAB_INSECURE_KEY_MODE) names it. Not checked on Windows, which has no such modes.
 * @example const { text } = readPrivateKeyText('issued/tso-TSO1/key.pem', 'private key');
 */
export function readPrivateKeyText(file: string, what: string, opts: KeyFileOptions = {}): KeyFileText {
  let insecureMode: number | undefined;
  const buf = readBoundedFile(file, what, (mode) => {
    if (process.platform === 'win32' || (mode & 0o077) === 0) return;
    const octal = `0${(mode & 0o777).toString(8)}`;
    const allow = opts.allowInsecureKeyMode ?? process.env[INSECURE_KEY_MODE_ENV] === '1';
    if (!allow) {
      throw new InvalidInputError(
        `${what} file ${file} has mode ${octal}: group or others can read or change it, so it is refused (as ssh refuses such a key). `
        + `Run "chmod 600 ${file}" (or set ${INSECURE_KEY_MODE_ENV}=1 to load it anyway)`,
        { code: 'insecure_key_mode' },
      );
    }
    insecureMode = mode & 0o777;
    process.emitWarning(`${what} file ${file} has mode ${octal} (group or others can access it); loaded because ${INSECURE_KEY_MODE_ENV}/allowInsecureKeyMode is set. Run "chmod 600 ${file}"`, { code: 'ERAB_INSECURE_KEY_MODE' });
  });
  return { text: buf.toString('utf8'), ...(insecureMode !== undefined ? { insecureMode } : {}) };
}

/** Opens `file`, lets `check` see its mode (fstat of the open file), and reads at most MAX_PEM_BYTES. */
function readBoundedFile(file: string, what: string, check: ((mode: number) => void) | undefined): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : (err as Error).message;
    throw new InvalidInputError(`${what} file ${file} ${why}`, { cause: err, code: 'file_unreadable' });
  }
  try {
    const st = fstatSync(fd);
    if (st.isFile() && st.size > MAX_PEM_BYTES) {
      throw new InvalidInputError(`${what} file ${file} is ${st.size} bytes, more than the ${MAX_PEM_BYTES} allowed`);
    }
    check?.(st.mode);
    const buf = readFileSync(fd);
    if (buf.length > MAX_PEM_BYTES) {
      throw new InvalidInputError(`${what} file ${file} is ${buf.length} bytes, more than the ${MAX_PEM_BYTES} allowed`);
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

/**
 * Splits PEM text into blocks (RFC 7468); throws naming `source` when there is none, a block
 * is not terminated, or its base64 is bad. One linear pass over the lines, so a hostile file
 * cannot make it slow. Text outside blocks is ignored (RFC 7468 §2 allows explanatory text).
 */
export function pemBlocks(text: string, source: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  let open: { label: string; lines: string[]; body: string[] } | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!open) {
      const m = /^-----BEGIN ([A-Z0-9 ]{1,64})-----\s*$/.exec(line);
      if (m) open = { label: m[1]!, lines: [line], body: [] };
      continue;
    }
    open.lines.push(line);
    if (line.startsWith('-----END ')) {
      if (line.trimEnd() !== `-----END ${open.label}-----`) {
        throw new InvalidInputError(`${source}: PEM block "${open.label}" #${blocks.length + 1} ends with "${line.slice(0, 80)}"`);
      }
      const b64 = open.body.join('');
      if (b64.length === 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
        throw new InvalidInputError(`${source}: PEM block "${open.label}" #${blocks.length + 1} is not valid base64`);
      }
      blocks.push({ label: open.label, der: Buffer.from(b64, 'base64'), text: `${open.lines.join('\n')}\n` });
      open = undefined;
    } else if (line.startsWith('-----BEGIN ')) {
      throw new InvalidInputError(`${source}: PEM block "${open.label}" #${blocks.length + 1} is not terminated before the next BEGIN line`);
    } else if (!line.includes(':')) {
      // Lines with a colon are RFC 1421 headers (legacy encrypted keys); the rest is base64.
      open.body.push(line.trim());
    }
  }
  if (open) throw new InvalidInputError(`${source}: PEM block "${open.label}" #${blocks.length + 1} has no END line`);
  if (blocks.length === 0) throw new InvalidInputError(`${source}: no PEM block (-----BEGIN ...-----) found`);
  return blocks;
}

/** Encodes DER bytes as a PEM block with `label` (64-column base64). */
export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/**
 * Parses every CERTIFICATE block of `text`. `source` (a file name) is used in errors.
 * @example parseCertificates(readFileSync('ca.crt', 'utf8'), 'ca.crt')[0].subject
 */
export function parseCertificates(text: string, source: string): X509Certificate[] {
  const certs: X509Certificate[] = [];
  for (const [i, b] of pemBlocks(text, source).entries()) {
    if (b.label !== 'CERTIFICATE') {
      throw new InvalidInputError(`${source}: PEM block #${i + 1} is "${b.label}", expected "CERTIFICATE"`);
    }
    try {
      certs.push(new X509Certificate(b.der));
    } catch (err) {
      throw new InvalidInputError(`${source}: PEM block #${i + 1} is not a valid X.509 certificate (${(err as Error).message})`, { cause: err });
    }
  }
  return certs;
}

/** Reads and parses a certificate file (one or more certificates: leaf first, then chain). */
export function readCertificatesFile(file: string, what = 'certificate'): { pem: string; certs: X509Certificate[] } {
  const pem = readTextFile(file, what);
  return { pem, certs: parseCertificates(pem, `${what} file ${file}`) };
}

/**
 * Parses a PKCS#8 (or PKCS#1 / SEC1) private key, encrypted or not. Errors name `source`
 * and say whether a passphrase is missing or wrong; they never include key material.
 */
export function parsePrivateKey(text: string, source: string, passphrase?: string): KeyObject {
  const blocks = pemBlocks(text, source);
  const keyBlocks = blocks.filter((b) => b.label.endsWith('PRIVATE KEY'));
  if (keyBlocks.length !== 1) {
    throw new InvalidInputError(`${source}: expected exactly one PRIVATE KEY block, found ${keyBlocks.length}`);
  }
  const block = keyBlocks[0]!;
  const encrypted = block.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(block.text);
  if (encrypted && passphrase === undefined) {
    throw new InvalidInputError(explain('pki.keyEncrypted', { source }), { code: 'passphrase_required' });
  }
  try {
    return createPrivateKey(encrypted ? { key: block.text, format: 'pem', passphrase: passphrase! } : { key: block.text, format: 'pem' });
  } catch (err) {
    if (encrypted) {
      throw new InvalidInputError(explain('pki.wrongPassphrase', { source }), { cause: err, code: 'wrong_passphrase' });
    }
    throw new InvalidInputError(`${source}: not a valid private key (${(err as Error).message})`, { cause: err });
  }
}

/** Reads and parses a private key file; refuses one group or others can access (see {@link readPrivateKeyText}). */
export function readPrivateKeyFile(file: string, passphrase?: string, what = 'private key', opts: KeyFileOptions = {}): { pem: string; key: KeyObject } {
  const { text: pem } = readPrivateKeyText(file, what, opts);
  return { pem, key: parsePrivateKey(pem, `${what} file ${file}`, passphrase) };
}

/** Parses the X509 CRL blocks of `text`. */
export function parseCrls(text: string, source: string): x509.X509Crl[] {
  const crls: x509.X509Crl[] = [];
  for (const [i, b] of pemBlocks(text, source).entries()) {
    if (b.label !== 'X509 CRL') {
      throw new InvalidInputError(`${source}: PEM block #${i + 1} is "${b.label}", expected "X509 CRL"`);
    }
    try {
      const crl = new x509.X509Crl(b.der);
      // Touch the lazily decoded fields now so a broken CRL fails here, not at first use.
      void crl.issuer;
      void crl.thisUpdate;
      void crl.entries.length;
      crls.push(crl);
    } catch (err) {
      throw new InvalidInputError(`${source}: PEM block #${i + 1} is not a valid X.509 CRL (${(err as Error).message})`, { cause: err });
    }
  }
  return crls;
}
