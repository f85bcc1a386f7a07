#!/usr/bin/env node
// Writes the two OSCAL 1.1 catalogs from the item lists below, which were read off the seed texts
// (../shared/seeds/000_* = ERAB guideline Ver1.1, 003_* = the 自家用電気工作物 guideline explainer).
// The seeds decide; the reference drafts were only a checklist. Run: node src/compliance/catalogs/generate.mjs
// UUIDs are derived from the control ids (name-based), so regenerating gives the same files.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NS = 'urn:erab:compliance';
const here = dirname(fileURLToPath(import.meta.url));
const uuid = (s) => {
  const h = createHash('sha256').update(s).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[parseInt(h[16], 16) & 3]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
};
const prop = (name, value) => ({ name, ns: NS, value });

/**
 * c(id, label, title, ja, en, { level | levels, actors, iface, verified, guidance })
 * level: the seed's own word (勧告 / 推奨 / 参考 / 記載なし); levels: per 区分 for the private-facility guideline.
 */
function control(id, label, title, ja, en, o) {
  const props = [prop('label', label)];
  if (o.levels) for (const k of ['A', 'B', 'C']) props.push(prop(`level-${k}`, o.levels[k]));
  else props.push(prop('level', o.level));
  for (const a of o.actors ?? []) props.push(prop('actor', a));
  if (o.iface) props.push(prop('interface', o.iface));
  props.push(prop('verification', o.verified ?? 'seed-verified'));
  if (o.note) props.push(prop('seed-note', o.note));
  const parts = [
    { id: `${id}_smt`, name: 'statement', props: [prop('lang', 'ja')], prose: ja },
    { id: `${id}_summary`, name: 'overview', props: [prop('lang', 'en')], prose: en },
  ];
  if (o.guidance) parts.push({ id: `${id}_gdn`, name: 'guidance', props: [prop('lang', 'ja')], prose: o.guidance });
  return { id, class: o.class ?? 'requirement', title, props, parts };
}

const ALL = ['tso', 'retailer', 'aggregator', 'ems'];

