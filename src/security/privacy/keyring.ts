/**
 * Key-encryption keys (KEKs) for envelope encryption of personal data at rest.
 *
 * Personal fields are encrypted with data keys (one per data subject, see src/store/vault.ts);
 * data keys are stored only wrapped by a KEK. The KEK never touches the database: it comes from
 * a KMS through the small {@link KeyEncryptionService} interface. {@link FileKeyring} is the
 * built-in one: 32-byte keys in files readable by the owner only (mode 0600), hex or base64.
 *
 * Rotation without downtime: the keyring holds the current KEK (wraps new data keys) and any
 * previous ones (still unwrap old data keys). `erab privacy rotate-key` re-wraps every data key
 * with the current KEK while the role keeps running; afterwards the previous KEK file can be
 * retired. Data (the fields themselves) are never re-encrypted by a rotation.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { IntegrityError, InvalidInputError } from '../../core/errors.js';

/** What envelope encryption needs from a KMS. Async, so an external KMS fits behind it. */
export interface KeyEncryptionService {
  /** Id of the KEK that wraps new data keys. */
  readonly currentKeyId: string;
  /** The KEK ids this service can unwrap with. */
  readonly keyIds: readonly string[];
  wrap(dataKey: Buffer): Promise<{ keyId: string; wrapped: Buffer }>;
  /** Throws IntegrityError when the wrapped key was modified, InvalidInputError for an unknown KEK. */
  unwrap(keyId: string, wrapped: Buffer): Promise<Buffer>;
}

const WRAP_AAD = Buffer.from('erab-data-key/1', 'ascii');

/** The id of a KEK: a hash of it, so the database names the KEK without revealing it. */
export function kekId(key: Buffer): string {
  return createHash('sha256').update('erab-kek-id/1\0').update(key).digest('hex').slice(0, 16);
}

/** Reads a KEK file: owner-only mode, 32 bytes as 64 hex digits or base64. */
export function readKekFile(file: string): Buffer {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    throw new InvalidInputError(`key-encryption key ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!st.isFile()) throw new InvalidInputError(`key-encryption key ${file}: not a regular file`);
  if ((st.mode & 0o077) !== 0) throw new InvalidInputError(`key-encryption key ${file}: mode ${(st.mode & 0o777).toString(8)} lets others read it; chmod 600 it`);
  if (st.size > 1024) throw new InvalidInputError(`key-encryption key ${file}: larger than 1024 bytes, not a key file`);
  const text = readFileSync(file, 'utf8').trim();
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : /^[A-Za-z0-9+/]{43}=$/.test(text) ? Buffer.from(text, 'base64') : undefined;
  if (!key || key.length !== 32) throw new InvalidInputError(`key-encryption key ${file}: must hold 32 bytes as 64 hex digits or base64`);
  return key;
}

/** A new KEK as the text of a key file (64 hex digits and a newline). */
export function newKekText(): string {
  return `${randomBytes(32).toString('hex')}\n`;
}

/** KEKs held in memory: the first wraps, all unwrap. Wrapping is AES-256-GCM (nonce ‖ tag ‖ ciphertext). */
export class FileKeyring implements KeyEncryptionService {
  readonly currentKeyId: string;
  readonly keyIds: readonly string[];
  readonly #keys: Map<string, Buffer>;

  /** `keys[0]` is the current KEK; the others are previous ones, kept to unwrap. */
  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new InvalidInputError('a keyring needs at least one key-encryption key');
    this.#keys = new Map(keys.map((k) => [kekId(k), k]));
    this.currentKeyId = kekId(keys[0]!);
    this.keyIds = [...this.#keys.keys()];
  }

  /** From key files: the current one first, then previous ones. */
  static fromFiles(current: string, previous: readonly string[] = []): FileKeyring {
    return new FileKeyring([current, ...previous].map(readKekFile));
  }

  async wrap(dataKey: Buffer): Promise<{ keyId: string; wrapped: Buffer }> {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#keys.get(this.currentKeyId)!, nonce);
    c.setAAD(WRAP_AAD);
    const body = Buffer.concat([c.update(dataKey), c.final()]);
    return { keyId: this.currentKeyId, wrapped: Buffer.concat([nonce, c.getAuthTag(), body]) };
  }

  async unwrap(keyId: string, wrapped: Buffer): Promise<Buffer> {
    const kek = this.#keys.get(keyId);
    if (!kek) throw new InvalidInputError(`data key is wrapped by key-encryption key ${keyId}, which this keyring does not hold (${this.keyIds.join(', ')})`);
    if (wrapped.length < 28) throw new IntegrityError(`wrapped data key under ${keyId} is truncated`);
    const d = createDecipheriv('aes-256-gcm', kek, wrapped.subarray(0, 12));
    d.setAAD(WRAP_AAD);
    d.setAuthTag(wrapped.subarray(12, 28));
    try {
      return Buffer.concat([d.update(wrapped.subarray(28)), d.final()]);
    } catch {
      throw new IntegrityError(`wrapped data key under ${keyId} does not authenticate: modified, or wrapped by another key`);
    }
  }
}
