/**
 * The texts of the errors an operator meets, in English and Japanese, keyed (issue 16: every
 * message an operator reads in both). An error thrown with a key (errors.ts `explain`) keeps the
 * English text as its `message` (for logs and the API's `error` field); the CLI (src/cli/locales,
 * i18next) and the console (src/web/console-messages.ts) hold these same trees under `errors` and
 * render the key in the operator's language, falling back to the English message.
 *
 * Placeholders are i18next's `{{name}}`; the English text here is the one source of the message.
 * A Japanese text may use `{{xJa}}` where the English one has `{{x}}`: a value that is itself
 * text, given in both languages (request.badQuery's `rule` and `ruleJa`).
 */

const en = {
  access: {
    notOperatorCertificate: 'only operator certificates may use {{path}}, not {{role}}',
    needsRole: '{{method}} {{path}} needs the role {{needed}}; operator {{operator}} is {{role}}',
    rejectNeedsApprover: 'rejecting command {{id}}, submitted by {{submitter}}, needs the role approver; operator {{operator}} is {{role}}',
  },
  command: {
    notOperator: '{{what}}: {{role}} {{id}} is not an operator',
    unknown: '{{verb}}: no command {{id}}',
    notHeld: '{{verb}}: command {{id}} is {{state}}, not waiting for approval',
    sameOperator: '{{verb}}: operator {{operator}} submitted command {{id}}; a second, different operator must approve it (自家用GL 7-1-2)',
    tooManyHeld: 'manual command: {{max}} commands are already waiting for approval',
    badAction: 'manual command: action "{{action}}" must be reduce, increase or release',
    badPower: 'manual command: powerW must be a finite number > 0',
    badDuration: 'manual command: durationMs must be an integer from 1 ms to 24 h',
    badResources: 'manual command: resources must be "fleet", a non-empty list of resource ids or { "pool": "<id>" }',
    tooManyResources: 'manual command: more than {{max}} resources',
    badResourceId: 'manual command: every resource id must be a string of 1-128 characters',
    noReason: 'manual command: reason must be given (1-500 characters); it is recorded in the audit log',
    notInFleet: 'manual command: {{noun}} {{ids}} not in the fleet',
    badPool: 'manual command: resources.pool must be a pool id of 1-128 characters ({ "pool": "<id>" })',
    unknownPool: 'manual command: pool {{pool}} has no resource in the fleet',
    badStart: 'manual command: startAt must be epoch milliseconds or an ISO 8601 date-time with an offset',
    startInPast: 'manual command: startAt {{start}} is not in the future (now {{now}})',
    startTooFar: 'manual command: startAt {{start}} is more than 24 h ahead (latest {{latest}})',
    startPassed: 'approve: command {{id}} was to start at {{start}}, which has passed; it can no longer run as asked: submit it again with a new start',
    notApproved: 'command {{id}} is {{state}}; only approved commands run',
    notAllocated: 'operator command {{id}} could not be allocated: {{why}}',
  },
  config: {
    fileInvalid: 'configuration file {{file}} is invalid:',
    invalid: 'configuration is invalid:',
    roleInvalid: '{{role}} configuration is invalid:',
    cannotRead: 'cannot read configuration file {{file}}: {{why}}',
    notJson: 'configuration file {{file}} is not valid JSON: {{why}}',
    sectionInvalid: '{{section}} is invalid:',
    scheduleInvalid: 'schedule file {{file}} is invalid:',
    rulesInvalid: 'detection rules in {{file}} are invalid:',
    rulesUnreadable: 'detection rules file {{file}}: {{why}}',
    overridesInvalid: 'detection rule overrides are invalid:',
    unknownRule: 'detection rule override "{{id}}": no such rule (known: {{known}})',
    overrideInvalid: 'detection rule override "{{id}}" is invalid:',
  },
  pki: {
    passphraseUnreadable: 'passphrase file {{file}} cannot be read ({{why}})',
    passphraseEmpty: 'passphrase file {{file}} is empty',
    roleAndId: '--role and --id are both required',
    codeSigningHost: 'a code-signing certificate names no host: leave out --dns and --ip',
    codeSigningP12: '--p12 is for TLS certificates imported into a browser, not code-signing keys',
    p12PassFileAlone: '--p12-passphrase-file needs --p12 <file>',
    p12NeedsPassphrase: '--p12 needs a passphrase: --p12-passphrase-file <file> or $ERAB_P12_PASSPHRASE (never on the command line)',
    exportNeedsPassphrase: 'a PKCS#12 file needs a passphrase: --p12-passphrase-file <file> or $ERAB_P12_PASSPHRASE (never on the command line)',
    noCurrent: 'no TLS certificate of {{role}} {{id}} in {{dir}}: issue one with erab pki issue',
    currentNotValid: 'the current certificate of {{role}} {{id}} (serial {{serial}}) is {{status}}: rotate or issue a new one first',
    serialOrRole: 'give either --serial or --role with --id, not both',
    serialOrRoleMissing: 'give --serial, or --role with --id',
    caPassEmpty: 'CA passphrase must not be empty',
    keyEncrypted: '{{source}}: the private key is encrypted; a passphrase is required (--passphrase-file or ERAB_CA_PASSPHRASE)',
    wrongPassphrase: '{{source}}: wrong passphrase for the encrypted private key (or the key is corrupt)',
    p12PassShort: 'PKCS#12 passphrase: must be at least {{min}} characters',
    caExists: 'a CA already exists in {{dir}}; refusing to overwrite it',
  },
  request: {
    badQuery: 'query parameter "{{name}}": {{rule}}',
    badBody: '{{path}}: {{rule}}',
    notFound: 'no {{method}} {{path}}',
    methodNotAllowed: '{{method}} not allowed on {{path}}',
    bodyTooLarge: 'request body exceeds {{max}} bytes',
    bodyNotJson: 'request body is not valid JSON: {{why}}',
  },
  /** The rules of request.badQuery that erab states itself (zod's own come from core/zod-rules.ts). */
  rule: {
    notRouteParameter: 'not a parameter of this route (it takes {{names}})',
    givenTwice: 'given twice',
    unknownParameter: 'unknown parameter; this route takes {{names}}',
    givenMoreThanOnce: 'given more than once',
    integerRange: 'must be an integer from {{min}} to {{max}}',
    printable: 'must be 1-128 printable characters',
    oneOf: 'must be one of {{values}}',
    listOf: 'must be a comma-separated list of {{values}}',
    routeCursor: 'must be a nextCursor this route returned',
    listCursor: 'not a cursor this list gave (use nextCursor as it came)',
    controlId: 'a control id is required, e.g. erab-3.3.3-1',
  },
  notFound: {
    device: 'device {{id}}: not known to this gateway',
    event: 'event {{id}}: not known to this aggregator',
    command: 'command {{id}}: unknown',
    commandGone: 'event {{id}}: its command is no longer kept',
    dispatch: 'no dispatch {{id}}',
    alert: 'alert {{id}}: no such alert',
  },
  conflict: {
    alertAcked: 'alert {{id}}: already acknowledged by {{by}}',
  },
};

