/**
 * Making update packages on the aggregator's side (`erab update pack|sign|verify|publish`):
 * pack files into an unsigned package, sign it with the aggregator's code-signing certificate
 * (never its TLS key), verify it with the trust its gateways use, publish it to the updates
 * folder its R4 listener serves (src/endpoints/openadr/update-offers.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { z } from 'zod';
import { InvalidInputError } from '../../core/errors.js';
import { parseCertificates, readTextFile } from '../../security/pki/pem.js';
import { RevocationList } from '../../security/pki/crl.js';
import type { CodeSigner } from '../../security/pki/code-signing.js';
import { readPrivateKeyText } from '../../security/pki/pem.js';
import { buildManifest, openPackage, parseManifest, signPackage, type UpdateManifest, type UpdateTarget, type VerifiedPackage } from '../../endpoints/openadr/update-package.js';

export const UNSIGNED_FORMAT = 'erab-update-unsigned/1';

const unsignedSchema = z.object({
  format: z.literal(UNSIGNED_FORMAT),
  manifest: z.unknown(),
  files: z.record(z.string(), z.string()),
}).strict();

/** Packs `files` (paths; the package keeps their base names), or a whole release tree, into an unsigned package text. */
export function packUnsigned(p: { packageId: string; version: string; target: UpdateTarget; description?: string }, paths: readonly string[] | { tree: string }): { text: string; manifest: UpdateManifest } {
  const files = new Map<string, Buffer>();
  if ('tree' in paths) {
    // A release tree (software target): every regular file under it, by its path relative to it.
    for (const e of readdirSync(paths.tree, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue; // symlinks are not followed: a package carries bytes, not links
      const full = join(e.parentPath, e.name);
      files.set(relative(paths.tree, full).split(sep).join('/'), readFileSync(full));
    }
    if (files.size === 0) throw new InvalidInputError(`${paths.tree}: no files to pack`);
  } else {
    for (const path of paths) {
      const name = basename(path);
      if (files.has(name)) throw new InvalidInputError(`two files are named ${name}`);
      files.set(name, readFileSync(path));
    }
  }
  const manifest = buildManifest({ packageId: p.packageId, version: p.version, target: p.target, ...(p.description ? { description: p.description } : {}) }, files);
  return { manifest, text: `${JSON.stringify({ format: UNSIGNED_FORMAT, manifest, files: Object.fromEntries([...files].map(([n, d]) => [n, d.toString('base64')])) })}\n` };
}

/** Signs an unsigned package (re-checking each file against its manifest hash first). */
export function signUnsigned(text: string, signer: CodeSigner, source = 'unsigned package'): string {
  const r = unsignedSchema.safeParse(JSON.parse(text));
  if (!r.success) throw new InvalidInputError(`${source}: not an ${UNSIGNED_FORMAT} package (${r.error.issues[0]!.message})`);
  const manifest = parseManifest(r.data.manifest, `${source} manifest`);
  const files = new Map(Object.entries(r.data.files).map(([n, b]) => [n, Buffer.from(b, 'base64')] as const));
  const rebuilt = buildManifest({ ...manifest, created: manifest.created }, files);
  if (JSON.stringify(rebuilt.files) !== JSON.stringify(manifest.files)) throw new InvalidInputError(`${source}: files do not match the manifest`);
  return signPackage(manifest, files, signer);
}

/** A signer from certificate and key files (the key file must be private: mode 0600). */
export function loadSigner(certFile: string, keyFile: string): CodeSigner {
  return { certPem: readTextFile(certFile, 'signing certificate'), keyPem: readPrivateKeyText(keyFile, 'signing key').text };
}

/** Opens a package with the trust a gateway of `aggregatorId` uses (CA file, optional CRL file). */
export async function verifyPackageFile(text: string, trust: { caFile: string; crlFile?: string | undefined; aggregatorId: string }, source: string): Promise<VerifiedPackage> {
  const cas = parseCertificates(readTextFile(trust.caFile, 'CA certificate'), trust.caFile);
  const crl = trust.crlFile ? await RevocationList.fromFile(trust.crlFile, cas) : undefined;
  return openPackage(text, { cas, crl, signer: { role: 'aggregator', id: trust.aggregatorId } }, source);
}