// ---------------------------------------------------------------- ERAB guideline Ver1.1
const erabGroups = [
  {
    id: 'erab-3.2', title: '3.2 ERAB システムが留意すべき基本方針 (basic policy)',
    controls: [
      control('erab-3.2-1', '§3.2-1', 'CIA を考慮したシステム設計',
        'ERAB システムは、機密性、完全性、可用性の 3 要件に留意したシステム設計を行うこと（推奨）',
        'Design ERAB systems with confidentiality, integrity and availability in mind.', { level: '推奨', actors: ALL }),
      control('erab-3.2-2', '§3.2-2', '脆弱性対策情報の利用者への通知',
        'ERAB に参画する各事業者は、脆弱性対策情報の利用者への通知を行うこと（勧告）',
        'Every participant notifies its users of vulnerability countermeasure information (how: per its detailed requirements, footnote 4).', { level: '勧告', actors: ALL }),
      control('erab-3.2-3', '§3.2-3', '脆弱性情報の一斉伝達',
        'ERAB に参画する各事業者は、脆弱性情報が公知になった際に、悪用される危険性が高まるため、一斉に伝えられるようにしておくこと（勧告）',
        'Every participant is able to tell all its users at once when a vulnerability becomes public (JVN iPedia may be used, footnote 5).', { level: '勧告', actors: ALL }),
    ],
  },
  {
    id: 'erab-3.3', title: '3.3 ERAB システムにおけるサイバーセキュリティ対策 (per interface)',
    parts: [{ id: 'erab-3.3_intro', name: 'overview', prose: '正しい事業者から正しい指令が発令されたことの認証と機器・システムへ正しい指令が送受信されることを担保することは ERAB システムの根幹であり、指令の真正性を阻害するような脅威・リスクについては、最大の脅威・リスクであると捉えることができる。' }],
    controls: [
      control('erab-3.3.1-1', '§3.3.1 R1-1', 'R1 相互認証・通信の暗号化',
        '相互認証、通信の暗号化により保護すること（勧告）',
        'R1 (TSO ↔ aggregator): protect with mutual authentication and encryption.', { level: '勧告', actors: ['tso', 'aggregator'], iface: 'R1' }),
      control('erab-3.3.1-2', '§3.3.1 R1-2', 'R1 特定されたアグリゲーターのみ接続',
        '送配電事業者のシステムへの接続は特定されたアグリゲーターのシステムのみからの接続に限定すること（勧告）',
        'R1: the TSO system (the simple dispatch system, footnote 6) accepts connections only from specified aggregators\' systems.', { level: '勧告', actors: ['tso'], iface: 'R1',
          guidance: '※より多くのアグリゲーターの参画が見込まれる ERAB システムにおいては、特定できない相手からの、送配電事業者システムへの接続や、それを起因としたシステム障害、意図しないコントロール等を防ぐことが重要である。' }),
      control('erab-3.3.2-r2', '§3.3.2 R2', 'R2 相互認証・通信の暗号化',
        '相互認証、通信の暗号化により保護すること（勧告）',
        'R2 (retailer ↔ aggregator, between control servers): mutual authentication and encryption.', { level: '勧告', actors: ['retailer', 'aggregator'], iface: 'R2', note: '§3.3.2 は R2～R3 を一つの項目で定める。インターフェースごとに評価するため R2 と R3 に分けた。' }),
      control('erab-3.3.2-r3', '§3.3.2 R3', 'R3 相互認証・通信の暗号化',
        '相互認証、通信の暗号化により保護すること（勧告）',
        'R3 (between aggregators\' control servers): mutual authentication and encryption.', { level: '勧告', actors: ['aggregator'], iface: 'R3', note: '§3.3.2 は R2～R3 を一つの項目で定める。インターフェースごとに評価するため R2 と R3 に分けた。' }),
      control('erab-3.3.3-1', '§3.3.3 R4', 'R4 相互認証・通信の暗号化',
        '相互認証、通信の暗号化により保護すること（勧告）',
        'R4 (aggregator ↔ energy management system / gateway, assumed over a public network): mutual authentication and encryption.', { level: '勧告', actors: ['aggregator', 'ems'], iface: 'R4',
          guidance: '※制御サーバーとコントローラ(ゲートウェイ)間の通信路として、公衆網が使われる場合を前提としている。なお、エンドツーエンドで伝送路の安全性・信頼性が確保されているネットワークが使われる場合には、セキュリティ担保を条件に、上記の対策の強度に関して事業者に一定の裁量を認めうるものと考えられる。' }),
      control('erab-3.3.4-1', '§3.3.4 R5', 'R5 相互認証・通信の暗号化',
        'コントローラ(ゲートウェイ)～需要家側に設置される ERAB 制御対象のエネルギー機器間を相互認証・通信の暗号化により保護すること（推奨）',
        'R5 (controller/gateway ↔ energy devices at the customer): mutual authentication and encryption, e.g. by following the interface body\'s own measures.', { level: '推奨', actors: ['ems'], iface: 'R5',
          guidance: 'これらの機器における相互認証と通信の暗号化によるサイバーセキュリティ対策は、機器間インターフェースの管理団体が定めたサイバーセキュリティ対策に準拠する等の方法による実装を推奨する。' }),
    ],
  },
  {
    id: 'erab-3.4', title: '3.4 取り扱い情報の差異による ERAB システムの分類',
    controls: [
      control('erab-3.4.1', '§3.4.1', 'センサーデータの盗聴・改ざん対策',
        '保有するデータを盗聴・改ざんされるという脅威・リスクへの対策が必要となる。',
        'Aggregators whose service resembles an IoT sensor-data service protect the data they hold against eavesdropping and tampering (non-personal data too, per the NISC framework items a)–f)).', { level: '記載なし', actors: ['aggregator'], note: '本文は「必要となる」と述べ、勧告/推奨の別を記さない。',
          guidance: 'a) 範囲・対象を含めた定義と特性に基づく分類 b) 機密性・完全性・可用性・安全確保の要件 c) 確実な動作の確保と障害時の迅速な回復 d) 安全確保水準の明確化 e) 故障・サイバー攻撃時も各項目を確保し迅速に復旧 f) 責任分界点とデータの取扱い' }),
      control('erab-3.4.2', '§3.4.2', '個人情報保護法に依拠した対策',
        '保有するデータを盗聴・改ざんされるという脅威・リスクへの対策に加え、そのシステムが個人情報を扱う場合には、個人情報保護法に依拠した対策が必要となる。',
        'Aggregators handling personal information also take the measures the Act on the Protection of Personal Information requires (safe-management duty, PPC guidelines, leak response notice).', { level: '記載なし', actors: ['aggregator'], note: '本文は法令上の義務として「必要となる」と述べ、勧告/推奨の別を記さない。' }),
    ],
  },
  {
    id: 'erab-3.5', title: '3.5 標準対策要件に基づく詳細対策要件の設計（勧告）',
    controls: [
      ['i', '(i) 抑止', 'deterrence'], ['ii', '(ii) 内部防御／情報保護', 'internal defence / information protection'],
      ['iii', '(iii) 侵入・攻撃検知', 'intrusion and attack detection'], ['iv', '(iv) 被害把握／事業継続', 'damage assessment / business continuity'],
    ].map(([k, ja, en]) => control(`erab-3.5-${k}`, `§3.5 ${ja.split(' ')[0]}`, `詳細対策要件: ${ja}`,
      `ERAB システムの構成要素毎に想定される脅威、当該脅威と事業リスクとの相関関係を踏まえつつ、${ja}フェーズにおける当該脅威に対する対策例を詳細に検討し、規定する。`,
      `Each participant designs detailed requirements per system component for the ${en} phase.`, { level: '勧告', actors: ALL })).concat([
      control('erab-3.5-targeted', '§3.5 標的型', '詳細対策要件: 標的型攻撃等への対策',
        '標的型攻撃等への対策、サイバー攻撃と物理攻撃の組合せによる攻撃への対策など、構成要素毎に実施すべき対策ではなく、ERAB システムに関係する特定のテーマに応じた対策について規定する。',
        'Detailed requirements also cover theme-wide measures: targeted attacks and combined cyber-physical attacks (designed on the IPA IoT design guide and the JESC power-control-system guideline).', { level: '勧告', actors: ALL }),
    ]),
  },
  {
    id: 'erab-3.6', title: '3.6 ガイドラインの継続的改善（推奨。一部勧告）',
    controls: [
      control('erab-3.6-1', '§3.6-1', '詳細対策要件の定期的な点検・更新',
        '少なくとも詳細対策要件については、定期的にその内容が点検・更新されることが推奨される。',
        'Review and update the detailed requirements periodically.', { level: '推奨', actors: ALL }),
      control('erab-3.6-2', '§3.6-2', '脆弱性顕在化時の随時更新',
        'なお、脆弱性が顕在化するなど早急な対策が求められる際には随時更新されることが勧告される。',
        'Update them at once when a vulnerability surfaces or urgent measures are needed.', { level: '勧告', actors: ALL }),
      control('erab-3.6-3', '§3.6-3', '標準・詳細対策要件の相互見直し',
        'また、標準対策要件と詳細対策要件は相互に連携するものであるため、一方の見直しが行われた際に、他方の見直しが必要になると判断される場合は適切に対処することが重要である。',
        'When one of the standard or detailed requirements is revised, revise the other where needed.', { level: '推奨', actors: ALL, note: '項目自体は「重要である」。節の見出しの「推奨」に従った。' }),
    ],
  },
  {
    id: 'erab-4', title: '4 各事業者における対策の在り方（推奨）',
    controls: [
      control('erab-4.1-1', '§4.1', 'PDCA サイクルと運用・管理体制',
        'ERAB に参画する各事業者においては、PDCA サイクルを回すことができる運用・管理体制を構築する。',
        'Run security as a PDCA cycle (set, implement, evaluate, improve) with an organisation able to run it; spend proportionately.', { level: '推奨', actors: ALL }),
      control('erab-4.1.1-1', '§4.1.1', '経営リスク評価に基づく対策の設定',
        '経営上のリスクを適切に評価した上で、本ガイドラインに記載された要求事項にとどまらず、自社の ERAB システムが満たすべき対策を適切に設定することが推奨される。',
        'Set the measures your ERAB system must meet after assessing business risk, beyond this guideline\'s requirements.', { level: '推奨', actors: ALL }),
      control('erab-4.1.2-1', '§4.1.2-1', '実施状況・有効性の評価と改善',
        'セキュリティ対策の実施状況の評価、セキュリティ対策の有効性の評価を行うことにより、自社のセキュリティ対策の改善を図ることが推奨される。',
        'Evaluate how far the measures are implemented and how effective they are, and improve them.', { level: '推奨', actors: ALL }),
      control('erab-4.1.2-2', '§4.1.2-2', '内部監査',
        'セキュリティ対策の実施状況の評価については、内部監査の実施（が推奨される）',
        'Internal audit of the measures\' implementation.', { level: '推奨', actors: ALL }),
      control('erab-4.1.2-3', '§4.1.2-3', '第三者による外部監査',
        'セキュリティ対策の有効性の評価については、内部監査に加え、国際標準に準じた第三者による外部監査を受けることが推奨される。',
        'External third-party audit following an international standard (CC, IEC 62443-2, ISO/IEC 27001).', { level: '推奨', actors: ALL }),
      control('erab-4.1.3-1', '§4.1.3-1', '監視・インシデント対応体制',
        'システムの状況の監視やインシデントへの対応が可能な体制を構築することが推奨される。',
        'An organisation able to monitor the system and respond to incidents.', { level: '推奨', actors: ALL }),
      control('erab-4.1.3-2', '§4.1.3-2', '異常を最小限にとどめる対応',
        'インシデント発生時には、そのインシデントがより大規模な事故に発展しないよう、その異常を最小限にとどめるための対応及び対応体制の構築が推奨される。',
        'On an incident, contain it so it does not grow into a larger accident.', { level: '推奨', actors: ALL }),
      control('erab-4.1.3-3', '§4.1.3-3', '対応計画の策定と継続的な訓練',
        '有事の際の対応計画を策定するとともに継続的に訓練を実施することが推奨される。',
        'An incident response plan, exercised continuously.', { level: '推奨', actors: ALL }),
      control('erab-4.1.3-4', '§4.1.3-4', '収集ログの選別と恒常的な分析',
        'システムの異常の予兆を検知するとともに異常の発生時にその要因を特定できるようにするため、収集すべきログを選別し、恒常的にその分析を行うことが推奨される。',
        'Select the logs to collect and analyse them constantly, to see signs of anomalies and find their cause.', { level: '推奨', actors: ALL }),
      control('erab-4.1.3-5', '§4.1.3-5', '脆弱性関連情報の共有・管理',
        '事業者、システムの構築メーカー、事業者間の調整を担う機関、脆弱性関連情報の分析等を担う機関の間において、脆弱性関連情報を共有・管理することが推奨される。',
        'Share and manage vulnerability information among operators, system builders, coordinators and analysis bodies (e.g. JVN iPedia).', { level: '推奨', actors: ALL }),
    ],
  },
];
// Table 2 (参考): one control per cell item, grouped by function.
const table2 = [
  ['tokatsu', 'セキュリティ統括', 'security governance', [
    ['社内全体のセキュリティに関する取組の統括 ーリスク評価、ペネトレーションテスト等の計画・実施・管理', 'Lead company-wide security work: plan, run and manage risk assessment and penetration tests'],
    ['経営層、関係各部へのセキュリティに関する情報の提供', 'Inform management and departments about security'],
  ], [
    ['経営層、関係各部へのセキュリティ事故に関する情報の提供', 'Inform management and departments about security incidents'],
    ['行政機関等の外部への説明、社内の広報部門への情報提供', 'Explain to authorities and outside parties; inform public relations'],
  ]],
  ['jiko', 'セキュリティ事故対応', 'incident response', [
    ['有事の際の対応計画の策定、訓練の実施', 'Draw up the incident plan and run exercises'],
    ['攻撃情報の提供、受領、分析', 'Provide, receive and analyse attack information'],
    ['セキュリティに関するログの横断的分析等の実施', 'Cross-system analysis of security logs'],
  ], [
    ['インシデントへの二次対応・応援', 'Second-line incident response and support'],
    ['(必要に応じ) インシデント調査に係る外部リソースの調達', 'Procure outside resources for investigation when needed'],
    ['インシデントの分析・報告書の作成', 'Analyse the incident and write the report'],
  ]],
  ['kanshi', 'セキュリティ監視', 'security monitoring', [
    ['運用監視機能への作業指示、作業結果管理', 'Instruct operations monitoring and manage the results'],
    ['セキュリティに関するログの定型分析', 'Routine analysis of security logs'],
  ], [
    ['運用監視機能からの連絡によるインシデントへの一次対応', 'First-line response on a report from operations monitoring'],
    ['インシデントに伴う、運用監視機能への緊急作業指示、作業結果管理', 'Urgent instructions to operations monitoring and manage the results'],
  ]],
  ['unyo', '運用監視', 'operations monitoring', [
    ['システムの監視 ー性能監視、死活監視、イベント監視等', 'Monitor the system: performance, liveness, events'],
    ['インシデント検知時のセキュリティ監視への連絡', 'Report detected incidents to security monitoring'],
    ['通常システムの運用業務', 'Routine system operation'],
  ], [
    ['セキュリティ監視機能からの指示に基づく対応作業の実施', 'Carry out response work as security monitoring instructs'],
    ['(必要に応じ) 事故対応で必要となるログの収集', 'Collect the logs incident response needs, when needed'],
  ]],
];
const circled = '①②③④';
erabGroups.push({
  id: 'erab-table2', title: '表2 スマートメーターシステムにおけるセキュリティ運用体制の例（参考）',
  controls: table2.flatMap(([key, fn, fnEn, normal, emergency]) => [
    ...normal.map(([ja, en], i) => control(`erab-t2-${key}-normal-${i + 1}`, `表2 ${fn} 平時${circled[i]}`, `${fn}（平時）${circled[i]}`, ja, `${fnEn}, normal times: ${en}.`, { level: '参考', actors: ALL })),
    ...emergency.map(([ja, en], i) => control(`erab-t2-${key}-emergency-${i + 1}`, `表2 ${fn} 有事${circled[i]}`, `${fn}（有事）${circled[i]}`, ja, `${fnEn}, in an incident: ${en}.`, { level: '参考', actors: ALL })),
  ]),
});

