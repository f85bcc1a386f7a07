/**
 * The console page's text in English and Japanese (i18next resources; keys shared). The page
 * picks the language from `?lang=`, else the browser's preferred languages (the list it sends as
 * Accept-Language): Japanese when Japanese comes before English, English otherwise.
 *
 * `errors` holds the texts of the keyed errors an operator API answers with (`key` and `params`
 * beside the English `error`, operator-routes.ts errorResponse): core/error-messages.ts, shared
 * with the CLI.
 */
import { ERROR_MESSAGES } from '../core/error-messages.js';

const en = {
  title: '{{id}} · erab console',
  loading: 'Loading…',
  legend: { target: 'target', instructed: 'instructed', delivered: 'delivered' },
  fleet: '{{online}} / {{total}} resources online · {{gateways}} gateways · {{pending}} awaiting approval',
  noEvents: 'No dispatch yet.',
  direction: { reduce: 'reduce (下げ)', increase: 'increase (上げ)' },
  live: { on: '● live', off: '○ reconnecting…' },
  events: { title: 'Events' },
  event: {
    state: { accepted: 'accepted', active: 'active', completed: 'completed', cancelled: 'cancelled' },
    line: '{{state}} · delivered {{delivered}} ({{pct}}) · {{resources}} resources on {{gateways}} gateways',
    nonResponding: ' · non-responding: {{count}}',
    period: '{{start}} – {{end}} · コマ {{koma}}',
    col: { target: 'target', instructed: 'instructed', delivered: 'delivered', uncovered: 'uncovered' },
    byParty: 'dispatched by {{party}}',
    byOperator: 'operator command by {{by}}: {{reason}}',
    approvedBy: '{{by}}, approved by {{approver}}',
    uncovered: '{{kw}} the fleet cannot cover',
    nonRespondingList: 'not responding ({{count}}): {{ids}}',
    shortLabel: 'SHORT:',
    cancel: 'Cancel event',
    cancelled: 'Event {{key}} cancelled: its devices return to their owners.',
  },
  chart: { label: 'target vs delivered', waiting: 'waiting for telemetry…', axis: 'kW', time: 'JST' },
  held: {
    title: 'Held commands (waiting for a second operator)',
    none: 'No command is waiting for approval.',
    col: { id: 'id', submitted: 'submitted (JST)', by: 'by', what: 'what', reason: 'reason', why: 'why a second operator', expires: 'expires (JST)' },
  },
  recent: { title: 'Recent commands', state: 'state' },
  me: {
    who: 'operator {{id}} · role {{role}}',
    needs: '{{what}}: needs the role {{role}}; operator {{id}} has the role {{held}}.',
  },
  newCommand: {
    title: 'New command',
    power: 'power (kW)', resources: 'resources', resourcesHint: '"fleet" or device ids, comma-separated', duration: 'duration (min)', reason: 'reason (required)',
    pool: 'or pool', noPool: '— (the resources above)', start: 'start (JST, empty: now)',
    starts: 'It starts at {{start}} (コマ {{koma}}).',
    submit: 'Submit',
    held: 'Command {{id}} held: it waits for a second, different operator ({{why}}).',
    executed: 'Command {{id}} {{state}}: {{allocated}} allocated.',
    short: 'Command {{id}} is SHORT: {{allocated}} of {{requested}} allocated ({{shortfall}} not covered).',
  },
  command: {
    fleet: 'whole fleet',
    pool: 'pool {{pool}}',
    startsAt: 'from {{start}} (コマ {{koma}})',
    minutes: '{{n}} min',
    action: { reduce: 'reduce (下げ)', increase: 'increase (上げ)', release: 'release' },
    state: { held: 'held', approved: 'approved', rejected: 'rejected', expired: 'expired', executed: 'executed', short: 'SHORT', failed: 'FAILED' },
    short: 'SHORT: {{allocated}} of {{requested}} allocated ({{shortfall}} short)',
    approve: 'Approve',
    reject: 'Reject',
    approved: 'Command {{id}} approved: {{state}}',
    rejected: 'Command {{id}} rejected.',
  },
  action: {
    defaultReason: 'from the operator console',
    reasonPlaceholder: 'reason',
    refused: 'refused ({{status}}): {{message}}',
  },
  fleetView: {
    title: 'Fleet',
    devices: 'Devices', gateways: 'Gateways', sites: 'Sites',
    search: 'search id…', gatewayFilter: 'gateway', poolFilter: 'pool',
    any: 'online or not', online: 'online', offline: 'offline',
    none: 'nothing matches',
    range: '{{from}}–{{to}}',
    col: {
      id: 'device', gateway: 'gateway', class: 'class', rated: 'rated down / up', online: 'online', admission: 'admission', version: 'version',
      resources: 'resources', lastReport: 'last report (JST)', reports: 'reports', signed: 'signed', site: 'site', tsoArea: 'TSO area', pool: 'pool',
    },
  },
  resourceClass: { battery: 'battery', ev: 'EV', heatpump: 'heat pump', pv: 'PV' },
  admission: {
    admitted: 'admitted', pending: 'pending', quarantined: 'quarantined', rejected: 'rejected',
    admit: 'Admit', reject: 'Reject', quarantine: 'Quarantine', release: 'Release',
    admitDone: 'Device {{id}}: admission sent to gateway {{gateway}} (event {{event}}); its row shows the new state when the gateway reports it.',
    rejectDone: 'Device {{id}}: rejection sent to gateway {{gateway}} (event {{event}}); its row shows the new state when the gateway reports it.',
    quarantineDone: 'Device {{id}}: quarantine sent to gateway {{gateway}} (event {{event}}): back to its owner\'s mode, then not commanded until released.',
    releaseDone: 'Device {{id}}: release at revision {{revision}} sent to gateway {{gateway}} (event {{event}}): it may be commanded again once admitted.',
  },
  page: { prev: '‹ previous', next: 'next ›', newer: '‹ newer', older: 'older ›' },
  panel: { forbidden: 'your role may not read this' },
  alerts: {
    title: 'Alerts', none: 'No alert.', severity: 'severity', summary: 'summary', status: 'status', open: 'open', acked: 'acknowledged by {{by}}',
    ack: 'Acknowledge', ackDone: 'Alert {{id}} acknowledged.',
    sev: { low: 'low', medium: 'medium', high: 'high', critical: 'critical' },
  },
  incidents: { title: 'Incidents', none: 'No incident.', what: 'incident', status: 'status' },
  vuln: { title: 'Vulnerability findings', none: 'No finding.', advisory: 'advisory', asset: 'asset', severity: 'severity', status: 'status' },
  compliance: {
    title: 'Compliance', run: 'assessment {{run}} at {{at}}', failing: 'recommendations not met: {{ids}}', allMet: 'every recommendation met',
    status: { satisfied: 'met', 'not-satisfied': 'not met', 'needs-decision': 'needs a decision', 'not-applicable': 'not applicable' },
  },
  audit: {
    title: 'Audit log',
    verified: 'verified ✓ {{records}} records, {{valid}}/{{total}} signed checkpoints valid, {{unanchored}} after the latest · checked {{at}}',
    failed: 'VERIFICATION FAILED: {{problems}}',
    unverifiable: 'not verifiable: {{why}}',
    actionFilter: 'action, or a prefix ending in "."',
    anyOutcome: 'any outcome',
    action: 'action', outcomeCol: 'outcome',
    outcome: { success: 'success', failure: 'failure', refused: 'refused' },
  },
  refusals: 'Refusals',
  refusal: { all: 'all kinds', kind: { dispatch: 'dispatch', tls: 'TLS handshake', request: 'request' } },
  col: { time: 'time (JST)', by: 'by', what: 'what', reason: 'reason', kind: 'kind' },
  error: 'cannot refresh: {{message}}',
  language: 'Language',
  errors: ERROR_MESSAGES.en,
} as const;

