/**
 * Affected versions written as text, as JVN VULDEF <VersionNumber> and older CSAF
 * product_version_range names state them, in Japanese or English:
 *   "1.2.3 およびそれ以前" / "1.2.3 以前" / "1.2.3 and earlier"      → <= 1.2.3
 *   "1.2.3 より前" / "1.2.3 未満" / "prior to 1.2.3" / "before 1.2.3" → <  1.2.3
 *   "1.0.0 以降" / "1.0.0 and later"                                 → >= 1.0.0
 *   "1.0.0 から 1.2.3 まで" / "1.0.0 - 1.2.3" / "1.0.0 through 1.2.3" → >= 1.0.0, <= 1.2.3
 *   ">=1.0 <1.4", "<= 1.2.3"                                          → the operators
 *   "1.2.3"                                                           → = 1.2.3
 *   "すべてのバージョン" / "all versions" / no version                → every version
 * A product name before the version ("BT-100 ファームウェア 1.2.3 およびそれ以前") is skipped: only
 * tokens that look like versions (a digit, dots) are read.
 */
import type { VersionRange } from '../matching/version.js';

/** A version token: optional "v"/"Ver.", digits, then dotted/dashed alphanumerics. */
const VERSION = String.raw`(?<![\p{L}\p{N}_-])(?:[vV](?:er\.?)?\s?)?(\d+(?:[._-][0-9A-Za-z]+)*[a-z]?)`;
const V = new RegExp(VERSION, 'gu');

export function rangeFromText(text: string | undefined): VersionRange {
  if (text === undefined) return {};
  const t = text.normalize('NFKC').trim();
  if (t === '' || /すべて|全て|全バージョン|all versions/i.test(t)) return {};
  const ops = [...t.matchAll(new RegExp(String.raw`(<=|>=|<|>|=)\s*${VERSION}`, 'gu'))];
  if (ops.length > 0) {
    const r: VersionRange = {};
    for (const m of ops) {
      const v = m[2]!;
      if (m[1] === '<=') r.endIncluding = v;
      else if (m[1] === '<') r.endExcluding = v;
      else if (m[1] === '>=') r.startIncluding = v;
      else if (m[1] === '>') r.startExcluding = v;
      else r.exact = v;
    }
    return r;
  }
  const versions = [...t.matchAll(V)].map((m) => m[1]!).filter((v) => v.includes('.') || /^\d+$/.test(v));
  if (versions.length === 0) return {};
  const last = versions[versions.length - 1]!;
  if (versions.length >= 2 && /から|～|〜|through|\bto\b|\s-\s/.test(t)) {
    const first = versions[versions.length - 2]!;
    return /より前|未満/.test(t.slice(t.lastIndexOf(last))) ? { startIncluding: first, endExcluding: last } : { startIncluding: first, endIncluding: last };
  }
  if (/より前|未満|prior to|before|earlier than/i.test(t)) return { endExcluding: last };
  if (/以前|and earlier|and prior|or earlier/i.test(t)) return { endIncluding: last };
  if (/以降|and later|or later/i.test(t)) return { startIncluding: last };
  return { exact: last };
}
