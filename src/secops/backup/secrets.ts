/**
 * Keys inside a backup are encrypted with a passphrase: scrypt (N=2^15, r=8, p=1) derives a
 * 256-bit key from the passphrase and a random 16-byte salt, AES-256-GCM encrypts with a random
 * 12-byte nonce. The blob is `ERABKEY1` ‖ salt ‖ nonce ‖ tag ‖ ciphertext; the entry name is the
 * additional authenticated data, so a blob moved to another entry does not decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { InvalidInputError, NotAuthorizedError } from '../../core/errors.js';

const MAGIC = Buffer.from('ERABKEY1', 'ascii');
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
/** Shorter passphrases are refused: the archive may travel off the host. */
export const MIN_PASSPHRASE_CHARS = 12;

function derive(passphrase: string, salt: Buffer): Buffer {
  return scryptSync(passphrase.normalize('NFC'), salt, 32, SCRYPT);
}

export function checkPassphrase(passphrase: string, source: string): void {
  if ([...passphrase].length < MIN_PASSPHRASE_CHARS) {
    throw new InvalidInputError(`${source}: the backup passphrase must be at least ${MIN_PASSPHRASE_CHARS} characters`);
  }
}

/** Encrypts one key file's bytes for the archive entry `name`. */
export function sealKey(plain: Buffer, passphrase: string, name: string): Buffer {
  const salt = randomBytes(16);
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', derive(passphrase, salt), nonce);
  c.setAAD(Buffer.from(name, 'utf8'));
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([MAGIC, salt, nonce, c.getAuthTag(), body]);
}

/** Decrypts a sealed key; a wrong passphrase or a modified blob is refused naming the entry. */
export function openKey(blob: Buffer, passphrase: string, name: string): Buffer {
  const head = MAGIC.length + 16 + 12 + 16;
  if (blob.length < head || !blob.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new InvalidInputError(`backup entry ${name}: not an encrypted key (expected ${MAGIC.toString()} header)`);
  }
  const salt = blob.subarray(MAGIC.length, MAGIC.length + 16);
  const nonce = blob.subarray(MAGIC.length + 16, MAGIC.length + 28);
  const tag = blob.subarray(MAGIC.length + 28, head);
  const d = createDecipheriv('aes-256-gcm', derive(passphrase, salt), nonce);
  d.setAAD(Buffer.from(name, 'utf8'));
  d.setAuthTag(tag);
  try {
    return Buffer.concat([d.update(blob.subarray(head)), d.final()]);
  } catch {
    throw new NotAuthorizedError(`backup entry ${name}: cannot decrypt: wrong passphrase or modified key`, { code: 'backup_passphrase' });
  }
}
