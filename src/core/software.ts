/**
 * The software a running erab process is made of (issue 13: each role reports its own): its erab
 * version, the Node.js version it runs on and the npm packages installed beside it. Read from the
 * installation of the running process — `node_modules/.package-lock.json`, the tree npm actually
 * installed, else `package-lock.json` (lockfileVersion 2 or 3, the `packages` map) — never from a
 * checkout some other command happens to run in. Dev dependencies are left out: they do not run
 * in a role. Each package has a purl; dependencies are resolved the way Node resolves them
 * (nearest node_modules up).
 *
 * Lives in core because every role reports it (roles may not import secops, which records it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PackageURL } from 'packageurl-js';
import { InvalidInputError, describeError } from './errors.js';

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

/** `pkg:npm/<name>@<version>` (scoped names keep their namespace). */
export function npmPurl(name: string, version: string | undefined): string {
  const slash = name.startsWith('@') ? name.indexOf('/') : -1;
  const ns = slash > 0 ? name.slice(0, slash) : undefined;
  const n = slash > 0 ? name.slice(slash + 1) : name;
  return new PackageURL('npm', ns, n, version, undefined, undefined).toString();
}

/**
 * The folder of the erab installation this code runs from (the nearest package.json up from this
 * module), so a role reports the software it was started from.
 */
export function installRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) {
      try {
        if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === 'erab') return dir;
      } catch {
        // not ours; keep looking up
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new InvalidInputError(`software inventory: no erab package.json above ${from}`);
    dir = up;
  }
}

type LockEntry = { name?: string; version?: string; dev?: boolean; devOptional?: boolean; link?: boolean; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
type Lock = { name?: string; version?: string; packages?: Record<string, LockEntry> };

async function readJson<T>(file: string): Promise<T> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    throw new InvalidInputError(`software inventory: cannot read ${file}: ${describeError(err)}`);
  }
}

/**
 * Reads the software report of the erab installed at `root` (the folder with package.json).
 * @throws InvalidInputError when neither lock file is readable
 * @example const report = await readInstalledSoftware(installRoot(), 'gateway');
 */
export async function readInstalledSoftware(root: string, role: string, nodeVersion = process.versions.node): Promise<SoftwareReport> {
  const hidden = join(root, 'node_modules', '.package-lock.json');
  const lockFile = existsSync(hidden) ? hidden : join(root, 'package-lock.json');
  const lock = await readJson<Lock>(lockFile);
  const pkgs = lock.packages;
  if (!pkgs || typeof pkgs !== 'object') throw new InvalidInputError(`software inventory: ${lockFile} has no "packages" map (lockfileVersion 2 or 3 needed)`);
  // The hidden lock file has no root entry: the root's name, version and dependencies are package.json's.
  const rootEntry: LockEntry = pkgs[''] ?? await readJson<LockEntry>(join(root, 'package.json'));
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
  const erabName = rootEntry.name ?? lock.name ?? 'erab';
  const erabVersion = rootEntry.version ?? lock.version ?? '0.0.0';
  const packages: SoftwarePackage[] = [];
  for (const [path, e] of Object.entries(pkgs)) {
    // devOptional: a dev dependency that some optional peer also names (typescript, under Fastify's
    // type packages): it is installed for development, it does not run in a role.
    if (path === '' || e.link || !e.version || e.dev || e.devOptional) continue;
    packages.push({ name: nameOf(path, e), version: e.version, purl: purlOf.get(path)!, dependsOn: deps(path, e) });
  }
  return {
    role,
    erab: { name: erabName, version: erabVersion, purl: npmPurl(erabName, erabVersion), dependsOn: deps('', { ...rootEntry, optionalDependencies: {} }).filter((p) => packages.some((x) => x.purl === p)) },
    node: nodeVersion,
    packages,
  };
}
