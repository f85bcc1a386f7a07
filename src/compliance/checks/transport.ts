/**
 * ERAB §3.3 (R1–R4, 勧告): mutual authentication and encryption. Per interface: every role on it has
 * a certificate that parses, is in its validity period and was issued by the configured CA, and the
 * interface's TLS profile allows TLS 1.2 or later only with no unauthenticated or export suites.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Check, CheckContext, CheckResult, Evidence } from '../registry.js';
import { tlsFileSets } from './tls-files.js';

const WEAK = /(^|:)(!?)(NULL|aNULL|eNULL|EXPORT|RC4|DES|MD5|PSK|SRP|anon)/i;

function readCerts(file: string): X509Certificate[] {
  const pem = readFileSync(file, 'utf8');
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${file} holds no PEM certificate`);
  return blocks.map((b) => new X509Certificate(b));
}

export function mutualTlsCheck(iface: 'R1' | 'R2' | 'R3' | 'R4'): Check {
  return {
    id: `tls.${iface.toLowerCase()}`,
    title: `${iface}: mutual TLS with certificates of our PKI`,
    reads: `role configs' tls.certFile/keyFile/caFile for ${iface}, the certificates themselves, TLS profile ${iface}`,
    async run(ctx: CheckContext): Promise<CheckResult> {
      const sets = tlsFileSets(ctx).filter((s) => s.interfaces.includes(iface));
      if (sets.length === 0) return { status: 'not-applicable', evidence: [{ source: 'profile roles and role configs', observed: `no declared role uses ${iface}`, at: ctx.now }] };
      const evidence: Evidence[] = [];
      let ok = true;
      const profile = ctx.tlsProfiles[iface];
      if (!profile) { ok = false; evidence.push({ source: `TLS profile ${iface}`, observed: 'no profile defined', at: ctx.now }); }
      else {
        const good = (profile.minVersion === 'TLSv1.2' || profile.minVersion === 'TLSv1.3') && !WEAK.test(profile.ciphers.split(':').filter((c) => !c.startsWith('!')).join(':'));
        if (!good) ok = false;
        evidence.push({ source: `TLS profile ${iface} (src/security/tls/profiles.ts)`, observed: `min ${profile.minVersion}, max ${profile.maxVersion}; ${good ? 'no weak suites' : 'WEAK: allows versions below TLS 1.2 or unauthenticated/weak suites'}; client certificate required on every listener`, at: ctx.now });
      }
      for (const s of sets) {
        try {
          if (!s.caFile) throw new Error('no caFile: peers cannot be authenticated');
          const cas = readCerts(s.caFile);
          const [cert] = readCerts(s.certFile);
          readFileSync(s.keyFile); // present and readable (its mode is the key-mode check's)
          const from = Date.parse(cert!.validFrom); const to = Date.parse(cert!.validTo);
          const issued = cas.some((ca) => cert!.checkIssued(ca) && cert!.verify(ca.publicKey));
          const valid = from <= ctx.now && ctx.now <= to;
          if (!issued || !valid) ok = false;
          evidence.push({ source: `${s.field} (${s.certFile})`, observed: `${s.owner}: certificate ${cert!.subject.replace(/\n/g, ', ')} valid ${cert!.validFrom} – ${cert!.validTo}${valid ? '' : ' (NOT VALID NOW)'}; ${issued ? `issued by the CA in ${s.caFile}` : `NOT issued by the CA in ${s.caFile}`}`, at: ctx.now });
        } catch (err) {
          ok = false;
          evidence.push({ source: s.field, observed: `${s.owner}: ${(err as Error).message}`, at: ctx.now });
        }
      }
      return { status: ok ? 'satisfied' : 'not-satisfied', evidence };
    },
  };
}
