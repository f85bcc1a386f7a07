/**
 * The readable report: one printable HTML page in Japanese and English, per item its level,
 * status, evidence or decision, and what changed since the previous report; signed with the
 * participant's key (ECDSA, detached signature over the exact bytes of the HTML).
 */
import { createPrivateKey, createPublicKey, sign, verify, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { explain, InvalidInputError } from '../core/errors.js';
import type { Assessment } from './assess.js';
import type { ComplianceProfile } from './profile.js';
import type { Summary } from './summary.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const STATUS_JA: Record<string, string> = {
  'satisfied': '充足', 'not-satisfied': '未充足', 'not-applicable': '対象外', 'needs-decision': '判断未記録',
  'implemented-by-process': '運用で実施', 'not-adopted': '不採用（理由記録）', 'compensating-control': '代替策',
};

export function renderReport(profile: ComplianceProfile, a: Assessment, s: Summary): string {
  const rows = a.controls.map((c) => {
    const ev = c.checks.flatMap((k) => k.result.evidence.map((e) => `<li><code>${esc(k.id)}</code> ${esc(e.source)}: ${esc(e.observed)} <small>(${new Date(e.at).toISOString()})</small></li>`)).join('');
    const d = c.decision;
    const dec = d ? `<p>判断 / decision: <b>${esc(d.kind)}</b> — ${esc(d.approver)}, ${new Date(d.decidedAt).toISOString().slice(0, 10)}, 見直し / review ${new Date(d.reviewAt).toISOString().slice(0, 10)}${d.reference ? `, 手順書 / procedure ${esc(d.reference)}` : ''}${d.reason ? `, 理由 / reason: ${esc(d.reason)}` : ''}${d.compensating ? `, 代替策 / compensating: ${esc(d.compensating)}` : ''}</p>` : '';
    return `<tr class="${esc(c.status)}"><td>${esc(c.control.label)}</td><td><b>${esc(c.control.title)}</b><br>${esc(c.control.statementJa)}<br><i>${esc(c.control.summaryEn)}</i></td><td>${esc(c.control.appliedLevel)}</td><td>${esc(STATUS_JA[c.status] ?? c.status)}<br><small>${esc(c.status)}</small></td><td>${ev ? `<ul>${ev}</ul>` : ''}${dec}<small>${esc(c.note)}</small></td></tr>`;
  }).join('\n');
  const counts = Object.entries(s.counts).map(([lvl, row]) => `<tr><td>${esc(lvl)}</td><td>${row.total}</td><td>${Object.entries(row).filter(([k]) => k !== 'total').map(([k, v]) => `${esc(STATUS_JA[k] ?? k)} / ${esc(k)}: ${v}`).join('; ')}</td></tr>`).join('');
  const changes = s.changes.length ? `<ul>${s.changes.map((c) => `<li>${esc(c.label)}: ${esc(c.from)} → ${esc(c.to)}</li>`).join('')}</ul>` : '<p>前回から変更なし / no change since the previous report (or first report).</p>';
  return `<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>セキュリティ対策状況報告 / Compliance report — ${esc(profile.participant.id)}</title>
<style>body{font-family:sans-serif;font-size:10pt;margin:1.5em}table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:3px;vertical-align:top}
tr.not-satisfied td,tr.needs-decision td{background:#fde8e8}tr.satisfied td{background:#eef8ee}@media print{tr{page-break-inside:avoid}}</style></head>
<body><h1>セキュリティ対策状況報告 / Compliance report</h1>
<p>事業者 / participant: <b>${esc(profile.participant.name ?? profile.participant.id)}</b> (${esc(profile.participant.id)}); 役割 / roles: ${esc(profile.roles.join(', '))}; 区分 / category: ${esc(profile.kubun ?? '-')}; 評価時刻 / assessed at ${new Date(a.at).toISOString()}</p>
<p>出典 / sources: ERAB サイバーセキュリティガイドライン Ver1.1; 自家用電気工作物に係るサイバーセキュリティの確保に関するガイドライン（解説資料 2023/7）。</p>
<h2>集計 / counts per level</h2><table><tr><th>レベル / level</th><th>件数 / total</th><th>状態 / status</th></tr>${counts}</table>
<h2>前回からの変更 / changes since the previous report</h2>${changes}
<h2>項目ごとの状態 / per item</h2>
<table><tr><th>項目 / item</th><th>要求 / requirement</th><th>レベル / level</th><th>状態 / status</th><th>根拠・判断 / evidence or decision</th></tr>
${rows}
</table></body></html>
`;
}

/** Signs `data` with the participant's private key (ECDSA over SHA-256, DER); returns base64. */
export function signReport(data: Buffer, keyPem: string): string {
  const key = createPrivateKey(keyPem);
  if (key.asymmetricKeyType !== 'ec') throw new InvalidInputError(explain('compliance.signingKeyNotEc', { type: String(key.asymmetricKeyType) }));
  return sign('sha256', data, key).toString('base64');
}

/** Verifies a detached report signature against the signer's certificate or public key (PEM). */
export function verifyReport(data: Buffer, signatureB64: string, certOrKeyPem: string): boolean {
  const key = certOrKeyPem.includes('BEGIN CERTIFICATE') ? new X509Certificate(certOrKeyPem).publicKey : createPublicKey(certOrKeyPem);
  return verify('sha256', data, key, Buffer.from(signatureB64.trim(), 'base64'));
}

export function readKey(file: string): string { return readFileSync(file, 'utf8'); }
