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
    badResources: 'manual command: resources must be "fleet" or a non-empty list of resource ids',
    tooManyResources: 'manual command: more than {{max}} resources',
    badResourceId: 'manual command: every resource id must be a string of 1-128 characters',
    noReason: 'manual command: reason must be given (1-500 characters); it is recorded in the audit log',
    notInFleet: 'manual command: {{noun}} {{ids}} not in the fleet',
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
    /** A field's problem (the first zod issue): `source` a file or 'command line' (sourceJa in Japanese), `rule` zod-rules.ts issueRule. */
    fieldRule: '{{source}}: {{path}}: {{rule}}',
    source: {
      commandLine: 'command line',
      siteConfig: 'site config',
    },
    newConfigNotJson: 'the new configuration is not JSON ({{why}})',
    newConfigField: 'the new configuration: field {{path}}: {{rule}}',
    newConfigOtherGateway: 'the new configuration is for gateway {{found}}, not {{expected}}',
    speedRange: 'speed {{speed}} must be between 1 and 10000',
    certIssuedTo: '{{field}} {{file}} is issued to {{role}}:{{id}}, not {{expected}}',
    peerCertIssuedTo: '{{field}} is issued to {{role}}:{{id}}, not {{expected}}',
    certUnreadable: '{{field}} {{file}} cannot be read: {{why}}',
    deviceCertIssuedTo: 'webApi.tls.certFile {{file}} is issued to {{role}}:{{id}}, not a device (issue one with: erab pki issue --role device --id <id> --ip {{address}})',
    secretUnreadable: '{{field}}: cannot read {{file}} ({{why}})',
    secretEmpty: '{{field}}: {{file}} is empty',
    required: '{{field}} is required',
    fileUnreadable: '{{field}} {{file}}: cannot read: {{why}}',
    envNotSet: '{{field}}: the environment variable {{name}} is not set',
    releaseCaMissing: 'release CA certificate {{file}} not found (set {{env}})',
    noDemoCertificate: 'no certificate issued for {{role}} {{id}}',
  },
  /** The key files of an audit log (signing.key, verifier.key) and of a witness (cosigner.key). */
  auditKey: {
    signingKeyExposed: '{{file}}: the audit signing key is readable by group or others (mode {{mode}}); chmod 600 it',
    witnessKeyExposed: '{{file}}: the witness key is readable by group or others (mode {{mode}}); chmod 600 it',
    unreadable: '{{file}}: {{why}}',
    originMismatch: '{{file}}: the audit log in {{dir}} was created with origin "{{found}}", not "{{expected}}"',
    witnessNameMismatch: '{{file}}: the witness in {{dir}} is named "{{found}}", not "{{expected}}"',
    signingKeyMissing: '{{file}}: missing, but {{dir}} already holds an audit log; a new key cannot continue it (restore the original signing key)',
    verifierMismatch: '{{file}} holds a different verifier key than the signing key; the log was signed by another key (restore the original signing.key)',
  },
  notify: {
    noEmail: 'contact {{id}} has no e-mail address',
    noWebhook: 'contact {{id}} has no webhook',
    httpsOnly: 'webhook {{url}}: only https is allowed',
  },
  device: {
    notIpv4: '"{{address}}" is not an IPv4 address',
    addressOverflow: 'address range from {{base}} overflows',
    countRange: 'count {{count}} is outside 1–20000',
  },
  /** The `erab` commands' refusals of their arguments and files. */
  cli: {
    unknownCommand: 'unknown command {{command}}',
    cannotRead: 'cannot read {{file}}: {{why}}',
    audit: {
      noDir: '{{dir}}: no such audit log directory',
      notDir: '{{dir}}: not an audit log directory (no segments/ and no {{file}})',
      checkpointUnreadable: '--checkpoint {{file}}: cannot read ({{why}})',
      checkpointCorrupt: '--checkpoint {{file}}: line {{line}}: {{why}}',
      checkpointEmpty: '--checkpoint {{file}}: no checkpoint note in it',
      outNotCreated: '--out {{file}}: cannot create ({{why}}); an existing export is never overwritten',
    },
    backup: {
      passphraseUnreadable: 'passphrase file {{file}} cannot be read ({{why}})',
      noPassphrase: 'no backup passphrase: give --passphrase-file or set ERAB_BACKUP_PASSPHRASE',
      archiveUnreadable: 'cannot read archive {{file}}: {{why}}',
      outExists: '--out {{file}} exists; choose a new file name',
      outNotWritten: '--out {{file}}: cannot write ({{why}})',
    },
    privacy: {
      previousNeedsCurrent: '--previous-kek-file needs --kek-file (the current key)',
      outNotCreated: '--out {{file}}: cannot create ({{why}})',
      rotateNeedsKeys: 'rotate-key needs --kek-file (the new key) and --previous-kek-file (the old one)',
      noAuditDir: 'give --audit-dir (or set ERAB_AGGREGATOR_AUDIT_DIR)',
      badDays: '--{{flag}} must be an integer 1..36500, got {{value}}',
      noRetention: 'no retention period: give --personal-days, --confidential-days or --operational-days, or --config with privacy.retention',
      erasureNeedsAudit: 'erasures are recorded in the audit log: give --audit-dir (or set ERAB_AGGREGATOR_AUDIT_DIR)',
    },
    notify: {
      dataUnreadable: '--data {{file}}: cannot read: {{why}}',
      dataNotJson: '--data {{file}}: not JSON: {{why}}',
      dataNotObject: '--data {{file}}: must be a JSON object',
    },
    vuln: {
      noHistory: 'asset "{{asset}}" has no history (see erab vuln inventory)',
      feedTooLarge: 'feed {{file}}: {{size}} bytes is more than the limit of {{max}}; nothing imported',
    },
    tso: {
      /** `what` names the file (sent in Japanese as whatJa). */
      fileUnreadable: 'cannot read {{what}} {{file}}: {{why}}',
      refused: '{{method}} {{path}}: {{status}} {{reason}}',
      unreachable: 'cannot reach {{url}}: {{why}}',
      file: {
        operatorCert: 'operator certificate',
        operatorKey: 'operator key',
        caCert: 'CA certificate',
      },
    },
    gateway: {
      noSoftwareDir: '{{file}}: updates.softwareDir is not set; there is no release to roll back',
      noDatabase: 'no gateway database at {{database}} (database in {{file}}); run the gateway first',
    },
    portfolio: {
      noAuditLog: '--audit-dir {{dir}}: no audit log there (create it with erab audit): {{why}}',
      importProblem: '{{file}}: {{count}} problem, nothing imported',
      importProblems: '{{file}}: {{count}} problems, nothing imported',
      noSite: '--site {{site}}: no such site',
    },
    /** The supervisor commands `erab demo` sends a running aggregator (aggregator-secops.ts). */
    supervisor: {
      storeNotOpen: '{{command}}: the aggregator\'s store is not open yet',
      notString: '{{command}}: {{name}} must be a non-empty string',
      badFormat: '{{command}}: format must be one of {{formats}}',
    },
    aggregator: {
      complianceInterval: '--compliance-interval-min must be a number of minutes from 1 to {{max}}, got "{{value}}"',
    },
    openadr: {
      vtnCertUnreadable: '--vtn-cert {{file}} cannot be read ({{why}})',
    },
    demo: {
      summaryNotWritten: 'cannot write the summary to {{file}}: {{why}}',
      badHostKind: '{{file}}: kind must be devices or gateways',
      otherKind: '{{file}} configures a {{found}}, not a {{expected}}',
      badParticipant: 'participant kind "{{kind}}" must be tso, retailer or aggregator',
    },
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
    badResources: '手動コマンド: resources は "fleet" か、リソース ID の空でないリストにしてください',
    tooManyResources: '手動コマンド: リソースが {{max}} 件を超えています',
    badResourceId: '手動コマンド: リソース ID はそれぞれ 1〜128 文字の文字列にしてください',
    noReason: '手動コマンド: 理由（1〜500 文字）を入力してください。監査ログに記録されます',
    notInFleet: '手動コマンド: リソース {{ids}} はフリートにありません',
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
    fieldRule: '{{sourceJa}}: 項目 {{path}} に誤りがあります: {{ruleJa}}',
    source: {
      commandLine: 'コマンドライン',
      siteConfig: 'サイトの設定',
    },
    newConfigNotJson: '新しい設定が JSON ではありません（{{why}}）',
    newConfigField: '新しい設定の項目 {{path}} に誤りがあります: {{ruleJa}}',
    newConfigOtherGateway: '新しい設定はゲートウェイ {{found}} のものです。このゲートウェイは {{expected}} です',
    speedRange: '速度 {{speed}} は 1 から 10000 までにしてください',
    certIssuedTo: '{{field}} の証明書 {{file}} は {{role}}:{{id}} に発行されたものです（必要なのは {{expected}} の証明書）',
    peerCertIssuedTo: '{{field}} の証明書は {{role}}:{{id}} に発行されたものです（必要なのは {{expected}} の証明書）',
    certUnreadable: '{{field}} の証明書 {{file}} を読めません: {{why}}',
    deviceCertIssuedTo: 'webApi.tls.certFile の証明書 {{file}} は {{role}}:{{id}} に発行されたもので、機器の証明書ではありません（発行するには: erab pki issue --role device --id <id> --ip {{address}}）',
    secretUnreadable: '{{field}}: {{file}} を読めません（{{why}}）',
    secretEmpty: '{{field}}: {{file}} が空です',
    required: '{{field}} を指定してください',
    fileUnreadable: '{{field}} {{file}} を読めません: {{why}}',
    envNotSet: '{{field}}: 環境変数 {{name}} が設定されていません',
    releaseCaMissing: 'リリース CA 証明書 {{file}} がありません（{{env}} で指定してください）',
    noDemoCertificate: '{{role}} {{id}} の証明書は発行されていません',
  },
  auditKey: {
    signingKeyExposed: '{{file}}: 監査ログの署名鍵がグループか他のユーザーから読める状態です（モード {{mode}}）。chmod 600 にしてください',
    witnessKeyExposed: '{{file}}: 証人（witness）の鍵がグループか他のユーザーから読める状態です（モード {{mode}}）。chmod 600 にしてください',
    unreadable: '{{file}}: 鍵を読み込めません（{{why}}）',
    originMismatch: '{{file}}: {{dir}} の監査ログはオリジン「{{found}}」で作られたものです（指定されたのは「{{expected}}」）',
    witnessNameMismatch: '{{file}}: {{dir}} の証人（witness）の名前は「{{found}}」です（指定されたのは「{{expected}}」）',
    signingKeyMissing: '{{file}} がありませんが、{{dir}} にはすでに監査ログがあります。新しい鍵ではこのログを続けられません（元の署名鍵を戻してください）',
    verifierMismatch: '{{file}} の検証鍵は署名鍵と一致しません。ログは別の鍵で署名されています（元の signing.key を戻してください）',
  },
  notify: {
    noEmail: '連絡先 {{id}} にはメールアドレスがありません',
    noWebhook: '連絡先 {{id}} には Webhook がありません',
    httpsOnly: 'Webhook {{url}}: https しか使えません',
  },
  device: {
    notIpv4: '「{{address}}」は IPv4 アドレスではありません',
    addressOverflow: '{{base}} からのアドレス範囲があふれます',
    countRange: '数 {{count}} は 1〜20000 の範囲外です',
  },
  cli: {
    unknownCommand: '不明なコマンドです: {{command}}',
    cannotRead: '{{file}} を読めません: {{why}}',
    audit: {
      noDir: '{{dir}}: 監査ログのディレクトリがありません',
      notDir: '{{dir}}: 監査ログのディレクトリではありません（segments/ も {{file}} もありません）',
      checkpointUnreadable: '--checkpoint {{file}} を読めません（{{why}}）',
      checkpointCorrupt: '--checkpoint {{file}}: {{line}} 行目: {{why}}',
      checkpointEmpty: '--checkpoint {{file}} にチェックポイントのノートがありません',
      outNotCreated: '--out {{file}} を作成できません（{{why}}）。既存のエクスポートは上書きしません',
    },
    backup: {
      passphraseUnreadable: 'パスフレーズファイル {{file}} を読めません（{{why}}）',
      noPassphrase: 'バックアップのパスフレーズがありません: --passphrase-file を指定するか ERAB_BACKUP_PASSPHRASE を設定してください',
      archiveUnreadable: 'アーカイブ {{file}} を読めません: {{why}}',
      outExists: '--out {{file}} はすでにあります。新しいファイル名を指定してください',
      outNotWritten: '--out {{file}} に書き込めません（{{why}}）',
    },
    privacy: {
      previousNeedsCurrent: '--previous-kek-file には --kek-file（現在の鍵）が必要です',
      outNotCreated: '--out {{file}} を作成できません（{{why}}）',
      rotateNeedsKeys: 'rotate-key には --kek-file（新しい鍵）と --previous-kek-file（古い鍵）が必要です',
      noAuditDir: '--audit-dir を指定してください（または ERAB_AGGREGATOR_AUDIT_DIR を設定してください）',
      badDays: '--{{flag}} は 1〜36500 の整数にしてください（指定された値: {{value}}）',
      noRetention: '保存期間がありません: --personal-days、--confidential-days、--operational-days のいずれか、または privacy.retention を含む --config を指定してください',
      erasureNeedsAudit: '消去は監査ログに記録されます: --audit-dir を指定してください（または ERAB_AGGREGATOR_AUDIT_DIR を設定してください）',
    },
    notify: {
      dataUnreadable: '--data {{file}} を読めません: {{why}}',
      dataNotJson: '--data {{file}} は JSON ではありません: {{why}}',
      dataNotObject: '--data {{file}} は JSON のオブジェクトにしてください',
    },
    vuln: {
      noHistory: '資産「{{asset}}」には履歴がありません（erab vuln inventory を参照してください）',
      feedTooLarge: 'フィード {{file}}: {{size}} バイトは上限 {{max}} バイトを超えています。何も取り込んでいません',
    },
    tso: {
      fileUnreadable: '{{whatJa}} {{file}} を読めません: {{why}}',
      refused: '{{method}} {{path}}: 拒否されました（HTTP {{status}}）: {{reason}}',
      unreachable: '{{url}} に接続できません: {{why}}',
      file: {
        operatorCert: '運用者の証明書',
        operatorKey: '運用者の鍵',
        caCert: 'CA 証明書',
      },
    },
    gateway: {
      noSoftwareDir: '{{file}}: updates.softwareDir が設定されていないため、戻すリリースがありません',
      noDatabase: '{{database}} にゲートウェイのデータベースがありません（データベースの指定は {{file}}）。先にゲートウェイを起動してください',
    },
    portfolio: {
      noAuditLog: '--audit-dir {{dir}} に監査ログがありません（erab audit で作成してください）: {{why}}',
      importProblem: '{{file}}: 問題が {{count}} 件あるため、何も取り込んでいません',
      importProblems: '{{file}}: 問題が {{count}} 件あるため、何も取り込んでいません',
      noSite: '--site {{site}}: そのようなサイトはありません',
    },
    supervisor: {
      storeNotOpen: '{{command}}: アグリゲーターのストアはまだ開かれていません',
      notString: '{{command}}: {{name}} は空でない文字列にしてください',
      badFormat: '{{command}}: format は {{formats}} のいずれかにしてください',
    },
    aggregator: {
      complianceInterval: '--compliance-interval-min は 1 から {{max}} までの分数にしてください（指定された値:「{{value}}」）',
    },
    openadr: {
      vtnCertUnreadable: '--vtn-cert {{file}} を読めません（{{why}}）',
    },
    demo: {
      summaryNotWritten: '概要を {{file}} に書き込めません: {{why}}',
      badHostKind: '{{file}}: kind は devices か gateways にしてください',
      otherKind: '{{file}} は {{found}} の設定です（{{expected}} の設定ではありません）',
      badParticipant: '参加者の種類「{{kind}}」は tso、retailer、aggregator のいずれかにしてください',
    },
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
