/**
 * The CRL each role checks peers against is present, parses, is signed by its CA, and is fresh
 * (before its nextUpdate and younger than the profile's crlMaxAgeHours).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RevocationList } from '../../security/pki/crl.js';
import type { Check, Evidence } from '../registry.js';
import { tlsFileSets } from './tls-files.js';

export const crlFreshCheck: Check = {
  id: 'crl.fresh',
  title: 'Revocation lists present and fresh',
  reads: "role configs' tls.crlFile, the CRL's thisUpdate/nextUpdate",
  async run(ctx) {
    const sets = tlsFileSets(ctx);
    if (sets.length === 0) return { status: 'not-applicable', evidence: [{ source: 'role configs', observed: 'no TLS configuration declared', at: ctx.now }] };
    const seen = new Set<string>();
    const evidence: Evidence[] = [];
    let ok = true;
    for (const s of sets) {
      const key = `${s.crlFile ?? ''}|${s.caFile ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (!s.crlFile) { ok = false; evidence.push({ source: s.field, observed: `${s.owner}: no crlFile configured: revoked peers would be admitted`, at: ctx.now }); continue; }
      try {
        const cas = (readFileSync(s.caFile ?? '', 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b));
        const crl = await RevocationList.fromPem(readFileSync(s.crlFile, 'utf8'), cas, s.crlFile);
        const ageH = (ctx.now - crl.thisUpdate.getTime()) / 3_600_000;
        const fresh = !crl.isStale(ctx.now) && ageH <= ctx.profile.crlMaxAgeHours;
        if (!fresh) ok = false;
        evidence.push({ source: s.crlFile, observed: `${s.owner}: CRL issued ${crl.thisUpdate.toISOString()} (${ageH.toFixed(1)} h old), next update ${crl.nextUpdate?.toISOString() ?? 'none'}; ${fresh ? 'fresh' : `STALE (limit ${ctx.profile.crlMaxAgeHours} h or past nextUpdate)`}`, at: ctx.now });
      } catch (err) {
        ok = false;
        evidence.push({ source: s.crlFile, observed: `${s.owner}: ${(err as Error).message}`, at: ctx.now });
      }
    }
    return { status: ok ? 'satisfied' : 'not-satisfied', evidence };
  },
};
