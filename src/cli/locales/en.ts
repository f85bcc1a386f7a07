/** The CLI's operator-facing messages in English (keys shared with ja.ts). */
import { SUMMARY_EN } from '../../roles/demo/summary.js';

export const en = {
  common: {
    none: '–',
    yes: 'yes',
    no: 'no',
    kw: '{{value}} kW',
  },
  failure: {
    unexpected: 'unexpected error {{id}}: {{message}} (a bug in erab; the log line with errorId {{id}} has the details)',
    refused: 'refused (HTTP {{status}}): {{reason}}',
    short: 'command {{id}} is short by {{short}} kW: the addressed resources took {{allocated}} of {{power}} kW',
  },
  aggregator: {
    heading: '{{id}} at {{time}} · resources online {{online}} / {{total}} · awaiting approval {{pending}}',
    gateways: 'Gateways',
    noGateways: 'No gateway has registered yet.',
    events: 'Events',
    noEvents: 'No dispatch yet.',
    upstream: 'Upstream parties',
    refusals: 'Refusals',
    col: {
      gateway: 'gateway', resources: 'resources', lastReport: 'last report (JST)', reports: 'reports', signed: 'signed',
      event: 'event', direction: 'direction', start: 'start (JST)', end: 'end (JST)', koma: 'コマ', target: 'target kW', instructed: 'instructed kW',
      delivered: 'delivered kW', state: 'state', name: 'name', kind: 'kind', registered: 'registered', time: 'time (JST)', by: 'by', what: 'what', reason: 'reason',
    },
    direction: { reduce: 'reduce (下げ)', increase: 'increase (上げ)' },
    held: 'command {{id}} held: it waits for a second, different operator ({{why}})',
    short: 'command {{id}} is SHORT: only {{allocated}} kW of it could be allocated, {{short}} kW not covered',
    executed: 'command {{id}} executed: {{allocated}} kW allocated, {{short}} kW short',
    starts: 'it starts at {{start}} (コマ {{koma}})',
    rejected: 'command {{id}} {{state}}',
    series: { col: { time: 'time (JST)', target: 'target kW', instructed: 'instructed kW', delivered: 'delivered kW' } },
    devices: {
      col: { id: 'device', gateway: 'gateway', class: 'class', online: 'online', admission: 'admission', revision: 'revision' },
      none: 'No device matches.',
      more: 'More: --cursor {{cursor}}',
      state: { admitted: 'admitted', pending: 'pending', quarantined: 'quarantined', rejected: 'rejected', unknown: 'unknown' },
      sent: '{{decision}} of device {{device}} (revision {{revision}}) sent to gateway {{gateway}} as event {{event}}; its next inventory shows the new state',
      decision: { admit: 'admission', reject: 'rejection', quarantine: 'quarantine', release: 'release' },
      noRevision: 'device {{device}}: the aggregator shows no admission revision for it (not in the list, or its gateway has not reported one); give --revision',
    },
  },
  tso: {
    heading: '{{id}} ({{kind}}) · registered aggregators: {{registered}}',
    dispatches: 'Dispatches',
    noDispatches: 'No dispatch yet.',
    blocks: 'Blocks (コマ, 30 minutes)',
    issued: 'dispatch {{id}} issued: {{product}} {{direction}} to {{to}}',
    cancelled: 'dispatch {{id}} cancelled',
    col: {
      event: 'event', product: 'product', direction: 'direction', to: 'to', state: 'state', requestedWh: 'requested kWh', deliveredWh: 'delivered kWh',
      koma: 'コマ', start: 'start (JST)', end: 'end (JST)', requested: 'requested kW', delivered: 'delivered kW', time: 'time (JST)', who: 'who', action: 'action', reason: 'reason',
    },
  },
  alerts: {
    none: 'No alerts.',
    col: { id: 'no.', raised: 'last (JST)', severity: 'severity', rule: 'rule', status: 'status', source: 'key', summary: 'summary' },
    rulesCol: { id: 'rule', kind: 'kind', severity: 'severity', description: 'description', guideline: 'guideline' },
    acknowledged: 'acknowledged #{{id}} ({{rule}}, {{key}}) as {{operator}}; {{where}}',
    auditedIn: 'audited in {{dir}}',
    auditedLater: 'to be audited by the running role at its next detection pass',
  },
  incident: {
    none: 'No incidents.',
    col: { id: 'no.', status: 'status', severity: 'severity', title: 'title', opened: 'opened (JST)', by: 'by' },
    header: '#{{id}} [{{status}}] {{severity}}{{drill}} {{title}} (opened {{opened}} by {{by}})',
    drill: ' DRILL',
    /** A playbook step's outcome; `summary` is the timeline's record of it (kept as written). */
    stepDone: 'done: {{summary}}',
    stepFailed: 'FAILED: {{summary}}',
    noted: 'noted (#{{id}})',
    added: 'added (#{{id}}): {{summary}}',
    statusNow: '#{{id}} is {{status}}',
    /** `files` is `: <json file>` and/or ` <html file>`. */
    reportWritten: 'report of #{{id}} written{{files}}',
    /** The leak's legal clock (erab incident leak, leak-report, show). `report` preliminary or final (reportJa 速報 or 確報). */
    leak: {
      shown: 'personal-data leak — reports to the PPC:',
      declared: '#{{id}} is a personal-data leak; reports to the PPC:',
      recorded: '{{report}} report of #{{id}} recorded:',
      deadline: '{{label}}: due {{due}} — {{when}}',
      preliminaryTarget: '速報 preliminary (3 days)',
      preliminaryLimit: '速報 preliminary (5 days, limit)',
      final: '確報 final ({{days}} days)',
      reported: 'reported {{at}}',
      overdue: 'OVERDUE by {{hours}} h',
      left: '{{hours}} h left',
      noReminder: 'no reminder due',
      reminded: '#{{id}} {{deadline}} due {{due}}: reminded',
      remindedOverdue: '#{{id}} {{deadline}} due {{due}} (overdue): reminded',
    },
  },
  /** `erab drill run|list`; a check's name and detail are the drill record's (kept as written). */
  drill: {
    checkOk: 'ok   {{name}}: {{detail}}',
    checkFailed: 'FAIL {{name}}: {{detail}}',
    passed: 'PASSED',
    failed: 'FAILED',
    result: 'drill #{{id}} {{scenario}} against {{target}}: {{verdict}}; record {{file}}',
    none: 'no drills',
    listPassed: 'passed',
    listFailed: 'FAILED',
    listLine: '#{{id}} {{at}} {{scenario}} → {{target}}: {{verdict}}',
  },
  /** `erab update` and `erab release`. */
  update: {
    packed: 'packed {{id}}@{{version}} ({{files}} file(s), unsigned): {{out}}',
    signed: 'signed: {{out}}',
    valid: 'valid: {{id}}@{{version}} for {{target}}, signed by {{signer}} (serial {{serial}}), {{files}} file(s), sha256 {{sha256}}',
    published: 'published {{id}}@{{version}} to {{gateways}} (sha256 {{sha256}})',
    everyGateway: 'every gateway',
    releaseManifest: 'release manifest of {{files}} file(s): {{manifest}}\nsignature: {{signature}}',
    intact: 'intact: erab {{version}}, {{files}} file(s), signed by {{signer}}',
  },
  /** `erab gateway repin`. */
  gateway: {
    repinned: '{{device}} repinned from {{from}} to {{to}} (revision {{revision}}); identified there',
    repinnedNotYet: '{{device}} repinned from {{from}} to {{to}} (revision {{revision}}); not yet answering there',
  },
  /** The demo's summary (src/roles/demo/summary.ts writes it in English by itself). */
  demoSummary: SUMMARY_EN,
  demo: {
    console: 'Operator console: {{url}}',
    consoleP12: 'Import this certificate into your browser: {{file}}',
    consolePassphrase: 'Its passphrase: {{passphrase}}',
    consoleCa: 'The CA certificate (trust it for websites, or the browser warns): {{file}}',
    consoleStop: 'The demo keeps running until Ctrl-C.',
  },
} as const;

/** The message tree's shape, every leaf a string (ja.ts must provide each one). */
export type Messages = { [K in keyof typeof en]: Widen<(typeof en)[K]> };
type Widen<T> = { [K in keyof T]: T[K] extends string ? string : Widen<T[K]> };
