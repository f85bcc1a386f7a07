/**
 * Inventory × advisories, in memory: the advisories are indexed once by the keys an asset can be
 * recognised by — CPE `vendor:product`, package URL without version, normalised model number,
 * normalised product name — so each asset costs a few map look-ups plus a version check per
 * candidate, never a scan of every advisory (100 000 assets × 20 000 advisories in well under
 * the 5 s budget, see bench/vulnmatch.ts).
 *
 * Confidence: a CPE or purl match is `high` (the identifiers name the product exactly); a CSAF
 * model number is `medium`; a product name only is `low` (the fallback for advisories without
 * identifiers and assets without a CPE), and so is any match on an advisory that does not state
 * the affected versions (a JVNRSS overview, until its VULDEF detail is imported). The best match of an (asset, advisory) pair counts.
 */
import { cpeKey, normalizeName } from '../cpe.js';
import type { AffectedProduct } from '../feeds/model.js';
import { compareVersions, describeRange, inVers, isComparableVersion, isUnbounded, parseVers, type Vers, type VersionRange } from './version.js';

export type Confidence = 'high' | 'medium' | 'low';
export type MatchKind = 'cpe' | 'purl' | 'model' | 'name';
const RANK: Record<Confidence, number> = { high: 3, medium: 2, low: 1 };
const KIND_CONFIDENCE: Record<MatchKind, Confidence> = { cpe: 'high', purl: 'high', model: 'medium', name: 'low' };

/** What the matcher needs of an asset. */
export interface MatchAsset {
  id: string;
  version: string | null;
  /** `vendor:product` keys (see cpeKey), lower-case. */
  cpeKeys: readonly string[];
  /** Base purl (no version). */
  purl?: string | null | undefined;
  /** Normalised names (normalizeName) the asset is known by: product/model code, product name. */
  names: readonly string[];
  /** Normalised maker name, when known: a name match then needs the advisory's vendor to agree. */
  vendor?: string | null | undefined;
}

/** What the matcher needs of an advisory. */
export interface MatchAdvisory {
  uid: string;
  affected: readonly AffectedProduct[];
}

export interface Match {
  assetId: string;
  advisoryUid: string;
  kind: MatchKind;
  confidence: Confidence;
  range: string;
}

interface Rule {
  advisory: string;
  /** The advisory does not say which versions: any match is low confidence. */
  versionsUnknown: boolean;
  range: VersionRange;
  vers: Vers | undefined;
  vendor: string | undefined;
}

function ruleOf(uid: string, a: AffectedProduct): Rule {
  let vers: Vers | undefined;
  if (a.range.vers !== undefined) {
    try {
      vers = parseVers(a.range.vers);
    } catch {
      vers = { scheme: 'generic', constraints: [], any: false }; // unreadable: matches nothing
    }
  }
  return { advisory: uid, versionsUnknown: a.versionsKnown === false, range: a.range, vers, vendor: a.vendorName ? normalizeName(a.vendorName) : a.cpe ? normalizeName(a.cpe.vendor) : undefined };
}

/** "BT-100 firmware" and "BT-100 ファームウェア" name the device BT-100. */
function productNameKey(name: string): string {
  return normalizeName(name.replace(/firmware|ファームウェア|software|ソフトウェア/gi, ''));
}

function push(map: Map<string, Rule[]>, key: string, rule: Rule): void {
  if (!key) return;
  const list = map.get(key);
  if (list) list.push(rule);
  else map.set(key, [rule]);
}

function rangeHolds(version: string | null, r: Rule): boolean {
  if (isUnbounded(r.range)) return true;
  if (!isComparableVersion(version)) return false;
  const x = r.range;
  if (x.exact !== undefined) return compareVersions(version, x.exact) === 0;
  if (r.vers) return inVers(version, r.vers);
  if (x.startIncluding !== undefined && compareVersions(version, x.startIncluding) < 0) return false;
  if (x.startExcluding !== undefined && compareVersions(version, x.startExcluding) <= 0) return false;
  if (x.endIncluding !== undefined && compareVersions(version, x.endIncluding) > 0) return false;
  if (x.endExcluding !== undefined && compareVersions(version, x.endExcluding) >= 0) return false;
  return true;
}

/** The advisories, indexed for matching. Build once per run; `match` per asset. */
export class AdvisoryIndex {
  private readonly byCpe = new Map<string, Rule[]>();
  private readonly byPurl = new Map<string, Rule[]>();
  private readonly byModel = new Map<string, Rule[]>();
  private readonly byName = new Map<string, Rule[]>();
  readonly size: number;

  constructor(advisories: Iterable<MatchAdvisory>) {
    let n = 0;
    for (const adv of advisories) {
      n++;
      for (const a of adv.affected) {
        const rule = ruleOf(adv.uid, a);
        if (a.cpe) push(this.byCpe, cpeKey(a.cpe), rule);
        if (a.purl) push(this.byPurl, a.purl, rule);
        // The fallback for assets without a CPE/purl (no maker mapping yet): model numbers, the
        // product's name and the product field of its CPE. An identifier match of the same
        // advisory outranks it (best confidence wins).
        for (const m of a.modelNumbers ?? []) push(this.byModel, normalizeName(m), rule);
        const names = new Set<string>();
        if (a.productName) names.add(productNameKey(a.productName));
        if (a.cpe) names.add(productNameKey(a.cpe.product.replace(/_/g, ' ')));
        for (const n of names) push(this.byName, n, rule);
      }
    }
    this.size = n;
  }

  /** Every advisory affecting `asset`, best confidence per advisory. */
  match(asset: MatchAsset): Match[] {
    const best = new Map<string, Match>();
    const consider = (rules: Rule[] | undefined, kind: MatchKind) => {
      if (!rules) return;
      for (const r of rules) {
        const prev = best.get(r.advisory);
        const confidence: Confidence = r.versionsUnknown ? 'low' : KIND_CONFIDENCE[kind];
        if (prev && RANK[prev.confidence] >= RANK[confidence]) continue;
        if ((kind === 'name' || kind === 'model') && r.vendor && asset.vendor && !r.vendor.includes(asset.vendor) && !asset.vendor.includes(r.vendor)) continue;
        if (!rangeHolds(asset.version, r)) continue;
        best.set(r.advisory, { assetId: asset.id, advisoryUid: r.advisory, kind, confidence, range: r.versionsUnknown ? 'versions not stated' : describeRange(r.range) });
      }
    };
    for (const k of asset.cpeKeys) consider(this.byCpe.get(k), 'cpe');
    if (asset.purl) consider(this.byPurl.get(asset.purl), 'purl');
    for (const n of asset.names) {
      consider(this.byModel.get(n), 'model');
      consider(this.byName.get(n), 'name');
    }
    return [...best.values()];
  }
}

/** All matches of `assets` against `index`. */
export function matchAll(assets: Iterable<MatchAsset>, index: AdvisoryIndex): Match[] {
  const out: Match[] = [];
  for (const a of assets) for (const m of index.match(a)) out.push(m);
  return out;
}
