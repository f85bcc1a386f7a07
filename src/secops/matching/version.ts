/**
 * Firmware and software version comparison, and the version ranges advisories use.
 *
 * Two schemes: where BOTH versions are valid semver (npm packages, most modern firmware) the
 * `semver` package decides, so pre-releases sort before their release (1.2.0-rc.1 < 1.2.0).
 * Otherwise a numeric-dotted comparison: the text is split into runs of digits and runs of
 * letters (separators `.`, `-`, `_`, `+`, space), digit runs compare as numbers (1.10 > 1.9,
 * 01.02 = 1.2), letter runs case-insensitively, a digit run sorts after a letter run
 * (1.2.a < 1.2.1) and missing trailing zeros are equal (1.2 = 1.2.0). A leading "v", "ver",
 * "version" or "Ver." is not part of the version.
 */
import semver from 'semver';

const PREFIX = /^\s*(?:version|ver\.?|v)\s*(?=\d)/i;

/** The version text without a "v"/"Ver." prefix and surrounding blanks. */
export function normalizeVersion(v: string): string {
  return v.replace(PREFIX, '').trim();
}

type Token = number | string;

function tokens(v: string): Token[] {
  const out: Token[] = [];
  for (const m of normalizeVersion(v).matchAll(/(\d+)|([A-Za-z]+)/g)) {
    out.push(m[1] !== undefined ? Number(m[1]) : m[2]!.toLowerCase());
  }
  // Trailing zeros carry no meaning in a dotted version: 1.2 = 1.2.0.
  while (out.length > 0 && out[out.length - 1] === 0) out.pop();
  return out;
}

function compareTokens(a: Token[], b: Token[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === undefined) return typeof y === 'string' ? 1 : -1; // 1.2 > 1.2.beta, 1.2 < 1.2.1
    if (y === undefined) return typeof x === 'string' ? -1 : 1;
    if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : 1;
    if (typeof x === 'string' && typeof y === 'string') return x < y ? -1 : 1;
    return typeof x === 'number' ? 1 : -1;
  }
  return 0;
}

/** Parsed forms per version text: matching compares the same few thousand versions millions of times. */
interface Parsed {
  semver: semver.SemVer | null;
  tokens: Token[];
}
const parsedCache = new Map<string, Parsed>();
function parsed(v: string): Parsed {
  let p = parsedCache.get(v);
  if (p === undefined) {
    const valid = semver.valid(normalizeVersion(v));
    p = { semver: valid === null ? null : new semver.SemVer(valid), tokens: tokens(v) };
    if (parsedCache.size > 200_000) parsedCache.clear();
    parsedCache.set(v, p);
  }
  return p;
}

/**
 * Compares two versions: negative when a < b, 0 when equal, positive when a > b.
 * @example compareVersions('1.10.0', '1.9.3') > 0; compareVersions('Ver.2.1', '2.1.0') === 0
 */
export function compareVersions(a: string, b: string): number {
  const pa = parsed(a);
  const pb = parsed(b);
  if (pa.semver !== null && pb.semver !== null) return pa.semver.compare(pb.semver);
  return compareTokens(pa.tokens, pb.tokens);
}

/** True when the version has at least one digit (so it can be compared at all). */
export function isComparableVersion(v: string | null | undefined): v is string {
  return typeof v === 'string' && /\d/.test(v);
}

/**
 * The affected versions of one product as advisories state them. NVD's cpeMatch bounds, CSAF's
 * `vers:` ranges and JVN's "X およびそれ以前" all become this. No field at all = every version.
 */
export interface VersionRange {
  /** Exactly this version (a CPE with a version, a CSAF product_version). */
  exact?: string | undefined;
  startIncluding?: string | undefined;
  startExcluding?: string | undefined;
  endIncluding?: string | undefined;
  endExcluding?: string | undefined;
  /** A `vers:` range (CSAF product_version_range), e.g. `vers:generic/>=1.0|<1.4.2`. */
  vers?: string | undefined;
}

/** True when `range` states no bound: every version is affected. */
export function isUnbounded(r: VersionRange): boolean {
  return r.exact === undefined && r.startIncluding === undefined && r.startExcluding === undefined && r.endIncluding === undefined && r.endExcluding === undefined && r.vers === undefined;
}

/**
 * Whether `version` lies in `range`. An unknown (absent) version is never inside a bounded range:
 * a finding is a claim, so an asset whose version we do not know is not reported as affected.
 */
