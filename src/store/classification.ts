/**
 * Every stored column, classified (ERAB §3.4 個人情報の保護; private-facility guideline 8-3: know
 * the relevant data and protect it by rule). One registry for all modules' tables, so a
 * reviewer sees the whole picture and test/store/classification.test.ts fails when a migration
 * adds a column without a tag here (or a tag outlives its column).
 *
 * - `personal`: about an identifiable person or household (a site's name and address, a
 *   contact's e-mail, an operator's name in an approval). Protected at rest, read only with a
 *   purpose and recorded in the access trail, kept no longer than its retention period.
 * - `confidential`: business or security data that must not leak (secrets, protocol payloads,
 *   device serials, vulnerability details), but is not about a person.
 * - `operational`: identifiers, timestamps, counters, states the system runs on.
 *
 * Identifiers such as site ids and VEN ids are pseudonymous (operational): they are how records
 * reference personal data without containing it (the audit log holds only these).
 */
export const DATA_CLASSES = ['personal', 'confidential', 'operational'] as const;
export type DataClass = (typeof DATA_CLASSES)[number];

type Columns = Readonly<Record<string, DataClass>>;

const P = 'personal';
const C = 'confidential';
const O = 'operational';

/** Shorthand: every listed column gets `cls`. */
function all(cls: DataClass, ...names: string[]): Columns {
  return Object.fromEntries(names.map((n) => [n, cls]));
}

