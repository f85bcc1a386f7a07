/**
 * NVD CVE API 2.0 JSON (https://nvd.nist.gov/developers/vulnerabilities): a page
 * `{ format: "NVD_CVE", version: "2.0", vulnerabilities: [{ cve }] }`.
 * - affected products: every `configurations[].nodes[].cpeMatch[]` with `vulnerable: true`,
 *   its `criteria` CPE 2.3 and the bounds versionStartIncluding/Excluding, versionEndIncluding/
 *   Excluding (when none is given, the CPE's own version field: '*' = every version). Platform
 *   conditions of AND configurations ("running on") are not modelled: the vulnerable part alone
 *   is matched, which may over-report but never misses.
 * - a record "Awaiting Analysis" has no configurations yet: it is kept (so it can match later,
 *   when NVD analyses it and the next import updates it) with no affected products.
 * - known exploited: the CISA KEV fields NVD carries (`cisaExploitAdd`).
 */
import { z } from 'zod';
import { InvalidInputError } from '../../core/errors.js';
import { parseCpe } from '../cpe.js';
import { preferredCvss, type Advisory, type AffectedProduct, type Cvss } from './model.js';

const cvssMetric = z.object({ cvssData: z.object({ version: z.string(), vectorString: z.string(), baseScore: z.number().min(0).max(10) }) });
const cpeMatch = z.object({
  vulnerable: z.boolean(),
  criteria: z.string().max(1000),
  versionStartIncluding: z.string().max(100).optional(),
  versionStartExcluding: z.string().max(100).optional(),
  versionEndIncluding: z.string().max(100).optional(),
  versionEndExcluding: z.string().max(100).optional(),
});
const cveSchema = z.object({
  id: z.string().regex(/^CVE-\d{4}-\d{4,}$/, 'must be a CVE id (CVE-YYYY-NNNN)'),
  published: z.string().optional(),
  lastModified: z.string().optional(),
  vulnStatus: z.string().optional(),
  descriptions: z.array(z.object({ lang: z.string(), value: z.string().max(100_000) })).default([]),
  metrics: z.record(z.string(), z.array(cvssMetric)).optional(),
  configurations: z.array(z.object({ nodes: z.array(z.object({ cpeMatch: z.array(cpeMatch).default([]) })).default([]) })).optional(),
  references: z.array(z.object({ url: z.string(), tags: z.array(z.string()).optional() })).default([]),
  cisaExploitAdd: z.string().optional(),
  cisaRequiredAction: z.string().optional(),
});
const pageSchema = z.object({
  format: z.literal('NVD_CVE').optional(),
  version: z.string().optional(),
  vulnerabilities: z.array(z.object({ cve: z.unknown() })),
});

/**
 * Reads an NVD CVE API 2.0 page into advisories.
 * @throws InvalidInputError naming the feed and record (`vulnerabilities[3].cve.id: ...`)
 */
export function parseNvd(doc: unknown, name: string): Advisory[] {
  const page = pageSchema.safeParse(doc);
  if (!page.success) {
    const is = page.error.issues[0]!;
    throw new InvalidInputError(`feed ${name}: not an NVD CVE API 2.0 page: ${is.path.join('.') || '(document)'}: ${is.message}; nothing imported`, { code: 'feed_invalid' });
  }
  return page.data.vulnerabilities.map((v, i) => {
    const r = cveSchema.safeParse(v.cve);
    if (!r.success) {
      const is = r.error.issues[0]!;
      throw new InvalidInputError(`feed ${name}: vulnerabilities[${i}].cve.${is.path.join('.')}: ${is.message}; nothing imported`, { code: 'feed_invalid' });
    }
    const cve = r.data;
    const affected: AffectedProduct[] = [];
    for (const conf of cve.configurations ?? []) {
      for (const node of conf.nodes) {
        for (const m of node.cpeMatch) {
          if (!m.vulnerable) continue;
          const cpe = parseCpe(m.criteria);
          if (!cpe) throw new InvalidInputError(`feed ${name}: ${cve.id}: cpeMatch criteria "${m.criteria.slice(0, 120)}" is not a CPE 2.3 name; nothing imported`, { code: 'feed_invalid' });
          const bounded = m.versionStartIncluding ?? m.versionStartExcluding ?? m.versionEndIncluding ?? m.versionEndExcluding;
          const range = bounded !== undefined
            ? { startIncluding: m.versionStartIncluding, startExcluding: m.versionStartExcluding, endIncluding: m.versionEndIncluding, endExcluding: m.versionEndExcluding }
            : cpe.version === '*' || cpe.version === '-' ? {} : { exact: cpe.version };
          affected.push({ cpe: { ...cpe, version: '*' }, range });
        }
      }
    }
    const cvss: Cvss[] = [];
    for (const list of Object.values(cve.metrics ?? {})) for (const m of list) cvss.push({ version: m.cvssData.version, vector: m.cvssData.vectorString, score: m.cvssData.baseScore });
    const description = (cve.descriptions.find((d) => d.lang === 'en') ?? cve.descriptions[0])?.value ?? '';
    const patches = cve.references.filter((x) => x.tags?.includes('Patch')).map((x) => x.url);
    const fix = cve.cisaRequiredAction ?? (patches.length > 0 ? `Patch: ${patches.join(' ')}` : undefined);
    return {
      id: cve.id, source: 'nvd', title: cve.id, description, aliases: [], published: cve.published, modified: cve.lastModified,
      cvss: preferredCvss(cvss), knownExploited: cve.cisaExploitAdd !== undefined, fix,
      references: cve.references.map((x) => x.url), affected, status: cve.vulnStatus, level: 'detail',
    } satisfies Advisory;
  });
}