// ---------------------------------------------------------------- 自家用電気工作物 guideline (explainer)
const S = { A: '推奨', B: '推奨', C: '推奨' };
const K = { A: '勧告', B: '推奨', C: '推奨' };
const N = { A: '-', B: '-', C: '-' };
const J = (id, label, title, ja, en, levels, o = {}) => control(`jk-${id}`, label, title, ja, en, { levels, ...o });
const TITLE_ONLY = { verified: 'seed-title-only', note: '解説資料は条項名と区分のみを示す（本文なし）。' };
const jkGroups = [
  { id: 'jk-ch1', title: '第1章 総則', controls: [
    J('1-2', '第1-2条', '適用範囲', '本ガイドラインの適用範囲は、設置者が施設する自家用電気工作物の遠隔監視システム及び制御システム並びにこれらのシステムに付随するネットワークを対象とし、これらに携わる者に適用します。',
      'Scope: remote-monitoring and control systems of private-use electrical facilities, their networks, and everyone involved (owner, outsourced safety staff, the grid company, monitoring service providers). New equipment, and existing equipment when its system changes.', N, { note: '区分は「-」（総則）。' }),
    J('1-3', '第1-3条', '対象となるシステムの区分', '区分A：自家発電設備を持っており、余剰電力を売電している事業者 / 区分B：自家発電設備を持っており、自家消費を行っている事業者 / 区分C：遠隔監視システムや制御システムを持っている事業者',
      'Categories: A sells surplus generation to the grid (grid-connected, reverse flow), B generates for own use only, C has remote-monitoring or control systems.', N, { note: '区分は「-」（総則）。' }),
    J('1-4', '第1-4条', '想定脅威', 'まずは攻撃を受ける可能性のある設備や想定される被害を洗い出し、それに対する対策の必要性を検討していただく必要があります。',
      'Assumed threats: list the equipment that may be attacked and the damage expected, and decide which measures are needed (a recorded risk assessment).', N, { note: '区分は「-」（総則）。本文は解説資料の説明から。' }),
  ], parts: [
    { id: 'jk-1-1', name: 'item', title: '第1-1条 目的', prose: '目的（区分「-」: 要求事項を含まない）' },
    { id: 'jk-1-5', name: 'item', title: '第1-5条 用語の定義', prose: '用語の定義（区分「-」: 要求事項を含まない）。勧告的事項：設置者等が実施すべきこと。推奨的事項：設置者等が実施の要否及び実施方法を判断すべきこと。' },
  ] },
  { id: 'jk-ch2', title: '第2章 組織', controls: [
    J('2-1', '第2-1条', '体制', '体制', 'Organisation: establish the security management organisation (セキュリティ管理責任組織), with its structure, roles, responsibilities, purpose and target systems made clear.', K, TITLE_ONLY),
    J('2-2', '第2-2条', '役割', '役割', 'Roles: assign security roles, including a person responsible for security management.', K, TITLE_ONLY),
    J('2-3', '第2-3条', 'セキュリティ教育', 'セキュリティ教育', 'Security education and training of staff.', S, TITLE_ONLY),
  ] },
  { id: 'jk-ch3', title: '第3章 文書化', controls: [
    J('3-1', '第3-1条', '文書管理', '文書管理', 'Document management: keep the security documents (rules, procedures) maintained.', S, TITLE_ONLY),
    J('3-2', '第3-2条', '実施状況の報告', '実施状況の報告', 'Report the implementation status of the measures.', S, TITLE_ONLY),
  ] },
  { id: 'jk-ch4', title: '第4章', controls: [
    J('4-1', '第4-1条', 'セキュリティ管理', 'セキュリティ管理', 'Security management of the systems in scope.', S, { ...TITLE_ONLY, note: '解説資料は章名を示さない。条項名と区分のみ。' }),
  ] },
  { id: 'jk-ch5', title: '第5章 機器', controls: [
    J('5-1', '第5-1条', 'セキュリティ仕様の確認', 'セキュリティ仕様の確認', 'Confirm the security specification of equipment.', S, TITLE_ONLY),
    J('5-2', '第5-2条', '機器の取り扱い', '機器の取り扱い', 'Handling of equipment.', S, TITLE_ONLY),
  ] },
  { id: 'jk-ch6', title: '第6章 通信のセキュリティ', controls: [
    J('6-1-1', '第6-1条(1)', '暗号化', 'データが傍受、改ざんされた場合のリスクを考慮し、必要に応じてデータを暗号化すること', 'Encrypt data where needed, considering the risk of interception and tampering.', S,
      { note: '概要表は第6-1条を一項目とするが、詳細表は(1)暗号化と(2)通信プロトコルの最適化の二項目を示す。詳細表に従った。' }),
    J('6-1-2', '第6-1条(2)', '通信プロトコルの最適化', '通信路上のセキュリティ確保が必要な区間を予め定め、その内容に従って通信プロトコルを選択すること 採用した通信プロトコルについては、ぜい弱性情報を定期的に収集すること 通信プロトコルをカスタマイズする場合は、当初のセキュリティ機能を損なうことがないように実装すること',
      'Decide beforehand which links need protection and choose protocols accordingly; collect vulnerability information on the protocols used; customise a protocol without weakening its security functions.', S),
    J('6-2-1', '第6-2条(1)', '外部ネットワークとの分離', '遠隔監視システム等、制御システム等と外部ネットワークとは、分離すること', 'Separate the monitoring and control systems from external networks.', S),
    J('6-2-2', '第6-2条(2)', '接続点の最小化', '他ネットワークとの接続点は、最小化すること', 'Minimise the connection points to other networks.', K),
    J('6-2-3', '第6-2条(3)', '接続点の防御', '他ネットワークとの接続点に防御措置を講じること', 'Protect the connection points to other networks.', K),
    J('6-2-4', '第6-2条(4)', '接続制御', '予め許可された機器以外の接続を許可しない仕組みを講じること', 'Admit no connection from equipment not allowed in advance.', S),
    J('6-2-5', '第6-2条(5)', '認証', '通信相手が予め許可された機器であることを確認する仕組みを講じること', 'Verify that the communicating peer is equipment allowed in advance.', S),
    J('6-2-6', '第6-2条(6)', 'ネットワーク分割', '遠隔監視システム等、制御システム等内において、利用目的等に応じてネットワークを分割すること', 'Divide the networks inside the systems by purpose (e.g. monitoring vs control).', S),
  ] },
  { id: 'jk-ch7', title: '第7章 システムのセキュリティ', controls: [
    J('7-1-1', '第7-1条(1)', '不正プログラム防止', '遠隔監視システム、制御システムにおいて、予め定められたプログラムのみが実行されるようにすること', 'Only predetermined programs run on the monitoring and control systems.', S),
    J('7-1-2', '第7-1条(2)', '不正処理防止', '遠隔監視システム、制御システムにおいて、コマンドが不正に発行されないような仕組みを構築し、特に重要なコマンドについては、誤ってコマンドが発行されない仕組みを構築すること', 'Prevent commands being issued illegitimately, and critical commands being issued by mistake.', S),
  ] },
  { id: 'jk-ch8', title: '第8章 運用のセキュリティ', controls: [
    J('8-1-1', '第8-1条(1)', '管理者権限の適切な割当', '誰がその管理者権限を利用して業務を遂行したかを確認し、及び記録する仕組みを構築する 管理者権限を悪用した不正行為がないことを確認する仕組みを構築する 管理者権限の割り当て状況を、定期的に確認する',
      'Record who used administrator rights; check they were not abused; review their assignment periodically.', S),
    J('8-1-2', '第8-1条(2)', '機器のマルウェア対策', '遠隔監視システム等、制御システム等の機器のうち、データの授受を行う端末については、マルウェア対策を実施すること', 'Anti-malware on the terminals that exchange data.', S),
    J('8-1-3', '第8-1条(3)', '外部記憶媒体等のマルウェア対策', '遠隔監視システム等、制御システム等に接続する外部記憶媒体や可搬型の機器について、異常のないことを確認する ・ 接続前にウイルスチェック等を行う ・ 事前にウイルスチェック等を行った証跡を提出させる',
      'Check removable media and portable devices before connecting them (virus check; evidence of the check).', K),
    J('8-1-4', '第8-1条(4)', 'ログの取得', '遠隔監視システム等、制御システム等のログについては、取得する対象、保存期間、件数、定期的に確認すべき項目等を当該システムの構成等を考慮して予め設定すること',
      'Set beforehand what is logged, for how long, how many records, and what is reviewed periodically.', S),
    J('8-2-1', '第8-2条(1)', '機器・外部記憶媒体の管理', '機器はその構成情報（管理番号、設置箇所、ソフトウェアのバージョン等）も含めて把握し、存在について確認する 可搬型の機器・外部記憶媒体は、利用状況を把握し、適切に管理する',
      'Know every device with its configuration (asset number, location, software version) and confirm it exists; track portable devices and media.', S),
    J('8-3-1', '第8-3条(1)', 'データの管理', '遠隔監視システム等、制御システム等に関連するデータを把握し、適切に管理及び保護すること。また、プライバシー情報が含まれる場合は、プライバシーに関する規定に基づいて保護する',
      'Know, manage and protect the systems\' data; protect privacy information under the privacy rules.', S),
    J('8-4-1', '第8-4条(1)', '情報の収集（脆弱性）', '遠隔監視システム、制御システムで利用する機器やソフトウェア、通信プロトコル等におけるぜい弱性に関する情報を定期的に収集すること', 'Collect vulnerability information on the devices, software and protocols in use, periodically.', S,
      { note: '概要表は第8-4条を一項目「脆弱性の管理」とするが、詳細表は三項目を示す。詳細表に従った。' }),
    J('8-4-2', '第8-4条(2)', '対応手順の策定', '収集したぜい弱性に対する対応手順を策定すること 対応手順には、適用した場合の影響評価や、それらを適用できない場合の対応を含めておくこと', 'A procedure for the vulnerabilities found, with impact assessment and what to do when a fix cannot be applied.', S),
    J('8-4-3', '第8-4条(3)', 'セキュリティパッチの適用', 'セキュリティパッチを適用しないことによるセキュリティリスクと、適用することによる可用性及び性能への影響を踏まえ、可能であればセキュリティパッチを適用するか、代替策を適用すること 適用を見送る場合は、残存リスクを管理すること',
      'Apply security patches where possible, or a compensating measure; manage the residual risk when a patch is deferred.', S),
  ] },
  { id: 'jk-ch9', title: '第9章', controls: [
    J('9-1', '第9-1条', '物理セキュリティ', '物理セキュリティ', 'Physical security (security zones, access control).', S, { ...TITLE_ONLY, note: '解説資料は章名を示さない。条項名と区分のみ。' }),
  ] },
  { id: 'jk-ch10', title: '第10章 事故対応', controls: [
    J('10-1', '第10-1条', '情報の収集', '情報の収集', 'Collect information for incident handling.', S, TITLE_ONLY),
    J('10-2', '第10-2条', 'セキュリティ事故の対応体制等', 'セキュリティ事故の対応体制等', 'Incident response organisation.', S, TITLE_ONLY),
    J('10-3', '第10-3条', 'セキュリティ事故の報告と情報共有', 'セキュリティ事故の報告と情報共有', 'Report incidents and share information.', S, TITLE_ONLY),
    J('10-4', '第10-4条', '周知と訓練', '周知と訓練', 'Awareness and exercises.', S, TITLE_ONLY),
  ] },
];

