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
  },
  incident: {
    none: 'No incidents.',
    col: { id: 'no.', status: 'status', severity: 'severity', title: 'title', opened: 'opened (JST)', by: 'by' },
    header: '#{{id}} [{{status}}] {{severity}}{{drill}} {{title}} (opened {{opened}} by {{by}})',
    drill: ' DRILL',
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
