/**
 * Many simulated sites in one process (scale tests): site i binds the i-th address counted
 * from a base address (skipping host parts .0 and .255), every site with the same devices.
 */
import { InvalidInputError, explain } from '../../core/errors.js';
import { DeviceSite, type SiteConfigInput, type SiteRuntimeOptions } from './site.js';

/** The i-th usable IPv4 address from `base` (i = 0 is `base`), skipping .0 and .255. */
export function nthAddress(base: string, i: number): string {
  const parts = base.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new InvalidInputError(explain('device.notIpv4', { address: base }));
  let n = ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
  let left = i;
  while (true) {
    const last = n & 0xff;
    if (last !== 0 && last !== 255) {
      if (left === 0) break;
      left--;
    }
    n++;
    if (n > 0xffffffff) throw new InvalidInputError(explain('device.addressOverflow', { base }));
  }
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

export interface SitesOptions {
  count: number;
  baseAddress: string;
  /** Configuration shared by every site (address is set per site; seed varies per site). */
  template: Omit<SiteConfigInput, 'address'>;
  /** Sites started at once (default 32). */
  concurrency?: number;
}

/** Starts `count` sites; if one fails to start, the ones started are closed and the error thrown. */
export async function startSites(options: SitesOptions, runtime: SiteRuntimeOptions = {}): Promise<DeviceSite[]> {
  if (!Number.isInteger(options.count) || options.count < 1 || options.count > 20_000) throw new InvalidInputError(explain('device.countRange', { count: options.count }));
  const sites: DeviceSite[] = [];
  const batch = options.concurrency ?? 32;
  try {
    for (let i = 0; i < options.count; i += batch) {
      const settled = await Promise.allSettled(
        Array.from({ length: Math.min(batch, options.count - i) }, (_, k) =>
          DeviceSite.start({ ...options.template, address: nthAddress(options.baseAddress, i + k), seed: (options.template.seed ?? 1) + i + k }, runtime)),
      );
      for (const r of settled) if (r.status === 'fulfilled') sites.push(r.value);
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  } catch (err) {
    await Promise.all(sites.map((s) => s.close()));
    throw err;
  }
  return sites;
}