export function inRange(version: string | null | undefined, r: VersionRange): boolean {
  if (isUnbounded(r)) return true;
  if (!isComparableVersion(version)) return false;
  if (r.exact !== undefined) return compareVersions(version, r.exact) === 0;
  if (r.vers !== undefined) return inVers(version, parseVers(r.vers));
  if (r.startIncluding !== undefined && compareVersions(version, r.startIncluding) < 0) return false;
  if (r.startExcluding !== undefined && compareVersions(version, r.startExcluding) <= 0) return false;
  if (r.endIncluding !== undefined && compareVersions(version, r.endIncluding) > 0) return false;
  if (r.endExcluding !== undefined && compareVersions(version, r.endExcluding) >= 0) return false;
  return true;
}

/** A human-readable form of a range, for findings and notices: ">=1.0 <1.4.2". */
export function describeRange(r: VersionRange): string {
  if (isUnbounded(r)) return '*';
  if (r.exact !== undefined) return `=${r.exact}`;
  if (r.vers !== undefined) return r.vers;
  const parts: string[] = [];
  if (r.startIncluding !== undefined) parts.push(`>=${r.startIncluding}`);
  if (r.startExcluding !== undefined) parts.push(`>${r.startExcluding}`);
  if (r.endIncluding !== undefined) parts.push(`<=${r.endIncluding}`);
  if (r.endExcluding !== undefined) parts.push(`<${r.endExcluding}`);
  return parts.join(' ');
}

type Comparator = '=' | '!=' | '<' | '<=' | '>' | '>=';
export interface VersConstraint {
  comparator: Comparator;
  version: string;
}
export interface Vers {
  scheme: string;
  /** Empty with `any` = "*" (every version). */
  constraints: VersConstraint[];
  any: boolean;
  /** The range constraints (<, <=, >, >=) sorted by version, computed once by parseVers. */
  sorted?: VersConstraint[];
}

/**
 * Parses a `vers:` URI (package-url/vers-spec): `vers:<scheme>/<c>|<c>...`, each constraint a
 * comparator (=, !=, <, <=, >, >=; none means =) and a version, or `*` alone.
 * @throws Error naming the range and the rule broken
 */
export function parseVers(text: string): Vers {
  const m = /^vers:([a-z0-9.+-]+)\/(.+)$/i.exec(text.replace(/\s+/g, ''));
  if (!m) throw new Error(`version range "${text.slice(0, 100)}" is not a vers: URI (vers:<scheme>/<constraints>)`);
  const scheme = m[1]!.toLowerCase();
  if (m[2] === '*') return { scheme, constraints: [], any: true };
  const constraints: VersConstraint[] = [];
  for (const raw of m[2]!.split('|')) {
    const c = /^(!=|<=|>=|<|>|=)?(.+)$/.exec(raw);
    if (!c || c[2] === '*') throw new Error(`version range "${text.slice(0, 100)}": constraint "${raw.slice(0, 50)}" is not <comparator><version>`);
    constraints.push({ comparator: (c[1] ?? '=') as Comparator, version: decodeURIComponent(c[2]!) });
  }
  const sorted = constraints.filter((c) => c.comparator !== '=' && c.comparator !== '!=').sort((a, b) => compareVersions(a.version, b.version));
  return { scheme, constraints, any: false, sorted };
}

/**
 * The vers-spec containment algorithm: equal and not-equal constraints first, then the
 * remaining constraints sorted by version are read as consecutive intervals.
 */
export function inVers(version: string, vers: Vers): boolean {
  if (vers.any) return true;
  for (const c of vers.constraints) {
    if (c.comparator !== '=' && c.comparator !== '!=') continue;
    const cmp = compareVersions(version, c.version);
    if (c.comparator === '=' && cmp === 0) return true;
    if (c.comparator === '!=' && cmp === 0) return false;
  }
  const rest = vers.sorted ?? vers.constraints.filter((c) => c.comparator !== '=' && c.comparator !== '!=').sort((a, b) => compareVersions(a.version, b.version));
  if (rest.length === 0) return false;
  for (const c of rest) if (c.comparator.includes('=') && compareVersions(version, c.version) === 0) return true;
  const isLower = (c: VersConstraint) => c.comparator === '>' || c.comparator === '>=';
  const isUpper = (c: VersConstraint) => c.comparator === '<' || c.comparator === '<=';
  const first = rest[0]!;
  const last = rest[rest.length - 1]!;
  if (rest.length === 1) {
    const cmp = compareVersions(version, first.version);
    return isLower(first) ? cmp > 0 : cmp < 0;
  }
  if (isUpper(first) && compareVersions(version, first.version) < 0) return true;
  if (isLower(last) && compareVersions(version, last.version) > 0) return true;
  for (let i = 0; i + 1 < rest.length; i++) {
    const cur = rest[i]!;
    const next = rest[i + 1]!;
    if (isLower(cur) && isUpper(next) && compareVersions(version, cur.version) > 0 && compareVersions(version, next.version) < 0) return true;
  }
  return false;
}