type Widen<T> = { [K in keyof T]: T[K] extends string ? string : Widen<T[K]> };

const ja: Widen<typeof en> = {
  access: {
    notOperatorCertificate: '{{path}} は運用者の証明書でのみ使えます（提示された証明書のロール: {{role}}）',
    needsRole: '{{method}} {{path}} にはロール {{needed}} が必要です。運用者 {{operator}} のロールは {{role}} です',
    rejectNeedsApprover: '{{submitter}} が登録したコマンド {{id}} の却下にはロール approver が必要です。運用者 {{operator}} のロールは {{role}} です',
  },
  command: {
    notOperator: '{{what}}: {{role}} {{id}} は運用者ではありません',
    unknown: 'コマンド {{id}} はありません',
    notHeld: 'コマンド {{id}} は承認待ちではありません（状態: {{state}}）',
    sameOperator: 'コマンド {{id}} は運用者 {{operator}} が登録したものです。別の二人目の運用者が承認してください（自家用GL 7-1-2）',
    tooManyHeld: '手動コマンド: すでに {{max}} 件が承認待ちです',
    badAction: '手動コマンド: 操作「{{action}}」は reduce、increase、release のいずれかにしてください',
    badPower: '手動コマンド: powerW は 0 より大きい有限の数にしてください',
    badDuration: '手動コマンド: durationMs は 1 ミリ秒から 24 時間までの整数にしてください',
    badResources: '手動コマンド: resources は "fleet"、リソース ID の空でないリスト、または { "pool": "<ID>" } にしてください',
    tooManyResources: '手動コマンド: リソースが {{max}} 件を超えています',
    badResourceId: '手動コマンド: リソース ID はそれぞれ 1〜128 文字の文字列にしてください',
    noReason: '手動コマンド: 理由（1〜500 文字）を入力してください。監査ログに記録されます',
    notInFleet: '手動コマンド: リソース {{ids}} はフリートにありません',
    badPool: '手動コマンド: resources.pool は 1〜128 文字のプール ID にしてください（{ "pool": "<ID>" }）',
    unknownPool: '手動コマンド: プール {{pool}} のリソースはフリートにありません',
    badStart: '手動コマンド: startAt はエポックミリ秒か、オフセット付きの ISO 8601 日時にしてください',
    startInPast: '手動コマンド: 開始時刻 {{start}} が未来ではありません（現在 {{now}}）',
    startTooFar: '手動コマンド: 開始時刻 {{start}} が 24 時間より先です（最も遅くて {{latest}}）',
    startPassed: '承認: コマンド {{id}} の開始時刻 {{start}} を過ぎたため、指定どおりには実行できません。新しい開始時刻で登録し直してください',
    notApproved: 'コマンド {{id}} は承認されていないため実行できません（状態: {{state}}）',
    notAllocated: '運用者コマンド {{id}} を配分できませんでした: {{why}}',
  },
  config: {
    fileInvalid: '設定ファイル {{file}} に誤りがあります:',
    invalid: '設定に誤りがあります:',
    roleInvalid: '{{role}} の設定に誤りがあります:',
    cannotRead: '設定ファイル {{file}} を読めません: {{why}}',
    notJson: '設定ファイル {{file}} は正しい JSON ではありません: {{why}}',
    sectionInvalid: '{{section}} に誤りがあります:',
    scheduleInvalid: 'スケジュールファイル {{file}} に誤りがあります:',
    rulesInvalid: '{{file}} の検知ルールに誤りがあります:',
    rulesUnreadable: '検知ルールファイル {{file}}: {{why}}',
    overridesInvalid: '検知ルールの上書き設定に誤りがあります:',
    unknownRule: '検知ルールの上書き「{{id}}」: そのようなルールはありません（あるのは {{known}}）',
    overrideInvalid: '検知ルールの上書き「{{id}}」に誤りがあります:',
  },
  pki: {
    passphraseUnreadable: 'パスフレーズファイル {{file}} を読めません（{{why}}）',
    passphraseEmpty: 'パスフレーズファイル {{file}} が空です',
    roleAndId: '--role と --id の両方が必要です',
    codeSigningHost: 'コード署名用の証明書はホストを含みません: --dns と --ip を外してください',
    codeSigningP12: '--p12 はブラウザに取り込む TLS 証明書用です。コード署名鍵には使えません',
    p12PassFileAlone: '--p12-passphrase-file には --p12 <ファイル> が必要です',
    p12NeedsPassphrase: '--p12 にはパスフレーズが必要です: --p12-passphrase-file <ファイル> か $ERAB_P12_PASSPHRASE（コマンドラインには書かないでください）',
    exportNeedsPassphrase: 'PKCS#12 ファイルにはパスフレーズが必要です: --p12-passphrase-file <ファイル> か $ERAB_P12_PASSPHRASE（コマンドラインには書かないでください）',
    noCurrent: '{{dir}} に {{role}} {{id}} の TLS 証明書がありません: erab pki issue で発行してください',
    currentNotValid: '{{role}} {{id}} の現在の証明書（シリアル {{serial}}）は {{status}} です: 先に更新するか新しく発行してください',
    serialOrRole: '--serial か、--role と --id の組か、どちらか一方を指定してください',
    serialOrRoleMissing: '--serial か、--role と --id を指定してください',
    caPassEmpty: 'CA のパスフレーズが空です',
    keyEncrypted: '{{source}}: 秘密鍵は暗号化されています。パスフレーズが必要です（--passphrase-file か ERAB_CA_PASSPHRASE）',
    wrongPassphrase: '{{source}}: 暗号化された秘密鍵のパスフレーズが違います（または鍵が壊れています）',
    p12PassShort: 'PKCS#12 のパスフレーズは {{min}} 文字以上にしてください',
    caExists: '{{dir}} にはすでに CA があります。上書きしません',
  },
  request: {
    badQuery: 'クエリパラメーター「{{name}}」: {{ruleJa}}',
    badBody: 'リクエスト本文 {{path}}: {{ruleJa}}',
    notFound: '{{method}} {{path}} はありません',
    methodNotAllowed: '{{path}} には {{method}} を使えません',
    bodyTooLarge: 'リクエスト本文が {{max}} バイトを超えています',
    bodyNotJson: 'リクエスト本文が正しい JSON ではありません: {{why}}',
  },
  rule: {
    notRouteParameter: 'このルートのパラメーターではありません（使えるのは {{names}}）',
    givenTwice: '二度指定されています',
    unknownParameter: '不明なパラメーターです。このルートで使えるのは {{names}} です',
    givenMoreThanOnce: '二度以上指定されています',
    integerRange: '{{min}} から {{max}} までの整数にしてください',
    printable: '1〜128 文字の表示可能な文字にしてください',
    oneOf: '{{values}} のいずれかにしてください',
    listOf: '{{values}} をカンマ区切りで並べてください',
    routeCursor: 'このルートが返した nextCursor を指定してください',
    listCursor: 'この一覧が返したカーソルではありません（nextCursor を受け取ったまま指定してください）',
    controlId: 'コントロール ID が必要です（例: erab-3.3.3-1）',
  },
  notFound: {
    device: '機器 {{id}} はこのゲートウェイにありません',
    event: '指令 {{id}} はこのアグリゲーターにありません',
    command: 'コマンド {{id}} はありません',
    commandGone: '指令 {{id}} のコマンドはもう保持されていません',
    dispatch: '指令 {{id}} はありません',
    alert: 'アラート {{id}} はありません',
  },
  conflict: {
    alertAcked: 'アラート {{id}} は {{by}} が確認済みです',
  },
};

/** The error texts of each language (the `errors` tree of the CLI's and the console's resources). */
export const ERROR_MESSAGES = { en, ja } as const;

type Leaves<T, P extends string = ''> = { [K in keyof T & string]: T[K] extends string ? `${P}${K}` : Leaves<T[K], `${P}${K}.`> }[keyof T & string];

/** A key of ERROR_MESSAGES, e.g. `command.notHeld`. */
export type ErrorKey = Leaves<typeof en>;

/** The values put in a key's placeholders. */
export type ErrorParams = Readonly<Record<string, string | number>>;

/**
 * The text of `key` in `lang` with its placeholders filled (what i18next renders from the same
 * tree); undefined when the language lacks the key.
 * @example errorText('ja', 'notFound.alert', { id: 7 }) // 'アラート 7 はありません'
 */
export function errorText(lang: keyof typeof ERROR_MESSAGES, key: string, params: ErrorParams = {}): string | undefined {
  let node: unknown = ERROR_MESSAGES[lang];
  for (const part of key.split('.')) node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[part] : undefined;
  if (typeof node !== 'string') return undefined;
  return node.replace(/\{\{\s*(\w+)\s*\}\}/g, (all, name: string) => (name in params ? String(params[name]) : all));
}
