/**
 * The gateway's own software, replaced by a signed package (自家用GL 7-1, ERAB §3.6; issue 13).
 * The gateway runs from a release folder its launcher (systemd `ExecStart=<dir>/current/bin/erab.js
 * gateway run ...`) starts; `updates.softwareDir` holds:
 *
 *   releases/<version>/...   one folder per installed release (the package's files)
 *   current  -> releases/<v> the release the launcher starts (a symlink, swapped atomically)
 *   previous -> releases/<v> the release before it (what a rollback returns to)
 *   pending.json             written at the switch, removed when the new release has started and
 *                            confirmed itself (`confirmRelease`); still there after a failed start
 *                            means the launcher should `rollbackRelease` (erab gateway software rollback)
 *
 * Staging verifies every file on disk against its signed SHA-256, then the staged release must
 * pass the health check (its own `bin/erab.js --version` runs and names the package's version)
 * before `current` points at it; the check is repeated through `current`, and a failure there
 * points `current` back. Nothing of a refused package reaches `current`.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describeError } from '../../core/errors.js';

export interface ReleaseFiles {
  version: string;
  files: readonly { name: string; sha256: string }[];
  contents: ReadonlyMap<string, Buffer>;
}

/** The version `current` points at, or undefined when no release was installed by a package. */
export function currentRelease(dir: string): string | undefined {
  try {
    return basename(readlinkSync(join(dir, 'current')));
  } catch {
    return undefined;
  }
}

/** Points `link` at `releases/<version>` atomically (a new symlink renamed over the old one). */
function pointAt(dir: string, link: 'current' | 'previous', version: string): void {
  const tmp = join(dir, `.${link}-${randomBytes(4).toString('hex')}`);
  symlinkSync(join('releases', version), tmp);
  renameSync(tmp, join(dir, link));
}

/**
 * Writes a release into `releases/<version>` and checks every file read back from disk against
 * its signed hash. Throws (naming the file) and leaves nothing behind when one differs.
 */
export function stageRelease(dir: string, r: ReleaseFiles): string {
  const releases = join(dir, 'releases');
  mkdirSync(releases, { recursive: true });
  const staging = join(releases, `.staging-${r.version}-${randomBytes(4).toString('hex')}`);
  try {
    for (const f of r.files) {
      const target = join(staging, f.name);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, r.contents.get(f.name)!, { mode: f.name.startsWith('bin/') ? 0o755 : 0o644 });
      const onDisk = createHash('sha256').update(readFileSync(target)).digest('hex');
      if (onDisk !== f.sha256) throw new Error(`staged ${f.name} does not match its signed SHA-256`);
    }
    const final = join(releases, r.version);
    rmSync(final, { recursive: true, force: true }); // a half-installed earlier try of the same version
    renameSync(staging, final);
    return final;
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The health check of a release: `node <release>/bin/erab.js --version` exits 0 and prints
 * `version`. Resolves to undefined when healthy, else the reason.
 */
export function checkRelease(releaseDir: string, version: string, timeoutMs = 30_000): Promise<string | undefined> {
  const bin = join(releaseDir, 'bin', 'erab.js');
  if (!existsSync(bin)) return Promise.resolve(`${bin} is missing`);
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, '--version'], { timeout: timeoutMs, cwd: releaseDir, env: { PATH: process.env.PATH ?? '' } }, (err, stdout, stderr) => {
      if (err) return resolve(`bin/erab.js --version failed: ${describeError(err).slice(0, 300)}${stderr ? ` (${stderr.trim().slice(0, 300)})` : ''}`);
      const said = stdout.trim();
      resolve(said === version ? undefined : `bin/erab.js --version printed ${JSON.stringify(said.slice(0, 64))}, not ${version}`);
    });
  });
}

/** Makes `version` current (the old current becomes previous) and records the switch as pending. */
export function switchRelease(dir: string, version: string, at: Date): { previous: string | undefined } {
  const previous = currentRelease(dir);
  if (previous !== undefined) pointAt(dir, 'previous', previous);
  pointAt(dir, 'current', version);
  writeFileSync(join(dir, 'pending.json'), `${JSON.stringify({ version, previous: previous ?? null, switchedAt: at.toISOString() })}\n`);
  return { previous };
}

/** Points `current` back at `previous` (or at `to`); removes the pending mark. Returns the release now current. */
export function rollbackRelease(dir: string, to?: string): string | undefined {
  const target = to ?? (() => {
    try {
      return basename(readlinkSync(join(dir, 'previous')));
    } catch {
      return undefined;
    }
  })();
  if (target === undefined) {
    // Nothing to return to: no package-installed release before; the launcher's own install stays.
    rmSync(join(dir, 'current'), { force: true });
  } else {
    pointAt(dir, 'current', target);
  }
  rmSync(join(dir, 'pending.json'), { force: true });
  return target;
}

/** The switch waiting for the new release to confirm itself, if any. */
export function pendingRelease(dir: string): { version: string; previous: string | null } | undefined {
  try {
    const p = JSON.parse(readFileSync(join(dir, 'pending.json'), 'utf8')) as { version?: unknown; previous?: unknown };
    return typeof p.version === 'string' ? { version: p.version, previous: typeof p.previous === 'string' ? p.previous : null } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Called by a gateway that started: when the pending release is the one running, the switch is
 * confirmed (the mark removed). Returns what happened, for the audit log.
 */
export function confirmRelease(dir: string, runningVersion: string): 'confirmed' | 'not-running' | 'none' {
  const p = pendingRelease(dir);
  if (!p) return 'none';
  if (p.version !== runningVersion) return 'not-running';
  rmSync(join(dir, 'pending.json'), { force: true });
  return 'confirmed';
}
