/**
 * The tamper-evident audit logs of the declared roles verify (src/security/audit verify), and each
 * log is handed to a witness (witnessIntervalMs > 0 with somebody to witness it).
 */
import { existsSync } from 'node:fs';
import { verifyAuditLog } from '../../security/audit/verify.js';
import type { Check, CheckContext, Evidence } from '../registry.js';

function auditDirs(ctx: CheckContext): { owner: string; dir: string; field: string }[] {
  const out: { owner: string; dir: string; field: string }[] = [];
  const r = ctx.profile.roles;
  if (r.includes('aggregator')) { const a = ctx.config('aggregator'); if (a) out.push({ owner: `aggregator ${a.id}`, dir: a.audit.dir, field: `${ctx.configFile('aggregator')}#audit.dir` }); }
  for (const k of ['tso', 'retailer'] as const) if (r.includes(k)) { const t = ctx.config(k); if (t) out.push({ owner: `${t.kind} ${t.id}`, dir: t.audit.dir, field: `${ctx.configFile(k)}#audit.dir` }); }
  if (r.includes('ems')) { const g = ctx.config('gateway'); if (g) out.push({ owner: `gateway ${g.gatewayId}`, dir: g.audit.dir, field: `${ctx.configFile('gateway')}#audit.dir` }); }
  return out;
}

export const auditVerifyCheck: Check = {
  id: 'audit.verify',
  title: 'Audit logs are intact (Merkle tree and signed checkpoints verify)',
  reads: "the roles' audit log directories",
  async run(ctx) {
    const dirs = auditDirs(ctx);
    if (dirs.length === 0) return { status: 'not-applicable', evidence: [{ source: 'role configs', observed: 'no role configuration named', at: ctx.now }] };
    const evidence: Evidence[] = [];
    let ok = true;
    for (const d of dirs) {
      if (!existsSync(d.dir)) { ok = false; evidence.push({ source: d.field, observed: `${d.owner}: no audit log at ${d.dir}`, at: ctx.now }); continue; }
      const v = verifyAuditLog(d.dir);
      if (!v.ok) ok = false;
      evidence.push({ source: d.dir, observed: `${d.owner}: ${v.ok ? 'intact' : `FAILED: ${v.problems[0]?.message ?? 'problem'}`}; ${v.treeSize} records, ${v.checkpoints.valid}/${v.checkpoints.total} checkpoints valid, ${v.unanchored} not yet under a checkpoint; key from ${v.keySource}`, at: ctx.now });
    }
    return { status: ok ? 'satisfied' : 'not-satisfied', evidence };
  },
};

export const auditWitnessCheck: Check = {
  id: 'audit.witness',
  title: 'Audit checkpoints are handed to a witness',
  reads: 'aggregator audit.witnessIntervalMs and upstream parties; gateway audit.witnessIntervalMs',
  async run(ctx) {
    const evidence: Evidence[] = [];
    let ok = true; let applicable = false;
    if (ctx.profile.roles.includes('aggregator')) {
      const a = ctx.config('aggregator');
      if (a) {
        applicable = true;
        const good = a.audit.witnessIntervalMs > 0 && a.upstream.length > 0;
        if (!good) ok = false;
        evidence.push({ source: `${ctx.configFile('aggregator')}#audit.witnessIntervalMs`, observed: `every ${a.audit.witnessIntervalMs} ms to ${a.upstream.length} upstream parties${good ? '' : ' (NOT witnessed)'}`, at: ctx.now });
      }
    }
    if (ctx.profile.roles.includes('ems')) {
      const g = ctx.config('gateway');
      if (g) {
        applicable = true;
        const good = g.audit.witnessIntervalMs > 0;
        if (!good) ok = false;
        evidence.push({ source: `${ctx.configFile('gateway')}#audit.witnessIntervalMs`, observed: `every ${g.audit.witnessIntervalMs} ms to aggregator ${g.aggregator.id}${good ? '' : ' (NOT witnessed)'}`, at: ctx.now });
      }
    }
    if (!applicable) return { status: 'not-applicable', evidence: [{ source: 'profile roles', observed: 'the TSO and retailer witness others; no own log to hand over', at: ctx.now }] };
    return { status: ok ? 'satisfied' : 'not-satisfied', evidence };
  },
};
