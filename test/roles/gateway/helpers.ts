/** Shared helpers of the gateway's end-to-end tests. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '../../../src/core/clock.js';
import type { EpochMillis } from '../../../src/core/units.js';
import { CertificateAuthority, type IssuedCertificate } from '../../../src/security/pki/index.js';

/**
 * A clock that runs `speed` times faster than real time, with real timers scaled down: the
 * whole system (VTN, gateway, simulators) shares it, so a simulated minute of outage takes
 * 60/speed real seconds while every component still sees consistent instants.
 */
export class AcceleratedClock implements Clock {
  private readonly realStart = Date.now();
  constructor(readonly speed: number, private readonly simStart = Date.now()) {}
  now(): EpochMillis {
    return (this.simStart + (Date.now() - this.realStart) * this.speed) as EpochMillis;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, Math.max(0, ms / this.speed));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  }
}

/** Resolves when `cond` holds, polling every 25 ms; rejects with `what` after `realMs`. */
export async function waitFor<T>(what: string, cond: () => T | undefined | false | Promise<T | undefined | false>, realMs = 30_000): Promise<T> {
  const until = Date.now() + realMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${realMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Pki {
  dir: string;
  ca: CertificateAuthority;
  caFile: string;
  issue(role: 'aggregator' | 'gateway', id: string): Promise<IssuedCertificate & { certFile: string; keyFile: string }>;
}

/** A fresh CA in a temporary directory; issued certificates are written as files too. */
export async function makePki(prefix: string): Promise<Pki> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ca = await CertificateAuthority.create();
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.certPem);
  return {
    dir,
    ca,
    caFile,
    async issue(role, id) {
      const c = await ca.issue({ role, id });
      const certFile = join(dir, `${role}-${id}.pem`);
      const keyFile = join(dir, `${role}-${id}.key`);
      writeFileSync(certFile, c.certPem);
      writeFileSync(keyFile, c.keyPem, { mode: 0o600 });
      return { ...c, certFile, keyFile };
    },
  };
}
