/**
 * The integrity of erab itself (自家用GL 7-1: run only the programs decided on): every release
 * ships `dist/release-manifest.json` (SHA-256 of every file it installs: `bin/`, `dist/src/**` JS,
 * `package.json`) and `dist/release-manifest.json.sig` (a detached ES256 JWS by a code-signing
 * certificate, src/security/pki/code-signing.ts), and each role checks them at start:
 *
 * - no manifest (a development checkout): the role starts and logs that integrity was NOT checked;
 * - manifest present: its signature must verify against the release CA (`ERAB_RELEASE_CA_FILE`,
 *   else the CA certificate shipped as `dist/release-ca.pem`), and every listed file must match;
 *   a JS file under dist/src that the manifest does not list counts as modified too;
 * - a mismatch stops the role with an error naming the file, unless `ERAB_ALLOW_MODIFIED_CODE=1`
 *   and `ERAB_ALLOW_MODIFIED_CODE_REASON` are set: then it starts, and the override with the
 *   files and the reason is an audit record.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { z } from 'zod';
import { ConfigError, IntegrityError, InvalidInputError, explain } from '../../core/errors.js';
import { canonicalJson } from '../../security/audit/record.js';
import type { AuditSink } from '../../security/audit/types.js';
import { parseCertificates } from '../../security/pki/pem.js';
import { signDetached, verifyDetached, type CodeSigner } from '../../security/pki/code-signing.js';
import { writeFileAtomic } from '../../security/pki/store.js';
import { sha256Hex } from '../../endpoints/openadr/update-package.js';

export const RELEASE_FORMAT = 'erab-release/1';
export const RELEASE_SIGNATURE_TYPE = 'erab-release+jws';
export const MANIFEST_FILE = join('dist', 'release-manifest.json');
export const SHIPPED_CA_FILE = join('dist', 'release-ca.pem');
export const OVERRIDE_ENV = 'ERAB_ALLOW_MODIFIED_CODE';
export const OVERRIDE_REASON_ENV = 'ERAB_ALLOW_MODIFIED_CODE_REASON';
export const RELEASE_CA_ENV = 'ERAB_RELEASE_CA_FILE';

const manifestSchema = z.object({
  format: z.literal(RELEASE_FORMAT),
  name: z.string(),
  version: z.string(),
  created: z.string(),
  files: z.array(z.object({ path: z.string().max(1024), size: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict()).max(100_000),
}).strict();
export type ReleaseManifest = z.infer<typeof manifestSchema>;

const toPosix = (p: string): string => p.split(sep).join('/');

function walk(dir: string, keep: (f: string) => boolean, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, keep, out);
    else if (keep(p)) out.push(p);
  }
  return out;
}

/** The installed files a release covers, relative to `root`, sorted. */
export function releaseFiles(root: string): string[] {
  const files = [
    ...walk(join(root, 'bin'), () => true),
    ...walk(join(root, 'dist', 'src'), (f) => f.endsWith('.js')),
    join(root, 'package.json'),
  ].filter((f) => existsSync(f));
  return files.map((f) => toPosix(relative(root, f))).sort();
}

/**
 * Writes `dist/release-manifest.json` and its signature for the installed tree at `root`.
 * @example writeReleaseManifest('.', signer) // after `npm run build`
 */
export function writeReleaseManifest(root: string, signer: CodeSigner, caPem?: string): { manifestFile: string; signatureFile: string; files: number } {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: string; version?: string };
  const manifest: ReleaseManifest = {
    format: RELEASE_FORMAT, name: pkg.name ?? 'erab', version: pkg.version ?? '0.0.0', created: new Date().toISOString(),
    files: releaseFiles(root).map((path) => {
      const data = readFileSync(join(root, path));
      return { path, size: data.length, sha256: sha256Hex(data) };
    }),
  };
  const manifestFile = join(root, MANIFEST_FILE);
  const text = `${JSON.stringify(manifest, null, 1)}\n`;
  writeFileAtomic(manifestFile, text);
  writeFileAtomic(`${manifestFile}.sig`, `${signDetached(Buffer.from(canonicalJson(manifest)!), signer, RELEASE_SIGNATURE_TYPE)}\n`);
  if (caPem) writeFileAtomic(join(root, SHIPPED_CA_FILE), caPem);
  return { manifestFile, signatureFile: `${manifestFile}.sig`, files: manifest.files.length };
}