/** table → column → class. Keep tables in alphabetical order. */
export const COLUMN_CLASSES: Readonly<Record<string, Columns>> = {
  // The engine's running events: allocation and baselines per resource (a site's behaviour, no names).
  aggregator_event: { ...all(O, 'aggregator_id', 'event_key', 'updated_at'), data: C },
  aggregator_r4_relay: { ...all(O, 'id', 'vtn_id', 'key', 'kind', 'ven_id', 'created_at'), data: C },
  compliance_check_result: { ...all(O, 'run_id', 'check_id', 'status'), evidence: C },
  compliance_control_status: all(O, 'run_id', 'control_id', 'level', 'status'),
  compliance_decision: {
    ...all(O, 'id', 'control_id', 'kind', 'decided_at', 'review_at', 'recorded_at', 'superseded'),
    ...all(C, 'reference', 'reason', 'compensating'),
    approver: P,
  },
  compliance_report: all(O, 'run_id', 'at', 'sha256', 'signed'),
  compliance_run: all(O, 'id', 'at', 'participant', 'profile'),
  erab_detect_alert: {
    ...all(O, 'id', 'rule_id', 'alert_key', 'severity', 'guideline', 'first_at', 'last_at', 'raised_at', 'count', 'status', 'delivery', 'deliveries', 'acked_at', 'ack_audited'),
    ...all(C, 'summary', 'description', 'evidence', 'ack_note'),
    acked_by: P,
  },
  erab_detect_cursor: all(O, 'source', 'position', 'updated_at'),
  erab_detect_rule_state: { ...all(O, 'rule_id', 'updated_at'), state: C },
  erab_inbox_cursor: all(O, 'source', 'topic', 'last_seq', 'updated_at'),
  erab_inbox_key: all(O, 'source', 'key', 'seen_at'),
  // Drills and incidents: who acted and what was seen (operator ids, evidence), not household data.
  erab_drill: { ...all(O, 'id', 'scenario', 'target', 'started_at', 'finished_at', 'passed'), record: C },
  erab_incident: { ...all(O, 'id', 'severity', 'status', 'drill', 'opened_by', 'opened_at', 'updated_at'), title: C },
  erab_incident_event: { ...all(O, 'id', 'incident_id', 'at', 'actor', 'kind'), summary: C, details: C },
  erab_incident_leak: { ...all(O, 'incident_id', 'discovered_at', 'declared_by', 'preliminary_reported_at', 'final_reported_at', 'reminders'), unauthorised_purpose: C },
  erab_lease: all(O, 'name', 'holder', 'epoch', 'acquired_at', 'expires_at'),
  erab_migration: all(O, 'name', 'timestamp'),
  erab_migration_lock: all(O, 'id', 'is_locked'),
  erab_outbox: { ...all(O, 'seq', 'topic', 'dedup_key', 'enqueued_at', 'attempts', 'lease_owner', 'lease_until', 'delivered_at'), payload: C },
  gateway_device: { ...all(O, 'device_id', 'updated_at'), record: C },
  gateway_event_seen: all(O, 'event_id', 'modification_number', 'keep_until'),
  gateway_nonce_seen: all(O, 'nonce', 'keep_until'),
  gateway_notice: { ...all(O, 'board_id', 'notice_id', 'template', 'issued_at', 'language', 'received_at'), ...all(C, 'subject', 'text', 'content') },
  gateway_safe_mode: { ...all(O, 'site', 'decided_by', 'since'), reason: C },
  notify_contact: {
    ...all(O, 'id', 'participant_id', 'site_id', 'role', 'language', 'gateway_ven_id', 'created_at'),
    ...all(P, 'name', 'email', 'webhook_url'),
    webhook_secret: C,
  },
  notify_delivery: {
    ...all(O, 'id', 'notice_id', 'contact_id', 'channel', 'status', 'attempts', 'last_attempt_at', 'next_attempt_at', 'lease_until', 'delivered_at', 'last_error'),
    address: P,
  },
  notify_gateway_notice: {
    ...all(O, 'id', 'delivery_id', 'ven_id', 'notice_id', 'template', 'issued_at', 'language', 'queued_at', 'acked_at'),
    ...all(C, 'subject', 'text', 'content'),
  },
  notify_notice: { ...all(O, 'id', 'template', 'issued_at'), ...all(C, 'subject', 'data') },
  openadr_nonce: all(O, 'scope', 'nonce', 'keep_until'),
  openadr_ven_state: { ven_key: O, data: C },
  openadr_vtn_event: { ...all(O, 'vtn_id', 'event_id'), data: C },
  openadr_vtn_event_opt: { ...all(O, 'vtn_id', 'event_id', 'ven_id'), data: C },
  openadr_vtn_opt: { ...all(O, 'vtn_id', 'ven_id', 'opt_id'), data: C },
  openadr_vtn_pending: { ...all(O, 'seq', 'vtn_id', 'ven_id', 'kind', 'lease_owner', 'lease_until'), data: C },
  openadr_vtn_registration: { ...all(O, 'vtn_id', 'ven_id', 'fingerprint'), data: C },
  openadr_vtn_report: { ...all(O, 'id', 'vtn_id', 'ven_id', 'report_request_id', 'received_at', 'ei_report_id'), data: C },
  openadr_vtn_report_registration: { ...all(O, 'vtn_id', 'ven_id'), data: C },
  openadr_vtn_report_request: { ...all(O, 'vtn_id', 'ven_id', 'report_request_id'), data: C },
  portfolio_gateway: all(O, 'id', 'site_id', 'ven_id', 'inventory_digest', 'inventory_at', 'created_at', 'updated_at'),
  portfolio_gateway_software: { ...all(O, 'gateway_id', 'digest', 'reported_at'), ...all(C, 'erab_name', 'erab_version', 'node_version', 'packages') },
  portfolio_pool: all(O, 'id', 'name', 'tso_area', 'product', 'program', 'created_at', 'updated_at'),
  portfolio_resource: {
    ...all(O, 'id', 'site_id', 'gateway_id', 'pool_id', 'class', 'name', 'capacity_w', 'capacity_wh', 'max_charge_w', 'max_discharge_w', 'max_reduce_w', 'max_increase_w',
      'constraints', 'echonet_class', 'maker_code', 'product_code', 'firmware_version', 'standard_version', 'admission', 'admission_revision', 'present', 'source', 'created_at', 'updated_at'),
    // Where in the home a device sits (and the search text that includes it) describes the device's
    // placement, not who lives there; it stays searchable by substring.
    ...all(C, 'serial_number', 'installation_location', 'search_text'),
  },
  // name and address are sealed by src/store/vault.ts when the role has a key-encryption key.
  portfolio_site: { ...all(O, 'id', 'tso_area', 'pool_id', 'created_at', 'updated_at'), ...all(P, 'name', 'address'), name_index: C },
  privacy_data_key: { ...all(O, 'name', 'kek_id', 'created_at', 'rewrapped_at'), wrapped: C },
  privacy_subject_key: { ...all(O, 'subject', 'created_at'), salt: C },
  // The sealed record of a batch of subjects (src/store/vault.ts, format 2): only ever AES-GCM
  // ciphertext, like a wrapped key (the personal columns referring to it are judged instead);
  // subjects are their pseudonymous ids.
  privacy_sealed_batch: { ...all(O, 'id', 'subjects', 'created_at'), ...all(C, 'salt', 'sealed') },
  secops_advisory: all(O, 'uid', 'source', 'advisory_id', 'title', 'description', 'aliases', 'published', 'modified', 'cvss_version', 'cvss_vector', 'cvss_score',
    'known_exploited', 'fix', 'refs', 'affected', 'status', 'level', 'content_sha256', 'import_id', 'created_at', 'updated_at'),
  secops_asset: {
    ...all(O, 'id', 'kind', 'management_no', 'name', 'site_id', 'gateway_id', 'class', 'maker_code', 'product_code', 'version', 'cpe', 'purl', 'parent_id', 'present',
      'first_seen', 'last_seen', 'updated_at'),
    serial_number: C,
  },
  secops_asset_change: { ...all(O, 'id', 'asset_id', 'at', 'field'), ...all(C, 'old_value', 'new_value') },
  secops_feed_import: { ...all(O, 'id', 'format', 'source', 'sha256', 'bytes', 'imported_at', 'records', 'added', 'updated', 'unchanged'), actor: P },
  secops_finding: {
    ...all(O, 'id', 'asset_id', 'advisory_uid', 'status', 'confidence', 'match_kind', 'matched_version', 'affected_range', 'cvss_vector', 'cvss_score', 'known_exploited', 'fix',
      'site_id', 'gateway_id', 'accepted_until', 'first_found', 'updated_at'),
    // Which of our devices is exploitable, and why we accepted it: an attacker's shopping list.
    ...all(C, 'accepted_reason', 'status_reason'),
    ...all(P, 'accepted_by', 'status_by'),
  },
  secops_maker: all(O, 'maker_code', 'cpe_vendor', 'name', 'updated_at'),
  tso_delivery: all(O, 'id', 'vtn_id', 'ven_id', 't', 'delivered_w'),
  tso_dispatch: { ...all(O, 'vtn_id', 'event_id'), data: C },
};

/** The class of a column, or undefined when it is not registered (a test keeps that from happening). */
export function classOf(table: string, column: string): DataClass | undefined {
  return COLUMN_CLASSES[table]?.[column];
}

/** Columns of one class, as `table.column`, sorted: what a privacy notice or an access report lists. */
export function columnsOfClass(cls: DataClass): string[] {
  const out: string[] = [];
  for (const [t, cols] of Object.entries(COLUMN_CLASSES)) for (const [c, k] of Object.entries(cols)) if (k === cls) out.push(`${t}.${c}`);
  return out.sort();
}
