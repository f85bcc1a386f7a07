/**
 * erab's own software in the inventory: a role's software report (src/core/software.ts: erab
 * version, Node.js version, the npm tree installed with the running process) recorded as assets
 * with purls, so npm advisories (CSAF/NVD with purl or ranges) match them.
 */
import type { Kysely } from 'kysely';
import { type Clock, systemClock } from '../../core/clock.js';
import { readInstalledSoftware, type SoftwarePackage, type SoftwareReport } from '../../core/software.js';
import type { SecopsTables } from '../tables.js';
import { applyAssets, type ApplyResult, type AssetInput } from './apply.js';
import { nodeCpe } from './identifiers.js';

export type { SoftwarePackage, SoftwareReport };
/** The software report of the erab installed at `root` (see src/core/software.ts). */
export const readSoftwareReport = readInstalledSoftware;

export const roleAssetId = (role: string) => `participant:${role}`;
export const softwareAssetId = (role: string, purl: string) => `software:${role}:${purl}`;

/** Records a role's software report in the inventory (role as participant, its software under it). */
export async function recordSoftware(db: Kysely<SecopsTables>, report: SoftwareReport, opts: { clock?: Clock } = {}): Promise<ApplyResult> {
  const now = (opts.clock ?? systemClock).now();
  const base = { site_id: null, gateway_id: null, maker_code: null, product_code: null, serial_number: null, present: 1 };
  const erabId = softwareAssetId(report.role, report.erab.purl);
  const assets: AssetInput[] = [
    { ...base, id: roleAssetId(report.role), kind: 'participant', management_no: report.role, name: `erab ${report.role}`, class: 'role', version: report.erab.version, cpe: null, purl: null, parent_id: null },
    { ...base, id: erabId, kind: 'software', management_no: report.erab.purl, name: report.erab.name, class: 'application', version: report.erab.version, cpe: null, purl: report.erab.purl, parent_id: roleAssetId(report.role) },
    { ...base, id: softwareAssetId(report.role, 'node'), kind: 'software', management_no: 'node', name: 'Node.js', class: 'runtime', version: report.node, cpe: nodeCpe(report.node), purl: `pkg:generic/node@${report.node}`, parent_id: roleAssetId(report.role) },
  ];
  const seen = new Set<string>();
  for (const p of report.packages) {
    if (seen.has(p.purl)) continue;
    seen.add(p.purl);
    assets.push({ ...base, id: softwareAssetId(report.role, p.purl), kind: 'software', management_no: p.purl, name: p.name, class: 'library', version: p.version, cpe: null, purl: p.purl, parent_id: erabId });
  }
  return applyAssets(db, { prefixes: [`software:${report.role}:`], ids: [roleAssetId(report.role)] }, assets, now);
}
