/**
 * The access trail of personal data (ERAB §3.4; APPI: a data subject may ask who used their
 * data). Every read or export of personal data names an operator and a purpose, is checked
 * against an access policy (which operator may read, which may export), and is recorded in the
 * audit log: who, what (the subjects, by id: records reference personal data, never contain it),
 * why and when. A refused attempt is recorded too. `accessReport` answers a subject's request
 * from the audit log alone.
 *
 * Policy file (JSON):  { "operators": { "alice": ["read", "export", "erase"], "bob": ["read"] } }
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InvalidInputError, NotAuthorizedError } from '../../core/errors.js';
import type { AuditSink } from '../audit/types.js';
import { readRecords } from '../audit/export.js';

export const ACCESS_PERMISSIONS = ['read', 'export', 'erase'] as const;
export type AccessPermission = (typeof ACCESS_PERMISSIONS)[number];

const policySchema = z.object({
  operators: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/, 'must be an operator id'), z.array(z.enum(ACCESS_PERMISSIONS)).max(ACCESS_PERMISSIONS.length)),
}).strict();
export type AccessPolicy = z.output<typeof policySchema>;

/** The audit action of an access. */
export const ACCESS_ACTION: Record<AccessPermission, string> = { read: 'personal-data.read', export: 'personal-data.export', erase: 'personal-data.erase' };
/** More subjects than this are recorded as the access's scope rather than one by one (audit lines stay small). */
export const MAX_LISTED_SUBJECTS = 5000;

export function loadAccessPolicy(file: string): AccessPolicy {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InvalidInputError(`access policy ${file}: cannot read it as JSON (${(err as Error).message})`);
  }
  const r = policySchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new InvalidInputError(`access policy ${file}: ${i.path.join('.') || '(top)'} ${i.message}`);
  }
  return r.data;
}

/** A purpose a person can read later: 3..200 characters, one line. */
export function checkPurpose(purpose: string | undefined): string {
  const p = purpose?.trim() ?? '';
  if (p.length < 3 || p.length > 200 || /[\r\n]/.test(p)) {
    throw new InvalidInputError('--purpose is required to read personal data: 3..200 characters on one line saying why (e.g. "customer call #1234")');
  }
  return p;
}

export interface AccessRequest {
  operator: string;
  permission: AccessPermission;
  purpose: string;
  /** The command or interface, e.g. "aggregator portfolio export". */
  via: string;
  /** The filter as given (pool, site, search), for the record. */
  filter?: Record<string, string>;
}

/**
 * Checks the policy; a refusal is audited and thrown (NotAuthorizedError). Returns `record`, to
 * call once the data was read with the subjects it held (or with the error that stopped it).
 */
export function authorizeAccess(policy: AccessPolicy | undefined, req: AccessRequest, audit: AuditSink): (outcome: { subjects: readonly string[]; scope?: string } | { error: string }) => void {
  const actor = { kind: 'operator' as const, id: req.operator };
  const base = { actor, action: ACCESS_ACTION[req.permission], target: req.via };
  const allowed = policy?.operators[req.operator]?.includes(req.permission) ?? false;
  if (!allowed) {
    const reason = policy
      ? `operator ${req.operator} is not permitted to ${req.permission} personal data`
      : 'no access policy is configured (--access-policy or ERAB_PRIVACY_ACCESS_POLICY): nobody may read personal data';
    audit.append({ ...base, outcome: 'refused', reason, details: { purpose: req.purpose, ...(req.filter ? { filter: req.filter } : {}) } });
    throw new NotAuthorizedError(reason, { code: 'personal_data_refused' });
  }
  return (outcome) => {
    if ('error' in outcome) {
      audit.append({ ...base, outcome: 'failure', reason: outcome.error, details: { purpose: req.purpose, ...(req.filter ? { filter: req.filter } : {}) } });
      return;
    }
    const subjects = [...new Set(outcome.subjects)].sort();
    const listed = subjects.length <= MAX_LISTED_SUBJECTS;
    audit.append({
      ...base,
      outcome: 'success',
      details: {
        purpose: req.purpose,
        ...(req.filter ? { filter: req.filter } : {}),
        subjectCount: subjects.length,
        ...(listed ? { subjects } : { scope: outcome.scope ?? 'all' }),
      },
    });
  };
}

export interface AccessEntry {
  index: number;
  time: string;
  operator: string;
  action: string;
  outcome: string;
  purpose: string;
  via: string;
  reason?: string;
  /** How the subject is covered: listed by id, or by a bulk access's scope. */
  match: 'listed' | 'scope';
  scope?: string;
}

/**
 * Every recorded access that covered `subject` (listed by id, or a bulk access whose scope
 * includes it; `inScope` decides for scopes other than "all"), plus refused attempts whose
 * filter named it.
 */
export function accessReport(auditDir: string, subject: string, inScope: (scope: string) => boolean = (s) => s === 'all'): AccessEntry[] {
  const actions = new Set(Object.values(ACCESS_ACTION));
  const out: AccessEntry[] = [];
  for (const { record } of readRecords(auditDir)) {
    if (!record || !actions.has(record.action)) continue;
    const d = (record.details ?? {}) as { purpose?: string; subjects?: string[]; scope?: string; filter?: Record<string, string> };
    let match: AccessEntry['match'] | undefined;
    if (Array.isArray(d.subjects) && d.subjects.includes(subject)) match = 'listed';
    else if (typeof d.scope === 'string' && inScope(d.scope)) match = 'scope';
    else if (record.outcome !== 'success' && d.filter && Object.values(d.filter).includes(subject)) match = 'listed';
    if (!match) continue;
    out.push({
      index: record.index, time: record.time, operator: record.actor.id, action: record.action, outcome: record.outcome,
      purpose: d.purpose ?? '', via: record.target ?? '', match,
      ...(record.reason ? { reason: record.reason } : {}), ...(d.scope ? { scope: d.scope } : {}),
    });
  }
  return out;
}
