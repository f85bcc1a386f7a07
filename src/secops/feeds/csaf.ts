/**
 * CSAF 2.0 advisories (OASIS CSAF v2.0, §3.1.3 product tree, §3.2.3 vulnerabilities), including
 * those Japanese vendors publish (Japanese `lang`, text kept as is).
 * - product tree: branches vendor → product_name/product_family → product_version (exact) or
 *   product_version_range (a `vers:` URI, §3.1.2.3 or legacy text such as "<=1.2.3") end in a
 *   product whose `product_identification_helper` may give cpe, purl and model_numbers; also
 *   `full_product_names`. A product with neither CPE nor purl is still matched by name and
 *   model number (lower confidence).
 * - affected: products in `known_affected`, `first_affected` or `last_affected` of any
 *   vulnerability; the advisory's CVSS is the highest of its scores; remediations of category
 *   vendor_fix, mitigation or workaround become the fix text; an `exploit_status` threat marks
 *   it known-exploited.
 * One CSAF document is one advisory (its tracking id), its CVE ids the aliases.
 */
import { PackageURL } from 'packageurl-js';
import { z } from 'zod';
import { InvalidInputError } from '../../core/errors.js';
import { parseCpe, type Cpe } from '../cpe.js';
import type { VersionRange } from '../matching/version.js';
import { parseVers } from '../matching/version.js';
import { preferredCvss, type Advisory, type AffectedProduct, type Cvss } from './model.js';
import { rangeFromText } from './range-text.js';

const helper = z.object({ cpe: z.string().max(1000).optional(), purl: z.string().max(2000).optional(), model_numbers: z.array(z.string().max(500)).optional() }).optional();
const product = z.object({ product_id: z.string().min(1).max(1000), name: z.string().max(2000), product_identification_helper: helper });
type Branch = { category: string; name: string; product?: z.infer<typeof product> | undefined; branches?: Branch[] | undefined };
const branch: z.ZodType<Branch> = z.lazy(() => z.object({ category: z.string(), name: z.string().max(2000), product: product.optional(), branches: z.array(branch).optional() }));
const cvssObj = z.object({ version: z.string(), vectorString: z.string(), baseScore: z.number().min(0).max(10) });
const docSchema = z.object({
  document: z.object({
    category: z.string(),
    csaf_version: z.literal('2.0'),
    title: z.string(),
    lang: z.string().optional(),
    publisher: z.object({ name: z.string() }),
    tracking: z.object({ id: z.string().min(1).max(1000), status: z.string(), initial_release_date: z.string(), current_release_date: z.string() }),
    notes: z.array(z.object({ category: z.string(), text: z.string() })).optional(),
    references: z.array(z.object({ url: z.string() })).optional(),
  }),
  product_tree: z.object({ branches: z.array(branch).optional(), full_product_names: z.array(product).optional() }).optional(),
  vulnerabilities: z.array(z.object({
    cve: z.string().optional(),
    title: z.string().optional(),
    notes: z.array(z.object({ category: z.string(), text: z.string() })).optional(),
    product_status: z.record(z.string(), z.array(z.string())).optional(),
    scores: z.array(z.object({ products: z.array(z.string()), cvss_v3: cvssObj.optional(), cvss_v2: z.object({ version: z.string(), vectorString: z.string(), baseScore: z.number() }).optional() })).optional(),
    remediations: z.array(z.object({ category: z.string(), details: z.string(), product_ids: z.array(z.string()).optional() })).optional(),
    threats: z.array(z.object({ category: z.string(), details: z.string() })).optional(),
    references: z.array(z.object({ url: z.string() })).optional(),
  })).default([]),
});

const AFFECTED = ['known_affected', 'first_affected', 'last_affected'];

interface ProductFacts {
  vendorName?: string | undefined;
  productName?: string | undefined;
  range: VersionRange;
  cpe?: Cpe | undefined;
  purl?: string | undefined;
  modelNumbers?: string[] | undefined;
}

/** `pkg:type/ns/name@version?q#sub` → base `pkg:type/ns/name` and the version. */
export function splitPurl(text: string): { base: string; version?: string | undefined } | undefined {
  try {
    const p = PackageURL.fromString(text);
    return { base: new PackageURL(p.type, p.namespace, p.name, undefined, undefined, undefined).toString(), version: p.version ?? undefined };
  } catch {
    return undefined;
  }
}

function versionRange(category: string, name: string, where: string, feed: string): VersionRange {
  if (category === 'product_version') return { exact: name };
  if (name.trim().toLowerCase().startsWith('vers:')) {
    try {
      parseVers(name);
    } catch (err) {
      throw new InvalidInputError(`feed ${feed}: ${where}: ${(err as Error).message}; nothing imported`, { code: 'feed_invalid' });
    }
    return { vers: name.replace(/\s+/g, '') };
  }
  return rangeFromText(name);
}

/**
 * Reads a CSAF 2.0 document into one advisory.
 * @throws InvalidInputError naming the feed and the field
 */
