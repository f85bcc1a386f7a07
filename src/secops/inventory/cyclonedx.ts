/**
 * The inventory as a CycloneDX 1.6 JSON BOM, built with @cyclonedx/cyclonedx-library (its
 * models, normaliser and serialiser; its JSON-schema validator checks the output in the tests).
 * - gateways and devices are `device` components; a device with a firmware version carries a
 *   nested `firmware` component with that version and the derived CPE;
 * - management number, site, gateway, class, maker and product codes, serial number and
 *   first/last seen are `erab:`/`echonet:` properties (CycloneDX has no field for them);
 * - erab's own software: the application (metadata.component), the Node.js runtime (`platform`
 *   with its CPE) and each npm package (`library` with its purl), with the dependency graph.
 */
import { Enums, Models, Serialize, Spec } from '@cyclonedx/cyclonedx-library';
import type { AssetRow } from './apply.js';
import type { SoftwareReport } from './software.js';

function props(entries: [string, string | number | null | undefined][]): Models.PropertyRepository {
  const repo = new Models.PropertyRepository();
  for (const [k, v] of entries) if (v !== null && v !== undefined && v !== '') repo.add(new Models.Property(k, String(v)));
  return repo;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * CycloneDX 1.6 JSON of the given assets (and, when given, the role's software report).
 * @example const json = buildCycloneDx(await listAssets(db, { presentOnly: true }), await readSoftwareReport('.', 'aggregator'))
 */
export function buildCycloneDx(assets: readonly AssetRow[], software?: SoftwareReport, opts: { timestamp?: Date } = {}): string {
  const bom = new Models.Bom();
  bom.metadata.timestamp = opts.timestamp ?? new Date();
  bom.metadata.tools.components.add(new Models.Component(Enums.ComponentType.Application, 'erab vuln inventory', { version: software?.erab.version }));
  const byRef = new Map<string, Models.Component>();
  if (software) {
    const app = new Models.Component(Enums.ComponentType.Application, software.erab.name, {
      bomRef: software.erab.purl, version: software.erab.version, purl: software.erab.purl,
      properties: props([['erab:role', software.role]]),
    });
    bom.metadata.component = app;
    byRef.set(software.erab.purl, app);
    const node = new Models.Component(Enums.ComponentType.Platform, 'node', { bomRef: 'runtime:node', version: software.node, cpe: `cpe:2.3:a:nodejs:node.js:${software.node}:*:*:*:*:*:*:*` });
    bom.components.add(node);
    for (const p of software.packages) {
      if (byRef.has(p.purl)) continue;
      const c = new Models.Component(Enums.ComponentType.Library, p.name, { bomRef: p.purl, version: p.version, purl: p.purl });
      byRef.set(p.purl, c);
      bom.components.add(c);
    }
    for (const p of [software.erab, ...software.packages]) {
      const c = byRef.get(p.purl)!;
      for (const d of p.dependsOn) {
        const dc = byRef.get(d);
        if (dc && dc !== c) c.dependencies.add(dc.bomRef);
      }
    }
  }
  for (const a of assets) {
    if (a.kind !== 'device' && a.kind !== 'gateway') continue;
    const c = new Models.Component(Enums.ComponentType.Device, a.name, {
      bomRef: a.id,
      properties: props([
        ['erab:asset_id', a.id], ['erab:management_no', a.management_no], ['erab:site', a.site_id], ['erab:gateway', a.gateway_id],
        ['erab:class', a.class], ['echonet:maker_code', a.maker_code], ['echonet:product_code', a.product_code],
        ['erab:serial_number', a.serial_number], ['erab:present', Number(a.present) ? 'true' : 'false'],
        ['erab:first_seen', iso(Number(a.first_seen))], ['erab:last_seen', iso(Number(a.last_seen))],
      ]),
    });
    if (a.version) {
      c.components.add(new Models.Component(Enums.ComponentType.Firmware, `${a.product_code ?? a.name} firmware`, { bomRef: `${a.id}#firmware`, version: a.version, cpe: a.cpe ?? undefined }));
    }
    bom.components.add(c);
  }
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  return serializer.serialize(bom, { sortLists: true, space: 2 });
}
