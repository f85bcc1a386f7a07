/**
 * The demo's vulnerability scene (issue 13, ERAB §3.2 and §3.6): a CSAF advisory for the
 * simulated battery's firmware is imported by each resource aggregator and matched to every
 * affected site; each aggregator tells all its sites at once (one notice, one timestamp, to each
 * site's EMS through its gateway over R4); a firmware package signed with the aggregator's
 * code-signing key is offered, the gateways verify and apply it, and the findings become
 * `patched` when the gateways report the new version.
 *
 * The aggregators do the secops work in their own processes (supervisor commands of
 * `erab aggregator run`, src/cli/commands/aggregator-secops.ts), so their audit logs record it;
 * this module (roles layer) never imports secops.
 */
import { formatJst } from '../../core/jst.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nullAudit } from '../../core/audit-port.js';
import { buildManifest, openPackage, signPackage } from '../../endpoints/openadr/update-package.js';
import { UpdateOffers } from '../../endpoints/openadr/update-offers.js';
import { parseCertificates } from '../../security/pki/pem.js';
import { openStore } from '../../store/store.js';
import { Portfolio } from '../aggregator/portfolio/portfolio.js';
import { aggregatorMigrations } from '../aggregator/runtime/r4-workers.js';
import type { Supervisor } from '../common/supervisor.js';
import { simulatedBatteryAdvisory } from './advisory.js';
import type { DemoLayout, SitePlan } from './layout.js';
import { IDS } from './layout.js';
import type { DemoCertificates } from './setup.js';

export const ADVISORY_ID = 'ERAB-SIM-2026-0001';
export const ADVISORY_CVE = 'CVE-2026-49001';
export const FIXED_VERSION = '1.1.0';

/** The site id of a demo site in its aggregator's portfolio. */
export const siteIdOf = (s: SitePlan): string => `site-${String(s.index + 1).padStart(4, '0')}`;

/**
 * Lists each resource aggregator's sites and gateways in its portfolio before it starts, so it
 * accepts its gateways' inventories (devices, firmware versions). Resources stay as the
 * gateways declare them: without power limits in the portfolio, dispatch is unchanged.
 */
export async function seedPortfolios(layout: DemoLayout): Promise<void> {
  for (const id of IDS.aggregators) {
    const sites = layout.sites.filter((s) => s.aggregator === id);
    const store = await openStore({ url: layout.file(id, 'aggregator.db'), migrations: aggregatorMigrations });
    try {
      await new Portfolio(store).importText(JSON.stringify({
        format: 'erab-portfolio/1',
        sites: sites.map((s) => ({ id: siteIdOf(s), name: `Home ${s.index + 1}`, tsoArea: 'tokyo' })),
        gateways: sites.map((s) => ({ id: s.gatewayId, siteId: siteIdOf(s), venId: s.gatewayId })),
      }), 'json', 'demo-portfolio.json', { kind: 'operator', id: 'demo' });
    } finally {
      await store.close();
    }
  }
}

/** What the summary shows of the scene. */
export interface VulnSceneResult {
  advisory: string;
  title: string;
  sitesAffected: number;
  findings: number;
  /** One notice per aggregator (each tells its own users), each with its one timestamp. */
  notices: { aggregator: string; issuedAt: string; recipients: number; deliveries: number; delivered: number }[];
  patched: number;
  patchedSites: number;
}

interface Ctx {
  layout: DemoLayout;
  sup: Supervisor;
  certs: DemoCertificates;
  dir: string;
  /** Waits for a condition (the scenario's `until`, bound to its deadline and guard). */
  until: <T>(what: string, fn: () => Promise<T | undefined | false>) => Promise<T>;
  log: (line: string) => void;
  /** Deadline for the countermeasure (simulated epoch ms). */
  deadline: number;
}

type Finding = { id: string; status: string; siteId: string | null; version: string | null };

