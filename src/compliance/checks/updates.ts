/**
 * Signed updates (docs/updates.md; ERAB §3.6 update at once, 自家用GL 7-1(1) predetermined programs,
 * 8-4(3) patches): the aggregator offers signed packages from `updates.dir`, each gateway fetches
 * them (`updates.checkMs` > 0) and installs only what its own aggregator's code-signing
 * certificate signed; erab's own installed files are checked against the signed release manifest.
 */
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkReleaseIntegrity } from '../../secops/updates/release.js';
import type { Check, Evidence } from '../registry.js';

/** The installed package: dist/compliance/checks → the package root (as src/cli/main.ts finds it). */
const INSTALL_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** erab's own code against its release manifest; a development checkout (no manifest) is reported, not failed. */
function ownCode(now: number): { ok: boolean; evidence: Evidence } {
  try {
    const r = checkReleaseIntegrity(INSTALL_ROOT, { env: { ...process.env, ERAB_ALLOW_MODIFIED_CODE: '' } });
    if (!r.checked) return { ok: true, evidence: { source: INSTALL_ROOT, observed: `erab's own code: ${r.reason}`, at: now } };
    const ok = r.modified.length === 0;
    return { ok, evidence: { source: INSTALL_ROOT, observed: `erab's own code: release ${r.version}, ${r.files} files signed by ${r.signer}; ${ok ? 'unmodified' : `MODIFIED: ${r.modified.slice(0, 3).join(', ')}`}`, at: now } };
  } catch (err) {
    return { ok: false, evidence: { source: INSTALL_ROOT, observed: `erab's own code: ${(err as Error).message}`, at: now } };
  }
}

export const signedUpdatesCheck: Check = {
  id: 'updates.signed',
  title: 'Updates reach the gateways as signed packages, and erab runs its signed release',
  reads: 'aggregator updates.dir; gateway updates.checkMs; the release manifest of the installed erab',
  async run(ctx) {
    const r = ctx.profile.roles;
    if (!r.includes('aggregator') && !r.includes('ems')) return { status: 'not-applicable', evidence: [{ source: 'profile roles', observed: 'updates are offered by an aggregator to its gateways', at: ctx.now }] };
    const evidence: Evidence[] = [];
    let ok = true;
    const a = r.includes('aggregator') ? ctx.config('aggregator') : undefined;
    if (a) {
      const dir = a.updates?.dir;
      const good = dir !== undefined && existsSync(dir) && statSync(dir).isDirectory();
      if (!good) ok = false;
      evidence.push({ source: `${ctx.configFile('aggregator')}#updates.dir`, observed: `aggregator ${a.id}: ${dir === undefined ? 'NO update channel (updates.dir not set): gateways cannot be updated' : good ? `signed packages offered from ${dir}` : `updates.dir ${dir} does NOT exist`}`, at: ctx.now });
    }
    const g = r.includes('ems') ? ctx.config('gateway') : undefined;
    if (g) {
      const good = g.updates.checkMs > 0;
      if (!good) ok = false;
      evidence.push({ source: `${ctx.configFile('gateway')}#updates.checkMs`, observed: `gateway ${g.gatewayId}: ${good ? `asks aggregator ${g.aggregator.id} for signed offers every ${g.updates.checkMs} ms` : 'NEVER asks for updates (checkMs 0)'}`, at: ctx.now });
    }
    if (!a && !g) return { status: 'not-satisfied', evidence: [{ source: 'profile configs', observed: 'no aggregator or gateway configuration named', at: ctx.now }] };
    const own = ownCode(ctx.now);
    if (!own.ok) ok = false;
    evidence.push(own.evidence);
    return { status: ok ? 'satisfied' : 'not-satisfied', evidence };
  },
};
