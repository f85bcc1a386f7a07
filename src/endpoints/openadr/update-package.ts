/**
 * Signed update packages for gateways (自家用GL 7-1, ERAB §3.6): device firmware, gateway
 * configuration and the gateway's own software (an erab release tree), signed by the aggregator's code-signing certificate (src/security/pki/code-signing.ts).
 *
 * One package is one JSON file (`<packageId>-<version>.erabpkg.json`, at most
 * {@link MAX_PACKAGE_BYTES}):
 *
 *   { "format": "erab-update/1",
 *     "manifest": { packageId, version, kind, target, created, description?, files: [{ name, size, sha256 }] },
 *     "files": { "<name>": "<base64>" },
 *     "signature": "<detached ES256 JWS over the canonical manifest>" }
 *
 * The signature covers the manifest's canonical JSON (keys sorted, src/security/audit/record.ts),
 * and the manifest pins each file by SHA-256, so no byte of the package can change unnoticed.
 * {@link openPackage} checks format, signature (with its trust rules) and every hash, in that
 * order, before anything else looks at the content; target and version are the applier's
 * checks (the gateway knows its devices).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { InvalidInputError, IntegrityError } from '../../core/errors.js';
import { canonicalJson } from '../../security/audit/record.js';
import type { PeerIdentity } from '../../security/identity.js';
import { signDetached, verifyDetached, type CodeSigner, type CodeSigningTrust } from '../../security/pki/code-signing.js';

export const UPDATE_FORMAT = 'erab-update/1';
export const UPDATE_SIGNATURE_TYPE = 'erab-update+jws';
/** Largest package file accepted (the whole JSON text). */
export const MAX_PACKAGE_BYTES = 16 * 1024 * 1024;
/** A software package is a release tree (bin/, dist/, package.json...): more files than firmware. */
const MAX_FILES = 2048;

/** Dotted numeric versions only ("1.2.3"): what can be ordered can be refused as a downgrade. */
export const VERSION_PATTERN = /^\d{1,9}(\.\d{1,9}){0,3}$/;
const version = z.string().regex(VERSION_PATTERN, 'must be a dotted numeric version such as 1.2.3');
// A relative path of plain segments: each starts with a letter or digit, so no `.`, `..`, empty
// or absolute segment can lead a write outside the folder the package is staged in.
const fileName = z.string().max(512).regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(\/[A-Za-z0-9][A-Za-z0-9._-]{0,127}){0,15}$/, 'must be a relative path of plain names (letters, digits, . _ -; no . or .. segments)');

/** What a package applies to. */
export const updateTargetSchema = z.discriminatedUnion('kind', [
  z.object({
    /** Firmware of devices behind gateways, matched by class and maker/product (all given must match). */
    kind: z.literal('device'),
    deviceClass: z.string().min(1).max(32).optional(),
    makerCode: z.string().regex(/^[0-9A-F]{6}$/, 'must be 6 upper-case hex digits').optional(),
    productCode: z.string().min(1).max(12).optional(),
  }).strict(),
  z.object({
    /** The gateway's managed configuration file. */
    kind: z.literal('config'),
    /** Only these gateways (default all of the aggregator's). */
    gatewayIds: z.array(z.string().min(1).max(64)).max(10_000).optional(),
  }).strict(),
  z.object({
    /** The gateway's own software: an erab release tree (package.json, bin/erab.js, dist/...). */
    kind: z.literal('software'),
    /** Only these gateways (default all of the aggregator's). */
    gatewayIds: z.array(z.string().min(1).max(64)).max(10_000).optional(),
  }).strict(),
]);
export type UpdateTarget = z.infer<typeof updateTargetSchema>;

export const updateManifestSchema = z.object({
  packageId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be letters, digits, . _ - (up to 64)'),
  version,
  target: updateTargetSchema,
  /** ISO 8601 UTC. */
  created: z.iso.datetime(),
  description: z.string().max(2000).optional(),
  files: z.array(z.object({
    name: fileName,
    size: z.number().int().min(0).max(MAX_PACKAGE_BYTES),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits'),
  }).strict()).min(1).max(MAX_FILES),
}).strict();
export type UpdateManifest = z.infer<typeof updateManifestSchema>;

