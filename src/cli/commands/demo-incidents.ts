/**
 * `erab demo`'s incident desk: the same desk `erab incident` uses (its store and audit log, here
 * in the demo's work folder: incidents.db, incidents-audit/), opened for each change. An incident
 * is opened from a participant's alert as stored in that participant's store (evidence with audit
 * index and leaf hash), and its first playbook step — revoking the rogue party's certificate in
 * the demo's PKI — runs and is recorded in its timeline (自家用GL 10-2).
 *
 * @example
 * const desk = demoIncidentDesk('./erab-demo');
 * const inc = await desk.open({ alert, alertsDb: './erab-demo/tso/tso.db', title: 'rogue aggregator', contain: { role: 'aggregator', id: 'ROGUE-AGG' } });
 */
import { join } from 'node:path';
import { IDS } from '../../roles/demo/layout.js';
import type { DemoAlert, DemoIncident, DemoIncidentDesk } from '../../roles/demo/summary.js';
import { AlertBook, detectMigrations, type Alert } from '../../secops/detect/index.js';
import { IncidentBook, runStep, type IncidentWithTimeline } from '../../secops/incidents/index.js';
import { openStore } from '../../store/store.js';
import { InvalidInputError, explain } from '../../core/errors.js';
import { withDesk } from './incident-desk.js';

/** The demo's operator on duty (one of the operators its PKI certifies). */
const OPERATOR = IDS.operators[0];

async function storedAlert(a: DemoAlert, alertsDb: string): Promise<Alert> {
  const store = await openStore({ url: alertsDb, migrations: detectMigrations, ignoreUnknownMigrations: true });
  try {
    const alert = await new AlertBook(store).get(a.id);
    if (!alert) throw new InvalidInputError(explain('cli.demo.alertMissing', { id: a.id, participant: a.participant, db: alertsDb }));
    return alert;
  } finally {
    await store.close();
  }
}

function view(inc: IncidentWithTimeline): DemoIncident {
  return {
    id: inc.id, title: inc.title, status: inc.status,
    alerts: inc.timeline.filter((e) => e.kind === 'alert').map((e) => e.summary.slice(0, 160)),
    steps: inc.timeline.filter((e) => e.kind === 'action').map((e) => e.summary.slice(0, 200)),
  };
}

export function demoIncidentDesk(dir: string): DemoIncidentDesk {
  const desk = { db: join(dir, 'incidents.db'), auditDir: join(dir, 'incidents-audit') };
  return {
    async open({ alert, alertsDb, title, contain }) {
      const stored = await storedAlert(alert, alertsDb);
      return withDesk(desk, async (store, audit) => {
        const book = new IncidentBook(store, audit);
        const inc = await book.open({ by: OPERATOR, alert: stored, alertSource: alert.participant, title });
        if (contain) await runStep(book, inc.id, OPERATOR, { step: 'revoke', pkiDir: join(dir, 'pki'), role: contain.role, id: contain.id, reason: 'keyCompromise' });
        return view(await book.show(inc.id));
      });
    },
    async addAlert(incidentId, alert, alertsDb) {
      const stored = await storedAlert(alert, alertsDb);
      return withDesk(desk, async (store, audit) => {
        const book = new IncidentBook(store, audit);
        await book.addAlert(incidentId, OPERATOR, stored, alert.participant);
        return view(await book.show(incidentId));
      });
    },
  };
}
