/**
 * Running a guide's shell steps (docs/production.md, deploy/compose): `/bin/sh -e -c <script>`
 * with the guide's environment, its output kept for the assertion's message. `sh` waits without
 * blocking (the guide test runs services beside it); `shSync` is for a polling predicate.
 */
import { spawn, spawnSync } from 'node:child_process';

/** A finished command: its exit code and what it printed. */
export interface Ran { code: number | null; out: string; err: string }

/** Runs `cmd args` to completion (output up to 64 MiB). */
export function runSync(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Ran {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}

/** Runs a script with `sh -e` (stops at the first failing command) and waits for it. */
export function sh(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const p = spawn('/bin/sh', ['-e', '-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    p.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

/** {@link sh}, blocking: for a check inside a polling predicate. */
export function shSync(script: string, cwd: string, env: NodeJS.ProcessEnv): Ran {
  return runSync('/bin/sh', ['-e', '-c', script], env, cwd);
}
