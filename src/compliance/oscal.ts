/**
 * OSCAL 1.1 outputs: the System Security Plan (what is implemented, how: by check or by decision)
 * and the Assessment Results (each check's observation with its evidence, each control's finding).
 * UUIDs are v4-shaped; the document ones are random, the per-control ones derived so that two
 * reports of one system can be compared.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Assessment, ControlAssessment } from './assess.js';
import type { ComplianceProfile } from './profile.js';

const NS = 'urn:erab:compliance';
const OSCAL_VERSION = '1.1.2';

function derivedUuid(s: string): string {
  const h = createHash('sha256').update(s).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[parseInt(h[16]!, 16) & 3]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
const iso = (ms: number) => new Date(ms).toISOString();
const prop = (name: string, value: string) => ({ name, ns: NS, value });

function metadata(title: string, at: number) {
  return { title, 'last-modified': iso(at), version: iso(at), 'oscal-version': OSCAL_VERSION };
}

function implementationText(a: ControlAssessment): string {
  const parts: string[] = [];
  if (a.checks.length) parts.push(`Automatic checks: ${a.checks.map((c) => `${c.id} (${c.result.status})`).join(', ')}.`);
  if (a.decision) {
    const d = a.decision;
    parts.push(`Decision ${d.kind} by ${d.approver} on ${iso(d.decidedAt).slice(0, 10)}, review by ${iso(d.reviewAt).slice(0, 10)}` +
      (d.reference ? `; procedure: ${d.reference}` : '') + (d.reason ? `; reason: ${d.reason}` : '') + (d.compensating ? `; compensating control: ${d.compensating}` : '') + '.');
  }
  if (!parts.length) parts.push('No automatic check and no decision recorded yet.');
  return parts.join(' ');
}

export function systemSecurityPlan(profile: ComplianceProfile, a: Assessment): Record<string, unknown> {
  const componentUuid = derivedUuid(`component:${profile.participant.id}`);
  return {
    'system-security-plan': {
      uuid: randomUUID(),
      metadata: metadata(`System Security Plan: ${profile.participant.name ?? profile.participant.id} (erab)`, a.at),
      'import-profile': { href: '#erab-compliance-profile' },
      'system-characteristics': {
        'system-ids': [{ id: profile.participant.id }],
        'system-name': profile.participant.name ?? profile.participant.id,
        description: `ERAB participant running ${profile.roles.join(', ')}${profile.kubun ? `; 自家用電気工作物 区分${profile.kubun}` : ''}.`,
        props: [...profile.roles.map((r) => prop('role', r)), ...(profile.kubun ? [prop('kubun', profile.kubun)] : [])],
        'system-information': {
          'information-types': [{
            title: 'Dispatch commands and telemetry',
            description: 'OpenADR events, reports and device telemetry exchanged on R1–R5.',
            'confidentiality-impact': { base: 'fips-199-moderate' },
            'integrity-impact': { base: 'fips-199-high' },
            'availability-impact': { base: 'fips-199-high' },
          }],
        },
        status: { state: 'operational' },
        'authorization-boundary': { description: 'The erab processes of the declared roles, their stores, audit logs and the interfaces R1–R5 they serve.' },
      },
      'system-implementation': {
        users: [{ uuid: derivedUuid(`user:operator:${profile.participant.id}`), title: 'Operator', 'role-ids': ['operator'] }],
        components: [{
          uuid: componentUuid, type: 'software', title: 'erab', description: 'erab ERAB platform (this build).', status: { state: 'operational' },
        }],
      },
      'control-implementation': {
        description: 'Implementation of the ERAB cybersecurity guideline Ver1.1 and the private-facility guideline, as assessed by erab from its live configuration and state.',
        'implemented-requirements': a.controls.map((c) => ({
          uuid: derivedUuid(`ir:${profile.participant.id}:${c.control.id}`),
          'control-id': c.control.id,
          props: [prop('level', c.control.appliedLevel), prop('status', c.status), prop('catalog', c.control.catalog)],
          'by-components': [{
            'component-uuid': componentUuid,
            uuid: derivedUuid(`bc:${profile.participant.id}:${c.control.id}`),
            description: implementationText(c),
            'implementation-status': { state: implementationState(c) },
          }],
        })),
      },
    },
  };
}

function implementationState(c: ControlAssessment): string {
  switch (c.status) {
    case 'satisfied': case 'implemented-by-process': return 'implemented';
    case 'compensating-control': return 'alternative';
    case 'not-applicable': return 'not-applicable';
    case 'not-adopted': return 'not-applicable';
    default: return 'planned';
  }
}

export function assessmentResults(profile: ComplianceProfile, a: Assessment): Record<string, unknown> {
  const observations = [...a.checks.entries()].map(([id, r]) => ({
    uuid: derivedUuid(`obs:${a.at}:${id}`),
    title: id,
    description: `Check ${id}: ${r.status}.`,
    props: [prop('check-id', id), prop('result', r.status)],
    methods: ['TEST'],
    types: ['control-objective'],
    'relevant-evidence': r.evidence.map((e) => ({ description: `${e.source}: ${e.observed} (read ${iso(e.at)})` })),
    collected: iso(r.evidence[0]?.at ?? a.at),
  }));
  const obsByCheck = new Map([...a.checks.keys()].map((id) => [id, derivedUuid(`obs:${a.at}:${id}`)]));
  const findings = a.controls.map((c) => ({
    uuid: derivedUuid(`finding:${a.at}:${c.control.id}`),
    title: `${c.control.label} ${c.control.title}`,
    description: `${c.status}: ${c.note}`,
    props: [prop('level', c.control.appliedLevel), prop('status', c.status)],
    target: {
      type: 'statement-id', 'target-id': `${c.control.id}_smt`,
      status: { state: c.status === 'satisfied' || c.status === 'implemented-by-process' || c.status === 'not-applicable' ? 'satisfied' : 'not-satisfied', reason: c.status },
    },
    ...(c.checks.length ? { 'related-observations': c.checks.map((k) => ({ 'observation-uuid': obsByCheck.get(k.id)! })) } : {}),
    ...(c.decision ? { remarks: implementationText(c) } : {}),
  }));
  return {
    'assessment-results': {
      uuid: randomUUID(),
      metadata: metadata(`Assessment Results: ${profile.participant.name ?? profile.participant.id} (erab compliance)`, a.at),
      'import-ap': { href: '#erab-automatic-checks' },
      results: [{
        uuid: randomUUID(),
        title: 'erab automatic assessment',
        description: 'Checks run by erab against its live configuration and state, joined with the recorded decisions.',
        start: iso(a.at),
        'reviewed-controls': { 'control-selections': [{ 'include-controls': a.controls.map((c) => ({ 'control-id': c.control.id })) }] },
        ...(observations.length ? { observations } : {}),
        ...(findings.length ? { findings } : {}),
      }],
    },
  };
}