/** What the start-up check found. */
export type IntegrityResult =
  | { checked: false; reason: string }
  | { checked: true; version: string; files: number; signer: string; modified: string[]; overridden: boolean };

/**
 * Checks the installed tree at `root` against its signed release manifest. Throws IntegrityError
 * naming the first modified file (no override), or when the manifest or signature is bad.
 */
export function checkReleaseIntegrity(root: string, opts: { env?: NodeJS.ProcessEnv; audit?: AuditSink; role?: string } = {}): IntegrityResult {
  const env = opts.env ?? process.env;
  const manifestFile = join(root, MANIFEST_FILE);
  if (!existsSync(manifestFile)) return { checked: false, reason: `no release manifest (${manifestFile}): a development checkout; code integrity was NOT checked` };
  const text = readFileSync(manifestFile, 'utf8');
  let manifest: ReleaseManifest;
  try {
    manifest = manifestSchema.parse(JSON.parse(text));
  } catch (err) {
    throw new IntegrityError(`release manifest ${manifestFile} is malformed (${(err as Error).message.slice(0, 200)})`);
  }
  const caFile = env[RELEASE_CA_ENV] || join(root, SHIPPED_CA_FILE);
  if (!existsSync(caFile)) throw new ConfigError(explain('config.releaseCaMissing', { file: caFile, env: RELEASE_CA_ENV }));
  const sigFile = `${manifestFile}.sig`;
  if (!existsSync(sigFile)) throw new IntegrityError(`release manifest signature ${sigFile} is missing`);
  let signer: string;
  try {
    const id = verifyDetached(readFileSync(sigFile, 'utf8').trim(), Buffer.from(canonicalJson(manifest)!), {
      cas: parseCertificates(readFileSync(caFile, 'utf8'), `release CA ${caFile}`), typ: RELEASE_SIGNATURE_TYPE,
    });
    signer = `${id.role}:${id.id}`;
  } catch (err) {
    if (err instanceof InvalidInputError) throw new IntegrityError(`release manifest signature ${sigFile}: ${err.message}`);
    throw new IntegrityError(`release manifest ${manifestFile} is not validly signed: ${(err as Error).message}`);
  }
  const modified: string[] = [];
  const listed = new Set<string>();
  for (const f of manifest.files) {
    listed.add(f.path);
    const p = join(root, f.path);
    if (f.path.split('/').includes('..')) { modified.push(`${f.path} (path leaves the install)`); continue; }
    if (!existsSync(p)) { modified.push(`${f.path} (missing)`); continue; }
    const data = readFileSync(p);
    if (data.length !== f.size || sha256Hex(data) !== f.sha256) modified.push(f.path);
  }
  for (const path of releaseFiles(root)) if (!listed.has(path)) modified.push(`${path} (not in the release)`);
  if (modified.length === 0) return { checked: true, version: manifest.version, files: manifest.files.length, signer, modified, overridden: false };
  const reason = env[OVERRIDE_REASON_ENV]?.trim();
  if (env[OVERRIDE_ENV] !== '1' || !reason) {
    throw new IntegrityError(
      `modified code: ${modified[0]} does not match the signed release manifest of erab ${manifest.version}` +
        `${modified.length > 1 ? ` (and ${modified.length - 1} more file(s))` : ''}; refusing to start. ` +
        `Reinstall the release, or set ${OVERRIDE_ENV}=1 with ${OVERRIDE_REASON_ENV}="<why>" to start anyway (audited)`,
      { code: 'modified_code' },
    );
  }
  opts.audit?.append({
    actor: { kind: 'operator', id: env.USER ?? 'unknown' }, action: 'release.integrity.override', target: opts.role ?? 'erab', outcome: 'success',
    reason, details: { version: manifest.version, modified: modified.slice(0, 100), count: modified.length },
  });
  return { checked: true, version: manifest.version, files: manifest.files.length, signer, modified, overridden: true };
}
