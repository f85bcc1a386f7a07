/**
 * Detection (issue 14 items 2 and 3): rules as data over the audit log and telemetry, alerts
 * de-duplicated, rate-limited, stored, acknowledged (audited) and delivered through channels.
 */
export { loadRules, parseRules, applyOverrides, ruleOverridesSchema, SHIPPED_RULES_FILE, type Rule, type RuleKind, type RuleOverrides } from './rules.js';
export { DetectionEngine } from './engine.js';
export type { Firing } from './kinds.js';
export { type Observation, type Evidence, OBSERVATION_FIELDS } from './observation.js';
export { AuditTail, TelemetrySource, observeReport } from './sources.js';
export { AlertBook, detectMigrations, type Alert, type AlertStatus, type AlertDelivery, type DetectTables } from './alerts.js';
export { InProcessChannel, ConsoleChannel, formatAlert, deliverToChannels, type AlertChannel, type DeliveryResult } from './channels.js';
export { startDetection, type DetectionOptions, type RunningDetection, type DetectionStats } from './service.js';
export { detectionAttachment, DETECTION_MIGRATIONS, type DetectionAttachment, type DetectionAttachOptions } from './attach.js';
export { NotifyAlertChannel, alertRecipients, alertNoticeData, alertTemplate, ALERT_TEMPLATE, type AlertNoticeData, type AlertRecipients } from './notify-channel.js';
