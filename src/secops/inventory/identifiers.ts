/**
 * Identifiers derived for assets. A device gets a CPE 2.3 name only when its ECHONET Lite maker
 * code has a CPE vendor recorded (`erab vuln maker`): a guessed vendor would produce confident
 * matches that are wrong. The product code becomes the CPE product the way NVD and JVN name
 * device firmware (`<model>_firmware`, part `o`). Software gets a package URL.
 */
import { cpeKey, cpeValue, formatCpe23, normalizeName, parseCpe } from '../cpe.js';

/** `cpe:2.3:o:<vendor>:<product>_firmware:<firmware>:...`, or undefined without vendor or product. */
export function deviceCpe(cpeVendor: string | null | undefined, productCode: string | null | undefined, firmware: string | null | undefined): string | undefined {
  if (!cpeVendor || !productCode || !productCode.trim()) return undefined;
  return formatCpe23({ part: 'o', vendor: cpeValue(cpeVendor), product: `${cpeValue(productCode)}_firmware`, version: firmware ? cpeValue(firmware) : '*', update: '*' });
}

export { npmPurl } from '../../core/software.js';

/** The Node.js runtime as NVD names it. */
export function nodeCpe(version: string): string {
  return formatCpe23({ part: 'a', vendor: 'nodejs', product: 'node.js', version: version.replace(/^v/, ''), update: '*' });
}

/**
 * The `vendor:product` keys an asset's CPE can meet advisories on: the product itself and, for
 * firmware (`x_firmware`), the hardware product `x` too (advisories name either).
 */
export function cpeKeysOf(cpe: string | null | undefined): string[] {
  const c = cpe ? parseCpe(cpe) : undefined;
  if (!c) return [];
  const keys = [cpeKey(c)];
  if (c.product.endsWith('_firmware')) keys.push(cpeKey({ vendor: c.vendor, product: c.product.slice(0, -'_firmware'.length) }));
  return keys;
}

/** Normalised names an asset is known by (for the fallback match). */
export function namesOf(...names: (string | null | undefined)[]): string[] {
  return [...new Set(names.filter((n): n is string => !!n && n.trim() !== '').map(normalizeName).filter((n) => n.length > 0))];
}
