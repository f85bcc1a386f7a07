/**
 * Telling everyone an advisory affects, at once (ERAB guideline §3.2 勧告, issue 13): the active
 * findings of one advisory name the affected sites; their contacts plus the participant-level
 * contacts (the aggregator's operator, a downstream aggregator: no site) receive ONE notice
 * (one timestamp) through the notifier, and the findings move to `notified`. Each recipient is
 * told only the sites that concern it (see {@link AdvisoryNoticeOptions.notifierId}).
 *
 * Lives at the secops root because it joins two modules that do not know each other: matching
 * (who is affected) and notify (how to reach them).
 */
import type { Kysely } from 'kysely';
import type { AuditActor, AuditSink } from '../core/audit-port.js';
import { InvalidInputError } from '../core/errors.js';
import { markNotified } from './matching/findings.js';
import { findingsByAdvisory, type FindingView } from './matching/query.js';
import type { ContactRegistry } from './notify/contacts.js';
import type { Notifier, NotifyResult } from './notify/notifier.js';
import type { VulnerabilityNoticeData } from './notify/templates.js';
import type { Contact } from './notify/types.js';
import type { SecopsTables } from './tables.js';

export interface AdvisoryNoticeOptions {
  actor: AuditActor;
  /** Deadline for the countermeasure, epoch ms. */
  deadline: number;
  /** Countermeasure text; default: the advisory's fix, else a generic instruction. */
  countermeasure?: string;
  /** Participant-level contacts of this participant only (default: every participant-level contact). */
  participantId?: string;
  /**
   * The participant sending the notice (the aggregator's id): its own participant-level contacts
   * are told every affected site. Every other recipient is told only its own: a site's contact its
   * site, a participant-level contact the sites of its participant (those with a contact of it).
   */
  notifierId?: string;
  audit?: AuditSink;
}

export interface AdvisoryNoticeResult extends NotifyResult {
  advisoryId: string;
  title: string;
  /** Affected site ids, sorted. */
  sites: string[];
  findings: FindingView[];
  recipients: Contact[];
}

const DEFAULT_COUNTERMEASURE = 'Apply the fixed firmware or software offered as a signed update; until then, restrict network access to the affected equipment.';

/** One line of at most `max` characters (the template refuses line breaks). */
const oneLine = (s: string, max = 500): string => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

const productLine = (f: FindingView): string => {
  const what = [f.asset.makerCode, f.asset.productCode].filter(Boolean).join('/') || f.asset.name;
  return oneLine(`${what} ${f.asset.kind === 'software' || f.asset.kind === 'gateway' ? 'version' : 'firmware'} ${f.affectedRange}`);
};

/**
 * The template's data for the findings of one advisory. With `siteParticipants` (site → the
 * participants it belongs to), the data carries per-site scopes, so each recipient is told only
 * its own sites (templates.ts `forRecipient`).
 */
export function advisoryNoticeData(
  findings: readonly FindingView[],
  sites: readonly string[],
  opts: Pick<AdvisoryNoticeOptions, 'deadline' | 'countermeasure' | 'notifierId'> & { siteParticipants?: ReadonlyMap<string, readonly string[]> },
): VulnerabilityNoticeData {
  const first = findings[0]!;
  const products = [...new Set(findings.map(productLine))].slice(0, 200);
  const worst = findings.reduce((a, b) => ((b.cvssScore ?? -1) > (a.cvssScore ?? -1) ? b : a));
  const fixes = [...new Set(findings.map((f) => f.fix).filter((x): x is string => !!x))];
  return {
    advisoryId: first.advisory.id,
    title: oneLine(first.advisory.title || first.advisory.id),
    affectedProducts: products,
    affectedSites: [...sites],
    cvss: { score: worst.cvssScore ?? 0, ...(worst.cvssVector ? { vector: oneLine(worst.cvssVector, 200) } : {}) },
    countermeasure: (opts.countermeasure ?? (fixes.join('\n') || DEFAULT_COUNTERMEASURE)).slice(0, 4000),
    deadline: opts.deadline,
    ...(opts.siteParticipants ? {
      siteScopes: sites.map((site) => ({
        site,
        participants: [...(opts.siteParticipants!.get(site) ?? [])].slice(0, 100),
        products: [...new Set(findings.filter((f) => f.asset.siteId === site).map(productLine))].slice(0, 200),
      })),
    } : {}),
    ...(opts.notifierId !== undefined ? { notifierId: opts.notifierId } : {}),
  };
}

/**
 * Notifies every recipient an advisory concerns, in one `notifyAll`, and marks its open findings
 * notified. Throws (naming the advisory) when it has no active finding or nobody to tell.
 * @example const r = await notifyAdvisory(db, { notifier, contacts }, 'CVE-2026-10001', { actor, deadline: Date.now() + 14 * 86_400_000, audit });
 */
export async function notifyAdvisory(
  db: Kysely<SecopsTables>,
  via: { notifier: Notifier; contacts: ContactRegistry },
  advisory: string,
  opts: AdvisoryNoticeOptions,
): Promise<AdvisoryNoticeResult> {
  const groups = await findingsByAdvisory(db, advisory);
  const findings = groups.flatMap((g) => g.gateways.flatMap((gw) => gw.findings));
  if (findings.length === 0) throw new InvalidInputError(`advisory ${advisory}: no active finding (see erab vuln findings --advisory ${advisory}); nobody to notify`);
  const sites = groups.map((g) => g.siteId).filter((s): s is string => s !== null).sort();
  const siteContacts = (await Promise.all(sites.map((siteId) => via.contacts.list({ siteId })))).flat();
  const participantContacts = (await via.contacts.list(opts.participantId !== undefined ? { participantId: opts.participantId } : {}))
    .filter((c) => c.siteId === undefined || c.siteId === null);
  const recipients = [...new Map([...siteContacts, ...participantContacts].map((c) => [c.id, c])).values()];
  if (recipients.length === 0) {
    throw new InvalidInputError(`advisory ${advisory}: no contact registered for the affected sites (${sites.join(', ') || 'none'}) nor at participant level (erab notify contacts add)`);
  }
  // A site belongs to the participants its contacts are registered under.
  const siteParticipants = new Map<string, string[]>(sites.map((s) => [s, [...new Set(siteContacts.filter((c) => c.siteId === s).map((c) => c.participantId))]]));
  const data = advisoryNoticeData(findings, sites, { ...opts, siteParticipants });
  const result = await via.notifier.notifyAll({ template: 'vulnerability', subject: data.advisoryId, data: data as unknown as Record<string, unknown> }, recipients, opts.actor);
  await markNotified(db, findings.map((f) => f.id), opts.actor, opts.audit ? { audit: opts.audit } : {});
  opts.audit?.append({
    actor: opts.actor, action: 'vuln.advisory.notify', target: data.advisoryId, outcome: 'success',
    details: { noticeId: result.notice.id, issuedAt: new Date(result.notice.issuedAt).toISOString(), sites, findings: findings.length, recipients: recipients.length, deliveries: result.deliveries.length },
  });
  return { ...result, advisoryId: data.advisoryId, title: data.title, sites, findings, recipients };
}
