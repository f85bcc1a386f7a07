/**
 * Which TLS files each declared role uses on which interface, read from the role configs. Shared by
 * the interface, CRL and key-mode checks so that every check sees the same list.
 */
import type { CheckContext } from '../registry.js';

export interface TlsFileSet {
  /** e.g. "aggregator agg-1" */
  owner: string;
  /** The config field path, for evidence. */
  field: string;
  interfaces: string[];
  certFile: string;
  keyFile: string;
  caFile: string | undefined;
  crlFile: string | undefined;
}

export function tlsFileSets(ctx: CheckContext): TlsFileSet[] {
  const out: TlsFileSet[] = [];
  const roles = ctx.profile.roles;
  if (roles.includes('aggregator')) {
    const a = ctx.config('aggregator');
    if (a) {
      const kinds = new Set(a.upstream.map((u) => u.kind));
      const ifaces = ['R4'];
      if (kinds.has('tso')) ifaces.push('R1');
      if (kinds.has('retailer')) ifaces.push('R2');
      if (kinds.has('coordinator') || a.downstream.aggregators.length > 0) ifaces.push('R3');
      out.push({ owner: `aggregator ${a.id}`, field: `${ctx.configFile('aggregator')}#tls`, interfaces: ifaces, ...a.tls, caFile: a.tls.caFile, crlFile: a.tls.crlFile });
      a.upstream.forEach((u, i) => {
        if (u.tls) out.push({ owner: `aggregator ${a.id} → ${u.name}`, field: `${ctx.configFile('aggregator')}#upstream[${i}].tls`, interfaces: [u.kind === 'tso' ? 'R1' : u.kind === 'retailer' ? 'R2' : 'R3'], certFile: u.tls.certFile, keyFile: u.tls.keyFile, caFile: a.tls.caFile, crlFile: a.tls.crlFile });
      });
    }
  }
  for (const role of ['tso', 'retailer'] as const) {
    if (!roles.includes(role)) continue;
    const t = ctx.config(role);
    if (t) out.push({ owner: `${t.kind} ${t.id}`, field: `${ctx.configFile(role)}#tls`, interfaces: [t.kind === 'tso' ? 'R1' : 'R2'], ...t.tls, caFile: t.tls.caFile, crlFile: t.tls.crlFile });
  }
  if (roles.includes('ems')) {
    const g = ctx.config('gateway');
    if (g) out.push({ owner: `gateway ${g.gatewayId}`, field: `${ctx.configFile('gateway')}#tls`, interfaces: ['R4'], ...g.tls, caFile: g.tls.caFile, crlFile: g.tls.crlFile });
  }
  return out;
}
