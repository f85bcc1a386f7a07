/**
 * JVN iPedia / MyJVN (https://jvndb.jvn.jp/apis/): two XML documents, told apart by their root.
 * - JVNRSS overview (RDF/RSS 1.0 with the mod_sec 3.0 module; MyJVN getVulnOverviewList):
 *   `item` → `sec:identifier` (JVNDB-...), `title`, `description`, `sec:cpe` (CPE 2.2 URI, no
 *   version: the product is affected, versions unknown), `sec:cvss` attributes, `sec:references`,
 *   `dcterms:issued/modified`. Overviews are stored as such and never replace a detail.
 * - VULDEF detail (MyJVN getVulnDetailInfo): `Vulinfo` → `VulinfoID`, `Title`, `Overview`,
 *   `Affected/AffectedItem` (`Name` vendor, `ProductName`, `Cpe` 2.2, `VersionNumber` text such as
 *   "1.2.3 およびそれ以前", see ./range-text.ts), `Impact/Cvss`, `Solution`, `Related`.
 * Japanese text is kept as published.
 */
import { InvalidInputError } from '../../core/errors.js';
import { parseCpe } from '../cpe.js';
import { preferredCvss, type Advisory, type AffectedProduct, type Cvss } from './model.js';
import { rangeFromText } from './range-text.js';

type Node = Record<string, unknown>;
const asArray = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const obj = (v: unknown): Node => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Node) : {});
/** Text content of an element that may carry attributes (`#text`). */
function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return text((v as Node)['#text']);
  if (Array.isArray(v)) return text(v[0]);
  return undefined;
}
const attr = (v: unknown, a: string): string | undefined => text(obj(v)[`@_${a}`]);

const JVNDB_ID = /^JVNDB-\d{4}-\d{6}$/;

function fail(name: string, where: string, rule: string): never {
  throw new InvalidInputError(`feed ${name}: ${where}: ${rule}; nothing imported`, { code: 'feed_invalid' });
}

function cveAliases(values: (string | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => v !== undefined && /^CVE-\d{4}-\d{4,}$/.test(v)))];
}

function score(v: string | undefined, name: string, where: string): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < 0 || n > 10) fail(name, where, `CVSS score "${v}" is not a number from 0 to 10`);
  return n;
}

function parseOverview(root: Node, name: string): Advisory[] {
  return asArray(root.item).map((raw, i) => {
    const item = obj(raw);
    const id = text(item.identifier);
    if (!id || !JVNDB_ID.test(id)) fail(name, `item[${i}].sec:identifier`, `"${id ?? ''}" is not a JVNDB id (JVNDB-YYYY-NNNNNN)`);
    const affected: AffectedProduct[] = asArray(item.cpe).map((c, j) => {
      const uri = text(c) ?? '';
      const cpe = parseCpe(uri);
      if (!cpe) fail(name, `${id} sec:cpe[${j}]`, `"${uri.slice(0, 120)}" is not a CPE URI`);
      // The overview names the product but not the versions.
      const known = cpe.version !== '*';
      return { cpe: { ...cpe, version: '*' }, vendorName: attr(c, 'vendor'), productName: attr(c, 'product'), range: known ? { exact: cpe.version } : {}, ...(known ? {} : { versionsKnown: false as const }) };
    });
    const cvss: Cvss[] = asArray(item.cvss).map((c) => ({ version: attr(c, 'version') ?? '', vector: attr(c, 'vector') ?? '', score: score(attr(c, 'score'), name, `${id} sec:cvss`) }));
    const refs = asArray(item.references);
    return {
      id, source: 'jvn', title: text(item.title) ?? id, description: text(item.description) ?? '',
      aliases: cveAliases(refs.map((r) => attr(r, 'id'))), published: text(item.issued) ?? text(item.date), modified: text(item.modified),
      cvss: preferredCvss(cvss), knownExploited: false, references: refs.map((r) => text(r)).filter((x): x is string => !!x),
      affected, level: 'overview',
    } satisfies Advisory;
  });
}

function parseDetail(root: Node, name: string): Advisory[] {
  return asArray(root.Vulinfo).map((raw, i) => {
    const vi = obj(raw);
    const id = text(vi.VulinfoID);
    if (!id || !JVNDB_ID.test(id)) fail(name, `Vulinfo[${i}].VulinfoID`, `"${id ?? ''}" is not a JVNDB id (JVNDB-YYYY-NNNNNN)`);
    const data = obj(vi.VulinfoData);
    const affected: AffectedProduct[] = [];
    for (const [j, a] of asArray(obj(data.Affected).AffectedItem).entries()) {
      const ai = obj(a);
      const vendorName = text(ai.Name);
      const productName = text(ai.ProductName);
      const cpes = asArray(ai.Cpe).map((c) => text(c) ?? '');
      const versions = asArray(ai.VersionNumber).map((v) => text(v));
      const ranges = versions.length > 0 ? versions.map((v) => rangeFromText(v)) : [{}];
      const parsed = cpes.map((uri) => {
        const cpe = parseCpe(uri);
        if (!cpe) fail(name, `${id} AffectedItem[${j}].Cpe`, `"${uri.slice(0, 120)}" is not a CPE URI`);
        return cpe;
      });
      for (const range of ranges) {
        if (parsed.length === 0) affected.push({ vendorName, productName, range });
        for (const cpe of parsed) affected.push({ cpe: { ...cpe, version: '*' }, vendorName, productName, range: cpe.version !== '*' && Object.keys(range).length === 0 ? { exact: cpe.version } : range });
      }
    }
    const impact = obj(data.Impact);
    const cvss: Cvss[] = asArray(impact.Cvss).map((c) => {
      const co = obj(c);
      return { version: attr(c, 'version') ?? '', vector: text(co.Vector) ?? '', score: score(text(co.Base), name, `${id} Cvss`) };
    });
    const solutions = asArray(obj(data.Solution).SolutionItem).map((s) => text(obj(s).Description)).filter((x): x is string => !!x);
    const related = asArray(obj(data.Related).RelatedItem).map(obj);
    return {
      id, source: 'jvn', title: text(data.Title) ?? id, description: text(obj(data.VulinfoDescription).Overview) ?? '',
      aliases: cveAliases(related.map((r) => text(r.VulinfoID))),
      published: text(data.DateFirstPublished) ?? text(data.DatePublic), modified: text(data.DateLastUpdated),
      cvss: preferredCvss(cvss), knownExploited: false, fix: solutions.length > 0 ? solutions.join('\n') : undefined,
      references: related.map((r) => text(r.URL)).filter((x): x is string => !!x), affected, level: 'detail',
    } satisfies Advisory;
  });
}

/**
 * Reads a parsed JVNRSS or VULDEF document into advisories.
 * @throws InvalidInputError naming the feed and record
 */
export function parseJvn(doc: Record<string, unknown>, name: string): Advisory[] {
  if (doc.RDF !== undefined) return parseOverview(obj(doc.RDF), name);
  if (doc['VULDEF-Document'] !== undefined) return parseDetail(obj(doc['VULDEF-Document']), name);
  const roots = Object.keys(doc).filter((k) => !k.startsWith('?'));
  return fail(name, 'root element', `<${roots[0] ?? ''}> is neither a JVNRSS <rdf:RDF> nor a <VULDEF-Document>`);
}
