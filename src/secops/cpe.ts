/**
 * CPE names (NISTIR 7695, CPE 2.3 naming) and the normalised names the fallback matching uses.
 *
 * NVD and CSAF give CPE 2.3 formatted strings (`cpe:2.3:o:vendor:product:1.2.3:*:...`); JVN
 * gives CPE 2.2 URIs (`cpe:/o:vendor:product:1.2.3`). Both become one `Cpe` with unquoted,
 * lower-cased fields so an index key (`vendor:product`) is the same whichever form came in.
 */

export type CpePart = 'a' | 'o' | 'h';

export interface Cpe {
  part: CpePart;
  vendor: string;
  product: string;
  /** '*' (any) or '-' (not applicable) or a version. */
  version: string;
  update: string;
}

const ANY = '*';

/** CPE 2.3 formatted-string splitting: ':' separates fields unless escaped with '\'. */
function splitFs(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\' && i + 1 < s.length) {
      cur += s[++i];
      continue;
    }
    if (ch === ':') {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  out.push(cur);
  return out;
}

/**
 * Parses a CPE 2.3 formatted string or a CPE 2.2 URI; undefined when it is neither.
 * @example parseCpe('cpe:/o:example:bt-100_firmware:1.2') → { part: 'o', vendor: 'example', product: 'bt-100_firmware', version: '1.2', update: '*' }
 */
export function parseCpe(text: string): Cpe | undefined {
  if (typeof text !== 'string' || text.length > 1000) return undefined;
  const t = text.trim();
  if (t.toLowerCase().startsWith('cpe:2.3:')) {
    const f = splitFs(t.slice(8));
    if (f.length !== 11) return undefined;
    const part = f[0]!.toLowerCase();
    if (part !== 'a' && part !== 'o' && part !== 'h') return undefined;
    if (!f[1] || !f[2]) return undefined;
    return { part, vendor: f[1].toLowerCase(), product: f[2].toLowerCase(), version: f[3] || ANY, update: f[4] || ANY };
  }
  if (t.toLowerCase().startsWith('cpe:/')) {
    const f = t.slice(5).split(':');
    const part = (f[0] ?? '').toLowerCase();
    if (part !== 'a' && part !== 'o' && part !== 'h') return undefined;
    let vendor: string;
    let product: string;
    try {
      vendor = decodeURIComponent(f[1] ?? '').toLowerCase();
      product = decodeURIComponent(f[2] ?? '').toLowerCase();
    } catch {
      return undefined;
    }
    if (!vendor || !product) return undefined;
    const dec = (s: string | undefined) => (s === undefined || s === '' ? ANY : decodeURIComponent(s));
    try {
      return { part, vendor, product, version: dec(f[3]), update: dec(f[4]) };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Escapes a value for a CPE 2.3 formatted string (every non-alphanumeric except _ - . is quoted). */
function quote(v: string): string {
  return v.replace(/[^A-Za-z0-9_.-]/g, (c) => `\\${c}`);
}

/**
 * A CPE 2.3 formatted string.
 * @example formatCpe23({ part: 'o', vendor: 'example', product: 'bt_firmware', version: '1.2.3', update: '*' }) → 'cpe:2.3:o:example:bt_firmware:1.2.3:*:*:*:*:*:*:*'
 */
export function formatCpe23(c: Cpe): string {
  const f = (v: string) => (v === ANY || v === '-' ? v : quote(v));
  return `cpe:2.3:${c.part}:${f(c.vendor)}:${f(c.product)}:${f(c.version)}:${f(c.update)}:*:*:*:*:*:*`;
}

/** The key advisories and assets meet on: `vendor:product`, lower-case. */
export function cpeKey(c: Pick<Cpe, 'vendor' | 'product'>): string {
  return `${c.vendor}:${c.product}`;
}

/**
 * A name for the fallback match: lower-case, width-folded (ＢＴ－１００ = BT-100), every run of
 * non-alphanumerics removed, so "BT-100", "bt 100" and "bt_100" meet.
 */
export function normalizeName(name: string): string {
  // Plain ASCII (most names) needs no Unicode normalisation: the cheap path.
  if (/^[\x20-\x7e]*$/.test(name)) return name.toLowerCase().replace(/[^a-z0-9]+/g, '');
  return name.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

/** A CPE field value formed from free text: lower-case, blanks to `_` (CPE 2.3 §5.3.2 convention). */
export function cpeValue(text: string): string {
  return text.normalize('NFKC').trim().toLowerCase().replace(/\s+/g, '_');
}
