/**
 * The console page's text in English and Japanese (i18next resources; keys shared). The page
 * picks the language from `?lang=`, else the browser's preferred languages (the list it sends as
 * Accept-Language): Japanese when Japanese comes before English, English otherwise.
 */
const en = {
  title: '{{id}} · erab console',
  loading: 'Loading…',
  legend: { target: 'target', instructed: 'instructed', delivered: 'delivered' },
  fleet: '{{online}} / {{total}} resources online · {{gateways}} gateways · {{pending}} awaiting approval',
  noEvents: 'No dispatch yet.',
  direction: { reduce: 'reduce (下げ)', increase: 'increase (上げ)' },
  event: {
    state: { accepted: 'accepted', active: 'active', completed: 'completed', cancelled: 'cancelled' },
    line: '{{state}} · delivered {{delivered}} ({{pct}}) · {{resources}} resources on {{gateways}} gateways',
    nonResponding: ' · non-responding: {{count}}',
    period: '{{start}} – {{end}} · コマ {{koma}}',
  },
  chart: { label: 'target vs delivered', waiting: 'waiting for telemetry…', axis: 'kW', time: 'JST' },
  refusals: 'Refusals',
  col: { time: 'time (JST)', by: 'by', what: 'what', reason: 'reason' },
  error: 'cannot refresh: {{message}}',
  language: 'Language',
} as const;

type Widen<T> = { [K in keyof T]: T[K] extends string ? string : Widen<T[K]> };

const ja: Widen<typeof en> = {
  title: '{{id}} · erab コンソール',
  loading: '読み込み中…',
  legend: { target: '目標', instructed: '指示', delivered: '実績' },
  fleet: 'オンラインのリソース {{online}} / {{total}} · ゲートウェイ {{gateways}} 台 · 承認待ち {{pending}} 件',
  noEvents: '指令はまだありません。',
  direction: { reduce: '下げ', increase: '上げ' },
  event: {
    state: { accepted: '受付済み', active: '実行中', completed: '完了', cancelled: '取消' },
    line: '{{state}} · 実績 {{delivered}}（{{pct}}）· リソース {{resources}} 件 / ゲートウェイ {{gateways}} 台',
    nonResponding: ' · 応答なし: {{count}} 件',
    period: '{{start}} – {{end}} · コマ {{koma}}',
  },
  chart: { label: '目標と実績', waiting: 'テレメトリ待ち…', axis: 'kW', time: 'JST' },
  refusals: '拒否の記録',
  col: { time: '時刻（JST）', by: '実行者', what: '対象', reason: '理由' },
  error: '更新できません: {{message}}',
  language: '言語',
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