function catalog(key, title, version, published, groups, remarks) {
  return {
    catalog: {
      uuid: uuid(`catalog:${key}`),
      metadata: {
        title, 'last-modified': '2026-12-06T00:00:00Z', version, 'oscal-version': '1.1.2',
        props: [prop('source-version', version), prop('source-published', published)],
        remarks,
      },
      groups,
    },
  };
}

writeFileSync(join(here, 'erab-v1.1.json'), JSON.stringify(catalog('erab-v1.1',
  'エネルギー・リソース・アグリゲーション・ビジネスに関するサイバーセキュリティガイドライン Ver1.1',
  '1.1', '2017-11-29', erabGroups,
  '資源エネルギー庁・IPA。勧告: 実装を必須として義務付けるべきもの。推奨: 各事業者が各自の責任においてその実装を検討すべきもの（§3.1）。Japanese text as written, footnote markers left out. Levels as written in the text of Ver1.1; 参考 = Table 2 (an example); 記載なし = the text states no level.'), null, 2) + '\n');
writeFileSync(join(here, 'jikayou.json'), JSON.stringify(catalog('jikayou',
  '自家用電気工作物に係るサイバーセキュリティの確保に関するガイドライン（解説資料 2023/7 に基づく）',
  '2022', '2022-06-10', jkGroups,
  '区分A : 勧告事項あり / 区分B/C : 推奨。勧告的事項は区分Aのみ; 同じ項目は区分B・Cでは推奨。推奨的事項を講じない場合は検討の記録（理由）を残す必要有り（Q&A）。Items and levels as the explainer\'s tables give them.'), null, 2) + '\n');
