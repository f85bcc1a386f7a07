/**
 * One advisory as every feed format becomes it. NVD CVE records, JVN iPedia entries and CSAF
 * documents are parsed into `Advisory`; the store and the matcher only ever see this shape.
 */
import type { Cpe } from '../cpe.js';
import type { VersionRange } from '../matching/version.js';

export const FEED_FORMATS = ['nvd', 'jvn', 'csaf'] as const;
export type FeedFormat = (typeof FEED_FORMATS)[number];

/** One affected product statement of an advisory: how to recognise it and which versions. */
export interface AffectedProduct {
  /** From an NVD cpeMatch, a JVN CPE 2.2 URI or a CSAF helper: vendor and product (version in `range`). */
  cpe?: Cpe | undefined;
  /** Package URL without version, qualifiers or subpath (`pkg:npm/fast-xml-parser`). */
  purl?: string | undefined;
  /** Free-text vendor and product names (JVN, CSAF branches): the fallback match. */
  vendorName?: string | undefined;
  productName?: string | undefined;
  /** CSAF model numbers (product_identification_helper.model_numbers). */
  modelNumbers?: string[] | undefined;
  range: VersionRange;
  /**
   * False when the advisory names the product but not its affected versions (a JVNRSS
   * overview): a match is then reported at low confidence, whatever identifier matched.
   */
  versionsKnown?: false | undefined;
}

export interface Cvss {
  /** "3.1", "3.0", "4.0", "2.0" */
  version: string;
  vector: string;
  score: number;
}

export interface Advisory {
  /** CVE id (NVD), JVNDB id (JVN), tracking id (CSAF). With `source`, the advisory's key. */
  id: string;
  source: FeedFormat;
  title: string;
  /** The text as published (Japanese kept as is). */
  description: string;
  /** Other ids the advisory carries (CVE ids of a JVN or CSAF record). */
  aliases: string[];
  published?: string | undefined;
  modified?: string | undefined;
  cvss?: Cvss | undefined;
  /** Known to be exploited (NVD's CISA KEV fields, CSAF exploit_status threats). */
  knownExploited: boolean;
  /** The fix or mitigation the publisher gives, in its words. */
  fix?: string | undefined;
  references: string[];
  affected: AffectedProduct[];
  /** NVD vulnStatus ("Analyzed", "Awaiting Analysis"...), CSAF tracking status. */
  status?: string | undefined;
  /** 'detail' advisories (NVD, JVN VULDEF, CSAF) are never replaced by an 'overview' (JVNRSS). */
  level: 'overview' | 'detail';
}

/** The highest-version CVSS of a list (4.0 over 3.1 over 3.0 over 2.0). */
export function preferredCvss(list: readonly Cvss[]): Cvss | undefined {
  let best: Cvss | undefined;
  for (const c of list) if (!best || Number(c.version) > Number(best.version) || (c.version === best.version && c.score > best.score)) best = c;
  return best;
}
