/**
 * A gateway's own software, uploaded to its aggregator beside its device inventory (issue 13:
 * each running role reports its erab version, Node.js version and npm dependency list; the
 * aggregator keeps it in the portfolio and its vulnerability inventory matches advisories to it).
 *
 * Format `erab-software/1`, POSTed to {@link SOFTWARE_REPORT_PATH} on the aggregator's R4
 * listener (the same mutual TLS and allow-list as the VEN; the gateway sends it whenever it
 * uploads its inventory and its software digest was not yet acknowledged):
 *
 *   { "format": "erab-software/1", "gatewayId": "GW1",
 *     "erab": { "name": "erab", "version": "0.1.0" }, "node": "20.11.1",
 *     "packages": [{ "name": "kysely", "version": "0.27.4" }, ...],   // sorted, unique
 *     "digest": "<SHA-256 hex of the canonical JSON of { erab, node, packages }>" }
 *
 * It is untrusted input on the aggregator: bounded (bytes, packages, field lengths), names and
 * versions checked against npm's rules, the digest recomputed, the gateway id the TLS peer's.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { IntegrityError, InvalidInputError, NotAuthorizedError } from '../../core/errors.js';
import type { SoftwareReport } from '../../core/software.js';

export const SOFTWARE_FORMAT = 'erab-software/1';
export const SOFTWARE_REPORT_PATH = '/erab/inventory/software';
/** Largest upload, bytes (erab's own tree is about 300 packages, some 20 KiB). */
export const MAX_SOFTWARE_REPORT_BYTES = 512 * 1024;
export const MAX_SOFTWARE_PACKAGES = 5000;

// npm's rules: lower-case, URL-safe, at most 214 characters, an optional @scope/.
const npmName = z.string().max(214).regex(/^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/, { error: 'must be an npm package name' });
const version = z.string().max(64).regex(/^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$/, { error: 'must be a semantic version such as 1.2.3' });

const componentsSchema = z.object({
  erab: z.object({ name: npmName, version }).strict(),
  node: version,
  packages: z.array(z.object({ name: npmName, version }).strict()).max(MAX_SOFTWARE_PACKAGES, { error: `must list at most ${MAX_SOFTWARE_PACKAGES} packages` }),
}).strict();

const documentSchema = componentsSchema.extend({
  format: z.literal(SOFTWARE_FORMAT, { error: `must be "${SOFTWARE_FORMAT}"` }),
  gatewayId: z.string().min(1).max(128),
  digest: z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be 64 lower-case hex digits' }),
}).strict();

export type SoftwareDocument = z.infer<typeof documentSchema>;

/** Sorted keys, no whitespace: the digest's input. */
function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

const digestOf = (c: z.infer<typeof componentsSchema>): string => createHash('sha256').update(canonical({ erab: c.erab, node: c.node, packages: c.packages })).digest('hex');

/**
 * The upload of a gateway's software report: packages sorted and unique, digest over them.
 * @example post(SOFTWARE_REPORT_PATH, JSON.stringify(softwareDocument('GW1', await readInstalledSoftware(installRoot(), 'gateway'))))
 */
export function softwareDocument(gatewayId: string, report: SoftwareReport): SoftwareDocument {
  const seen = new Set<string>();
  const packages = report.packages
    .map((p) => ({ name: p.name, version: p.version }))
    .filter((p) => (seen.has(`${p.name}@${p.version}`) ? false : (seen.add(`${p.name}@${p.version}`), true)))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  const c = { erab: { name: report.erab.name, version: report.erab.version }, node: report.node, packages };
  return { format: SOFTWARE_FORMAT, gatewayId, ...c, digest: digestOf(c) };
}

/**
 * Reads and checks an uploaded software document from `uploader` (the TLS peer's gateway id).
 * @throws InvalidInputError too large, not JSON, or a field breaking its rule (named, e.g. `packages[3].name`)
 * @throws IntegrityError the digest does not match the content
 * @throws NotAuthorizedError the document names another gateway
 */
export function parseSoftwareDocument(body: Buffer | string, uploader: string): SoftwareDocument {
  const what = `software report from gateway "${uploader}"`;
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > MAX_SOFTWARE_REPORT_BYTES) throw new InvalidInputError(`${what}: ${size} bytes, more than ${MAX_SOFTWARE_REPORT_BYTES}`, { code: 'software_invalid' });
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString());
  } catch (err) {
    throw new InvalidInputError(`${what}: not JSON (${err instanceof Error ? err.message.slice(0, 200) : 'unparsable'})`, { code: 'software_invalid' });
  }
  const r = documentSchema.safeParse(raw);
  if (!r.success) {
    const is = r.error.issues[0]!;
    throw new InvalidInputError(`${what}: ${is.path.join('.').replace(/\.(\d+)(?=\.|$)/g, '[$1]') || '(document)'}: ${is.message}`, { code: 'software_invalid' });
  }
  const doc = r.data;
  if (doc.gatewayId !== uploader) throw new NotAuthorizedError(`software report names gateway "${doc.gatewayId}" but was sent by gateway "${uploader}"`, { code: 'software_wrong_gateway' });
  const digest = digestOf(doc);
  if (digest !== doc.digest) throw new IntegrityError(`${what}: digest ${doc.digest} does not match its content (computed ${digest})`, { code: 'software_digest' });
  const seen = new Set<string>();
  for (const [i, p] of doc.packages.entries()) {
    const key = `${p.name}@${p.version}`;
    if (seen.has(key)) throw new InvalidInputError(`${what}: packages[${i}]: ${key} is listed twice`, { code: 'software_invalid' });
    seen.add(key);
  }
  return doc;
}