export async function runVulnScene(c: Ctx): Promise<VulnSceneResult> {
  const file = join(c.dir, 'advisory-erab-sim-2026-0001.json');
  writeFileSync(file, simulatedBatteryAdvisory({ id: ADVISORY_ID, cve: ADVISORY_CVE, fixedVersion: FIXED_VERSION }));
  const findings = (a: string) => c.sup.request<Finding[]>(a, 'vuln-findings', { advisory: ADVISORY_CVE });
  // Every battery in every aggregator's inventory with its firmware version, then the advisory.
  for (const a of IDS.aggregators) {
    const sites = c.layout.sites.filter((s) => s.aggregator === a);
    for (const s of sites) {
      await c.sup.request(a, 'notify-contact-add', { contact: { participantId: a, siteId: siteIdOf(s), name: `Home ${s.index + 1} EMS`, role: 'owner', language: 'ja', channels: { gatewayVenId: s.gatewayId } } });
    }
    await c.until(`${a}'s findings for the advisory on all ${sites.length} sites`, async () => {
      await c.sup.request(a, 'vuln-import', { file, format: 'csaf' });
      return (await findings(a)).length >= sites.length || false;
    });
  }
  const all = (await Promise.all(IDS.aggregators.map(findings))).flat();
  c.log(`advisory ${ADVISORY_ID} (${ADVISORY_CVE}) imported: ${all.length} findings on ${new Set(all.map((f) => f.siteId)).size} sites`);

  const notices: VulnSceneResult['notices'] = [];
  let title = '';
  for (const a of IDS.aggregators) {
    const r = await c.sup.request<{ title: string; noticeId: string; issuedAt: number; recipients: number; deliveries: unknown[] }>(a, 'vuln-notify', { advisory: ADVISORY_CVE, deadline: c.deadline });
    title = r.title;
    const delivered = await c.until(`${a}'s notice at every gateway`, async () => {
      const d = await c.sup.request<{ status: string }[]>(a, 'notify-deliveries', { noticeId: r.noticeId });
      return d.every((x) => x.status === 'delivered') ? d.length : false;
    });
    notices.push({ aggregator: a, issuedAt: formatJst(r.issuedAt), recipients: r.recipients, deliveries: r.deliveries.length, delivered });
    c.log(`${a} notified ${r.recipients} sites at once (${new Date(r.issuedAt).toISOString()}); every gateway acknowledged`);
  }

  // The fix: firmware 1.1.0 signed with each aggregator's code-signing key (not its TLS key).
  const cas = parseCertificates(c.certs.pki.caCertPem(), c.certs.caFile);
  for (const a of IDS.aggregators) {
    const signer = await c.certs.pki.issue({ role: 'aggregator', id: a, usage: 'code-signing' });
    const files = new Map([['firmware.bin', Buffer.from(`simulated battery firmware ${FIXED_VERSION}\n`)]]);
    const text = signPackage(buildManifest({ packageId: 'battery-fw', version: FIXED_VERSION, target: { kind: 'device', deviceClass: 'battery', makerCode: 'FFFFFE' } }, files), files, { certPem: signer.certPem, keyPem: signer.keyPem });
    new UpdateOffers({ dir: c.layout.file(a, 'updates'), audit: nullAudit, aggregatorId: a }).publish(openPackage(text, { cas, signer: { role: 'aggregator', id: a } }, `battery-fw-${FIXED_VERSION}`), text);
  }
  c.log(`signed battery firmware ${FIXED_VERSION} offered to every gateway`);
  const patched = await c.until('every finding patched (gateways report the new firmware)', async () => {
    const now = (await Promise.all(IDS.aggregators.map(findings))).flat();
    return now.every((f) => f.status === 'patched') ? now : false;
  });
  c.log(`${patched.length} findings patched`);
  return {
    advisory: `${ADVISORY_ID} (${ADVISORY_CVE})`, title, sitesAffected: new Set(all.map((f) => f.siteId)).size, findings: all.length,
    notices, patched: patched.length, patchedSites: new Set(patched.map((f) => f.siteId)).size,
  };
}