const packageSchema = z.object({
  format: z.literal(UPDATE_FORMAT),
  manifest: z.unknown(),
  files: z.record(fileName, z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')),
  signature: z.string().max(16 * 1024),
}).strict();

/** A package whose signature and hashes were checked. */
export interface VerifiedPackage {
  manifest: UpdateManifest;
  files: ReadonlyMap<string, Buffer>;
  signer: PeerIdentity;
  /** SHA-256 of the package text, hex (names this exact package in offers and audit records). */
  sha256: string;
}

export const sha256Hex = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** The bytes the signature covers: the manifest's canonical JSON. */
export function manifestBytes(m: UpdateManifest): Buffer {
  return Buffer.from(canonicalJson(m) ?? '', 'utf8');
}

/** Orders dotted numeric versions: <0, 0, >0 (missing parts count as 0). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** A manifest for `files` (name → content), validated. */
export function buildManifest(p: Omit<UpdateManifest, 'files' | 'created'> & { created?: string }, files: ReadonlyMap<string, Buffer>): UpdateManifest {
  return parseManifest({
    ...p,
    created: p.created ?? new Date().toISOString(),
    files: [...files].map(([name, data]) => ({ name, size: data.length, sha256: sha256Hex(data) })),
  }, 'update manifest');
}

/** Validates a manifest; the error names the field and the rule. */
export function parseManifest(input: unknown, source: string): UpdateManifest {
  const r = updateManifestSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new InvalidInputError(`${source}: field ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  const names = new Set<string>();
  for (const f of r.data.files) {
    if (names.has(f.name)) throw new InvalidInputError(`${source}: file ${f.name} is listed twice`);
    names.add(f.name);
  }
  return r.data;
}

/** Signs a manifest and returns the package text. */
export function signPackage(manifest: UpdateManifest, files: ReadonlyMap<string, Buffer>, signer: CodeSigner): string {
  const signature = signDetached(manifestBytes(manifest), signer, UPDATE_SIGNATURE_TYPE);
  return `${JSON.stringify({ format: UPDATE_FORMAT, manifest, files: Object.fromEntries([...files].map(([n, d]) => [n, d.toString('base64')])), signature })}\n`;
}

/**
 * Opens a package: bounded JSON, format, signature (trust rules of verifyDetached: our CA, not
 * revoked, code-signing usage, the expected signer), then every file against its SHA-256.
 * Throws InvalidInputError (malformed), NotAuthorizedError (signature) or IntegrityError (hash).
 */
export function openPackage(text: string, trust: Omit<CodeSigningTrust, 'typ'>, source = 'update package'): VerifiedPackage {
  if (Buffer.byteLength(text) > MAX_PACKAGE_BYTES) throw new InvalidInputError(`${source} is larger than ${MAX_PACKAGE_BYTES} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(`${source} is not valid JSON (${(err as Error).message})`);
  }
  const outer = packageSchema.safeParse(json);
  if (!outer.success) {
    const i = outer.error.issues[0]!;
    throw new InvalidInputError(`${source}: field ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  const manifest = parseManifest(outer.data.manifest, `${source} manifest`);
  const signer = verifyDetached(outer.data.signature, manifestBytes(manifest), { ...trust, typ: UPDATE_SIGNATURE_TYPE });
  const files = new Map<string, Buffer>();
  for (const f of manifest.files) {
    const b64 = outer.data.files[f.name];
    if (b64 === undefined) throw new IntegrityError(`${source}: file ${f.name} listed in the manifest is missing`);
    const data = Buffer.from(b64, 'base64');
    if (data.length !== f.size || sha256Hex(data) !== f.sha256) {
      throw new IntegrityError(`${source}: file ${f.name} does not match its SHA-256 in the signed manifest`, { code: 'hash_mismatch' });
    }
    files.set(f.name, data);
  }
  const extra = Object.keys(outer.data.files).filter((n) => !files.has(n));
  if (extra.length > 0) throw new IntegrityError(`${source}: file ${extra[0]} is not in the signed manifest`, { code: 'unsigned_file' });
  return { manifest, files, signer, sha256: sha256Hex(text) };
}
