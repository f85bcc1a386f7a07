/** The CLI's operator-facing messages in Japanese (keys as en.ts; the compiler checks each one). */
import type { Messages } from './en.js';

export const ja: Messages = {
  common: {
    none: '–',
    yes: 'はい',
    no: 'いいえ',
    kw: '{{value}} kW',
  },
  failure: {
    unexpected: '予期しないエラー {{id}}: {{message}}（erab の不具合です。errorId {{id}} のログ行に詳細があります）',
    refused: '拒否されました（HTTP {{status}}）: {{reason}}',
  },
  aggregator: {
    heading: '{{id}}（{{time}}）· オンラインのリソース {{online}} / {{total}} · 承認待ち {{pending}} 件',
    gateways: 'ゲートウェイ',
    noGateways: '登録済みのゲートウェイはまだありません。',
    events: 'イベント',
    noEvents: '指令はまだありません。',
    upstream: '上位の事業者',
    refusals: '拒否',
    col: {
      gateway: 'ゲートウェイ', resources: 'リソース数', lastReport: '最終報告（JST）', reports: '報告数', signed: '署名',
      event: 'イベント', direction: '方向', start: '開始（JST）', end: '終了（JST）', koma: 'コマ', target: '目標 kW', instructed: '指示 kW',
      delivered: '実績 kW', state: '状態', name: '名前', kind: '種別', registered: '登録済み', time: '時刻（JST）', by: '実行者', what: '対象', reason: '理由',
    },
    direction: { reduce: '下げ', increase: '上げ' },
    held: '指令 {{id}} は保留中です。別のオペレーターの承認が必要です（{{why}}）',
    executed: '指令 {{id}} を実行しました: 割当 {{allocated}} kW、不足 {{short}} kW',
    rejected: '指令 {{id}}: {{state}}',
    series: { col: { time: '時刻（JST）', target: '目標 kW', instructed: '指示 kW', delivered: '実績 kW' } },
  },
  tso: {
    heading: '{{id}}（{{kind}}）· 登録済みのアグリゲーター: {{registered}}',
    dispatches: '指令',
    noDispatches: '指令はまだありません。',
    blocks: 'コマ（30 分）ごと',
    issued: '指令 {{id}} を発出しました: {{product}} {{direction}} → {{to}}',
    cancelled: '指令 {{id}} を取り消しました',
    col: {
      event: 'イベント', product: '商品', direction: '方向', to: '宛先', state: '状態', requestedWh: '指令量 kWh', deliveredWh: '実績 kWh',
      koma: 'コマ', start: '開始（JST）', end: '終了（JST）', requested: '指令 kW', delivered: '実績 kW', time: '時刻（JST）', who: '相手', action: '操作', reason: '理由',
    },
  },
  alerts: {
    none: 'アラートはありません。',
    col: { id: '番号', raised: '最終発生（JST）', severity: '重大度', rule: 'ルール', status: '状態', source: 'キー', summary: '概要' },
    rulesCol: { id: 'ルール', kind: '種類', severity: '重大度', description: '説明', guideline: 'ガイドライン' },
  },
  incident: {
    none: 'インシデントはありません。',
    col: { id: '番号', status: '状態', severity: '重大度', title: '件名', opened: '起票（JST）', by: '起票者' },
    header: '#{{id}} [{{status}}] {{severity}}{{drill}} {{title}}（{{opened}} に {{by}} が起票）',
    drill: ' 訓練',
  },
  demo: {
    console: 'オペレーターコンソール: {{url}}',
    consoleP12: 'ブラウザにこの証明書を取り込んでください: {{file}}',
    consolePassphrase: 'パスフレーズ: {{passphrase}}',
    consoleCa: 'CA 証明書（ウェブサイトの識別用に信頼してください。しないとブラウザが警告します）: {{file}}',
    consoleStop: 'Ctrl-C で止めるまでデモは動き続けます。',
  },
};
