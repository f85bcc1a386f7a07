/**
 * erab's own software as an inventory: the role's erab version, the Node.js version and the
 * npm dependency tree that is installed, read from package-lock.json (lockfileVersion 2 or 3,
 * the `packages` map) — dev dependencies are left out, they do not run in a role. Each package
 * has a purl; dependencies are resolved the way Node resolves them (nearest node_modules up).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { InvalidInputError, describeError } from '../../core/errors.js';
import { type Clock, systemClock } from '../../core/clock.js';
import type { SecopsTables } from '../tables.js';
import { applyAssets, type ApplyResult, type AssetInput } from './apply.js';
import { nodeCpe, npmPurl } from './identifiers.js';

export interface SoftwarePackage {
  name: string;
  version: string;
  purl: string;
  /** Purls of the packages it depends on (resolved). */
  dependsOn: string[];
}

export interface SoftwareReport {
  role: string;
  erab: SoftwarePackage;
  node: string;
  packages: SoftwarePackage[];
}

type LockEntry = { name?: string; version?: string; dev?: boolean; devOptional?: boolean; link?: boolean; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };

/**
 * Reads the software report of the erab installed at `root` (the folder with package.json).
 * @throws InvalidInputError when the lock file is missing or unreadable
 */
export async function readSoftwareReport(root: string, role: string, nodeVersion = process.versions.node): Promise<SoftwareReport> {
  let lock: { packages?: Record<string, LockEntry> };
  try {
    lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as typeof lock;
  } catch (err) {
    throw new InvalidInputError(`software inventory: cannot read ${join(root, 'package-lock.json')}: ${describeError(err)}`);
  }
  const pkgs = lock.packages;
  if (!pkgs || typeof pkgs !== 'object' || !pkgs['']) throw new InvalidInputError(`software inventory: ${join(root, 'package-lock.json')} has no "packages" map (lockfileVersion 2 or 3 needed)`);
  const nameOf = (path: string, e: LockEntry) => e.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const purlOf = new Map<string, string>();
  for (const [path, e] of Object.entries(pkgs)) if (path !== '' && !e.link && e.version) purlOf.set(path, npmPurl(nameOf(path, e), e.version));
  /** Node's resolution: <dir>/node_modules/<dep>, then each parent's. */
  const resolve = (from: string, dep: string): string | undefined => {
    let base = from;
    for (;;) {
      const p = base === '' ? `node_modules/${dep}` : `${base}/node_modules/${dep}`;
      if (purlOf.has(p)) return p;
      if (base === '') return undefined;
      const i = base.lastIndexOf('/node_modules/');
      base = i < 0 ? '' : base.slice(0, i);
    }
  };
  const deps = (path: string, e: LockEntry) => Object.keys({ ...e.dependencies, ...e.optionalDependencies }).map((d) => resolve(path, d)).filter((p): p is string => p !== undefined).map((p) => purlOf.get(p)!);
  const rootEntry = pkgs['']!;
  const erabName = rootEntry.name ?? 'erab';
  const packages: SoftwarePackage[] = [];
  for (const [path, e] of Object.entries(pkgs)) {
    if (path === '' || e.link || !e.version || e.dev) continue;
    packages.push({ name: nameOf(path, e), version: e.version, purl: purlOf.get(path)!, dependsOn: deps(path, e) });
  }
  return {
    role,
    erab: { name: erabName, version: rootEntry.version ?? '0.0.0', purl: npmPurl(erabName, rootEntry.version), dependsOn: deps('', { ...rootEntry, optionalDependencies: {} }).filter((p) => packages.some((x) => x.purl === p)) },
    node: nodeVersion,
    packages,
  };
}

export const roleAssetId = (role: string) => `participant:${role}`;
export const softwareAssetId = (role: string, purl: string) => `software:${role}:${purl}`;

/** Records a role's software report in the inventory (role as participant, its software under it). */
export async function recordSoftware(db: Kysely<SecopsTables>, report: SoftwareReport, opts: { clock?: Clock } = {}): Promise<ApplyResult> {
  const now = (opts.clock ?? systemClock).now();
  const base = { site_id: null, gateway_id: null, maker_code: null, product_code: null, serial_number: null, present: 1 };
  const erabId = softwareAssetId(report.role, report.erab.purl);
  const assets: AssetInput[] = [
    { ...base, id: roleAssetId(report.role), kind: 'participant', management_no: report.role, name: `erab ${report.role}`, class: 'role', version: report.erab.version, cpe: null, purl: null, parent_id: null },
    { ...base, id: erabId, kind: 'software', management_no: report.erab.purl, name: report.erab.name, class: 'application', version: report.erab.version, cpe: null, purl: report.erab.purl, parent_id: roleAssetId(report.role) },
    { ...base, id: softwareAssetId(report.role, 'node'), kind: 'software', management_no: 'node', name: 'Node.js', class: 'runtime', version: report.node, cpe: nodeCpe(report.node), purl: `pkg:generic/node@${report.node}`, parent_id: roleAssetId(report.role) },
  ];
  const seen = new Set<string>();
  for (const p of report.packages) {
    if (seen.has(p.purl)) continue;
    seen.add(p.purl);
    assets.push({ ...base, id: softwareAssetId(report.role, p.purl), kind: 'software', management_no: p.purl, name: p.name, class: 'library', version: p.version, cpe: null, purl: p.purl, parent_id: erabId });
  }
  return applyAssets(db, { prefixes: [`software:${report.role}:`], ids: [roleAssetId(report.role)] }, assets, now);
}