export function parseCsaf(doc: unknown, name: string): Advisory[] {
  const r = docSchema.safeParse(doc);
  if (!r.success) {
    const is = r.error.issues[0]!;
    throw new InvalidInputError(`feed ${name}: not a CSAF 2.0 document: ${is.path.join('.') || '(document)'}: ${is.message}; nothing imported`, { code: 'feed_invalid' });
  }
  const csaf = r.data;
  const facts = new Map<string, ProductFacts>();
  const addProduct = (p: z.infer<typeof product>, ctx: Omit<ProductFacts, 'cpe' | 'purl' | 'modelNumbers'>, where: string) => {
    const h = p.product_identification_helper;
    let cpe: Cpe | undefined;
    let range = ctx.range;
    if (h?.cpe !== undefined) {
      cpe = parseCpe(h.cpe);
      if (!cpe) throw new InvalidInputError(`feed ${name}: ${where}.product_identification_helper.cpe: "${h.cpe.slice(0, 120)}" is not a CPE name; nothing imported`, { code: 'feed_invalid' });
      if (cpe.version !== '*' && cpe.version !== '-' && Object.keys(range).length === 0) range = { exact: cpe.version };
      cpe = { ...cpe, version: '*' };
    }
    let purl: string | undefined;
    if (h?.purl !== undefined) {
      const p2 = splitPurl(h.purl);
      if (!p2) throw new InvalidInputError(`feed ${name}: ${where}.product_identification_helper.purl: "${h.purl.slice(0, 120)}" is not a package URL; nothing imported`, { code: 'feed_invalid' });
      purl = p2.base;
      if (p2.version !== undefined && Object.keys(range).length === 0) range = { exact: p2.version };
    }
    facts.set(p.product_id, { ...ctx, range, cpe, purl, modelNumbers: h?.model_numbers });
  };
  const walk = (list: Branch[], ctx: Omit<ProductFacts, 'cpe' | 'purl' | 'modelNumbers'>, path: string) => {
    for (const [i, b] of list.entries()) {
      const where = `${path}[${i}]`;
      const next = { ...ctx };
      if (b.category === 'vendor') next.vendorName = b.name;
      else if (b.category === 'product_name' || b.category === 'product_family') next.productName = next.productName && b.category === 'product_name' ? `${next.productName} ${b.name}` : b.name;
      else if (b.category === 'product_version' || b.category === 'product_version_range') next.range = versionRange(b.category, b.name, where, name);
      if (b.product) addProduct(b.product, next, `${where}.product`);
      if (b.branches) walk(b.branches, next, `${where}.branches`);
    }
  };
  walk(csaf.product_tree?.branches ?? [], { range: {} }, 'product_tree.branches');
  for (const [i, p] of (csaf.product_tree?.full_product_names ?? []).entries()) if (!facts.has(p.product_id)) addProduct(p, { productName: p.name, range: {} }, `product_tree.full_product_names[${i}]`);

  const affectedIds = new Set<string>();
  const cvss: Cvss[] = [];
  const fixes: string[] = [];
  let exploited = false;
  for (const [i, v] of csaf.vulnerabilities.entries()) {
    for (const k of AFFECTED) for (const id of v.product_status?.[k] ?? []) {
      if (!facts.has(id)) throw new InvalidInputError(`feed ${name}: vulnerabilities[${i}].product_status.${k}: product "${id.slice(0, 100)}" is not in the product tree; nothing imported`, { code: 'feed_invalid' });
      affectedIds.add(id);
    }
    for (const s of v.scores ?? []) {
      const c = s.cvss_v3 ?? s.cvss_v2;
      if (c) cvss.push({ version: c.version, vector: c.vectorString, score: c.baseScore });
    }
    for (const rem of v.remediations ?? []) if (['vendor_fix', 'mitigation', 'workaround'].includes(rem.category)) fixes.push(`${rem.category}: ${rem.details}`);
    if ((v.threats ?? []).some((t) => t.category === 'exploit_status' && !/\bno(t)?\b|なし|未確認/i.test(t.details))) exploited = true;
  }
  const affected: AffectedProduct[] = [...affectedIds].map((id) => {
    const f = facts.get(id)!;
    return { cpe: f.cpe, purl: f.purl, vendorName: f.vendorName, productName: f.productName, modelNumbers: f.modelNumbers, range: f.range };
  });
  const d = csaf.document;
  const description = (d.notes ?? []).find((n) => n.category === 'summary' || n.category === 'description')?.text
    ?? csaf.vulnerabilities.flatMap((v) => v.notes ?? []).find((n) => n.category === 'description')?.text ?? '';
  return [{
    id: d.tracking.id, source: 'csaf', title: d.title, description,
    aliases: [...new Set(csaf.vulnerabilities.map((v) => v.cve).filter((x): x is string => !!x))],
    published: d.tracking.initial_release_date, modified: d.tracking.current_release_date,
    cvss: preferredCvss(cvss), knownExploited: exploited, fix: fixes.length > 0 ? [...new Set(fixes)].join('\n') : undefined,
    references: [...(d.references ?? []), ...csaf.vulnerabilities.flatMap((v) => v.references ?? [])].map((x) => x.url),
    affected, status: d.tracking.status, level: 'detail',
  }];
}
