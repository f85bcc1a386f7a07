/**
 * A CSAF 2.0 advisory for erab's simulated battery (maker 0xFFFFFE, product code `ERAB-BAT`),
 * written by us (plain JSON: no secops import, so the demo's roles layer may write it too). The
 * demo's vulnerability scene (./vuln-scene.ts) and the end-to-end test of notification use it.
 * Firmware below `fixedVersion` is affected; the fix is the signed update to that version.
 */
export interface SimulatedAdvisoryOptions {
  /** CSAF tracking id, e.g. "ERAB-SIM-2026-0001". */
  id: string;
  cve: string;
  /** First fixed firmware version (affected: every version below it). */
  fixedVersion: string;
  /** Model number the battery reports (ECHONET Lite product code). */
  productCode?: string;
  releasedAt?: Date;
}

export function simulatedBatteryAdvisory(o: SimulatedAdvisoryOptions): string {
  const model = o.productCode ?? 'ERAB-BAT';
  const at = (o.releasedAt ?? new Date()).toISOString();
  const helper = { model_numbers: [model] };
  return JSON.stringify({
    document: {
      category: 'csaf_security_advisory', csaf_version: '2.0', lang: 'ja',
      title: `erab 模擬蓄電池 ${model} ファームウェアの認証欠如 (missing authentication in battery firmware)`,
      publisher: { category: 'vendor', name: 'erab simulated devices', namespace: 'https://erab.invalid' },
      tracking: {
        id: o.id, status: 'final', version: '1', initial_release_date: at, current_release_date: at,
        revision_history: [{ number: '1', date: at, summary: '初版' }],
      },
    },
    product_tree: {
      branches: [{
        category: 'vendor', name: 'erab simulated devices',
        branches: [{
          category: 'product_name', name: model,
          branches: [
            { category: 'product_version_range', name: `vers:generic/<${o.fixedVersion}`, product: { product_id: 'SIM-1', name: `${model} firmware < ${o.fixedVersion}`, product_identification_helper: helper } },
            { category: 'product_version', name: o.fixedVersion, product: { product_id: 'SIM-2', name: `${model} firmware ${o.fixedVersion}`, product_identification_helper: helper } },
          ],
        }],
      }],
    },
    vulnerabilities: [{
      cve: o.cve,
      title: 'Missing authentication for a maker-specific property',
      notes: [{ category: 'description', text: '認証なしに充放電指令を書き換えられる可能性があります。' }],
      product_status: { known_affected: ['SIM-1'], fixed: ['SIM-2'] },
      scores: [{ products: ['SIM-1'], cvss_v3: { version: '3.1', vectorString: 'CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H', baseScore: 8.1, baseSeverity: 'HIGH' } }],
      remediations: [{ category: 'vendor_fix', details: `ファームウェアを ${o.fixedVersion} 以降へ更新してください (signed update ${o.fixedVersion}).`, product_ids: ['SIM-1'] }],
    }],
  }, null, 2);
}
