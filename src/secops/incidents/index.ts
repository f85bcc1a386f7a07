/**
 * Incident response (issue 14 items 4, 5): incidents with their timeline, playbook steps that act,
 * the 自家用GL 10-3 report, and drills. Compose `incidentMigrations` into the desk's store.
 */
export { incidentMigrations, type IncidentTables } from './tables.js';
export { IncidentBook, INCIDENT_STATUSES, SEVERITIES, type Incident, type IncidentStatus, type IncidentWithTimeline, type Severity, type TimelineEntry } from './book.js';
export { runStep, PLAYBOOK_STEPS, type PlaybookStep, type PlaybookStepName } from './playbook.js';
export { buildReport, renderReportHtml, type IncidentReport } from './report.js';
export { runDrill, DRILL_SCENARIOS, type DrillScenario, type DrillRecord, type DrillTarget, type DrillCheck } from './drill.js';
export { saveDrill, listDrills, getDrill, type DrillSummary } from './drill-store.js';
export { ensureIncidentTemplate, INCIDENT_NOTICE_TEMPLATE, type IncidentNoticeData } from './notice.js';
export { operatorCall } from '../../roles/common/operator-client.js';
export { LeakBook, leakMigrations, leakDeadlines, leakReminderNotice, LEAK_REPORTS, LEAK_REMINDER_TEMPLATE, type LeakStatus, type LeakDeadline, type LeakReminder, type LeakReport } from './leak.js';