type Widen<T> = { [K in keyof T]: T[K] extends string ? string : Widen<T[K]> };

const ja: Widen<typeof en> = {
  title: '{{id}} · erab コンソール',
  loading: '読み込み中…',
  legend: { target: '目標', instructed: '指示', delivered: '実績' },
  fleet: 'オンラインのリソース {{online}} / {{total}} · ゲートウェイ {{gateways}} 台 · 承認待ち {{pending}} 件',
  noEvents: '指令はまだありません。',
  direction: { reduce: '下げ', increase: '上げ' },
  live: { on: '● ライブ', off: '○ 再接続中…' },
  events: { title: '指令' },
  event: {
    state: { accepted: '受付済み', active: '実行中', completed: '完了', cancelled: '取消' },
    line: '{{state}} · 実績 {{delivered}}（{{pct}}）· リソース {{resources}} 件 / ゲートウェイ {{gateways}} 台',
    nonResponding: ' · 応答なし: {{count}} 件',
    period: '{{start}} – {{end}} · コマ {{koma}}',
    col: { target: '目標', instructed: '指示', delivered: '実績', uncovered: '不足' },
    byParty: '発令元: {{party}}',
    byOperator: '運用者 {{by}}の指令: {{reason}}',
    approvedBy: '{{by}}（承認: {{approver}}）',
    uncovered: 'フリートで賄えない {{kw}}',
    nonRespondingList: '応答なし（{{count}} 件）: {{ids}}',
    shortLabel: '不足:',
    cancel: '指令を取り消す',
    cancelled: '指令 {{key}} を取り消しました。機器は所有者の運転に戻ります。',
  },
  chart: { label: '目標と実績', waiting: 'テレメトリ待ち…', axis: 'kW', time: 'JST' },
  held: {
    title: '保留中のコマンド（二人目の承認待ち）',
    none: '承認待ちのコマンドはありません。',
    col: { id: 'ID', submitted: '登録（JST）', by: '登録者', what: '内容', reason: '理由', why: '二人目が必要な理由', expires: '期限（JST）' },
  },
  recent: { title: '最近のコマンド', state: '状態' },
  me: {
    who: '運用者 {{id}} · ロール {{role}}',
    needs: '{{what}}: ロール {{role}} が必要です。運用者 {{id}} のロールは {{held}} です。',
  },
  newCommand: {
    title: '新しいコマンド',
    power: '電力（kW）', resources: '対象', resourcesHint: '"fleet"（全体）または機器 ID をカンマ区切りで', duration: '継続時間（分）', reason: '理由（必須）',
    pool: 'またはプール', noPool: '—（上の対象）', start: '開始（JST、空欄: すぐ）',
    starts: '開始は {{start}}（コマ {{koma}}）です。',
    submit: '送信',
    held: 'コマンド {{id}} を保留しました: 別の二人目の承認を待ちます（{{why}}）。',
    executed: 'コマンド {{id}} {{state}}: {{allocated}} を配分しました。',
    short: 'コマンド {{id}} は不足です: {{requested}} のうち {{allocated}} を配分（{{shortfall}} 不足）。',
  },
  command: {
    fleet: 'フリート全体',
    pool: 'プール {{pool}}',
    startsAt: '{{start}} から（コマ {{koma}}）',
    minutes: '{{n}} 分',
    action: { reduce: '下げ', increase: '上げ', release: '解除' },
    state: { held: '保留', approved: '承認済み', rejected: '却下', expired: '期限切れ', executed: '実行済み', short: '不足', failed: '失敗' },
    short: '不足: {{requested}} のうち {{allocated}} を配分（{{shortfall}} 不足）',
    approve: '承認',
    reject: '却下',
    approved: 'コマンド {{id}} を承認しました: {{state}}',
    rejected: 'コマンド {{id}} を却下しました。',
  },
  action: {
    defaultReason: '運用コンソールから',
    reasonPlaceholder: '理由',
    refused: '拒否されました（{{status}}）: {{message}}',
  },
  fleetView: {
    title: 'フリート',
    devices: '機器', gateways: 'ゲートウェイ', sites: 'サイト',
    search: 'ID で検索…', gatewayFilter: 'ゲートウェイ', poolFilter: 'プール',
    any: 'すべて', online: 'オンライン', offline: 'オフライン',
    none: '該当なし',
    range: '{{from}}–{{to}} 件目',
    col: {
      id: '機器', gateway: 'ゲートウェイ', class: '種別', rated: '定格 下げ / 上げ', online: '接続', admission: '受入', version: 'バージョン',
      resources: 'リソース', lastReport: '最終報告（JST）', reports: '報告数', signed: '署名', site: 'サイト', tsoArea: 'エリア', pool: 'プール',
    },
  },
  resourceClass: { battery: '蓄電池', ev: 'EV', heatpump: 'ヒートポンプ', pv: '太陽光' },
  admission: {
    admitted: '受入済み', pending: '受入待ち', quarantined: '隔離中', rejected: '拒否',
    admit: '受け入れる', reject: '拒否する', quarantine: '隔離する', release: '隔離を解除する',
    admitDone: '機器 {{id}}: 受入をゲートウェイ {{gateway}} に送りました（イベント {{event}}）。ゲートウェイの報告で行の状態が変わります。',
    rejectDone: '機器 {{id}}: 拒否をゲートウェイ {{gateway}} に送りました（イベント {{event}}）。ゲートウェイの報告で行の状態が変わります。',
    quarantineDone: '機器 {{id}}: 隔離をゲートウェイ {{gateway}} に送りました（イベント {{event}}）。所有者の運転に戻した後、解除まで制御しません。',
    releaseDone: '機器 {{id}}: リビジョン {{revision}} での隔離解除をゲートウェイ {{gateway}} に送りました（イベント {{event}}）。受入済みになると再び制御できます。',
  },
  page: { prev: '‹ 前へ', next: '次へ ›', newer: '‹ 新しい', older: '古い ›' },
  panel: { forbidden: 'この役割では閲覧できません' },
  alerts: {
    title: 'アラート', none: 'アラートはありません。', severity: '重大度', summary: '概要', status: '状態', open: '未対応', acked: '{{by}} が確認済み',
    ack: '確認', ackDone: 'アラート {{id}} を確認しました。',
    sev: { low: '低', medium: '中', high: '高', critical: '緊急' },
  },
  incidents: { title: 'インシデント', none: 'インシデントはありません。', what: 'インシデント', status: '状態' },
  vuln: { title: '脆弱性の検出', none: '検出はありません。', advisory: 'アドバイザリ', asset: '資産', severity: '重大度', status: '状態' },
  compliance: {
    title: 'コンプライアンス', run: '評価 {{run}}（{{at}}）', failing: '未達の勧告: {{ids}}', allMet: 'すべての勧告を満たしています',
    status: { satisfied: '充足', 'not-satisfied': '未充足', 'needs-decision': '判断待ち', 'not-applicable': '対象外' },
  },
  audit: {
    title: '監査ログ',
    verified: '検証済み ✓ {{records}} 件、署名チェックポイント {{valid}}/{{total}} 有効、最新以降 {{unanchored}} 件 · 確認 {{at}}',
    failed: '検証失敗: {{problems}}',
    unverifiable: '検証できません: {{why}}',
    actionFilter: '操作（「.」で終わる前方一致も可）',
    anyOutcome: 'すべての結果',
    action: '操作', outcomeCol: '結果',
    outcome: { success: '成功', failure: '失敗', refused: '拒否' },
  },
  refusals: '拒否の記録',
  refusal: { all: 'すべての種類', kind: { dispatch: '指令', tls: 'TLS ハンドシェイク', request: '要求' } },
  col: { time: '時刻（JST）', by: '実行者', what: '対象', reason: '理由', kind: '種類' },
  error: '更新できません: {{message}}',
  language: '言語',
  errors: ERROR_MESSAGES.ja,
};

/** i18next resources of the console page. */
export const CONSOLE_MESSAGES = { en: { translation: en }, ja: { translation: ja } } as const;

/** The languages the console speaks. */
export type ConsoleLanguage = keyof typeof CONSOLE_MESSAGES;

/**
 * The console language an Accept-Language header asks for: the first of ja / en by preference
 * (q-values honoured), English when neither is listed.
 * @example consoleLanguage('ja-JP,ja;q=0.9,en;q=0.8') // 'ja'
 */
export function consoleLanguage(acceptLanguage: string | undefined): ConsoleLanguage {
  if (!acceptLanguage) return 'en';
  const ranked = acceptLanguage.split(',').map((part, i) => {
    const [tag = '', ...params] = part.trim().split(';');
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    return { tag: tag.trim().toLowerCase(), q: q === undefined ? 1 : Number(q), i };
  }).filter((x) => x.tag && Number.isFinite(x.q) && x.q > 0).sort((a, b) => b.q - a.q || a.i - b.i);
  for (const { tag } of ranked) {
    if (tag === 'ja' || tag.startsWith('ja-')) return 'ja';
    if (tag === 'en' || tag.startsWith('en-')) return 'en';
  }
  return 'en';
}
