/**
 * A personal-data leak as an incident with the legal clock of the APPI (src/secops/incidents/leak.ts):
 * the deadlines of the reports to the PPC are counted in JST days from the day the leak became known
 * (速報 3-day target and 5-day limit, 確報 30 days, 60 for an unauthorised purpose); reminders go
 * through the notifier — by e-mail to a real SMTP server — once each, ahead of each open deadline
 * and when one has passed, driven by an injected clock; reports stop them; the incident show and
 * report carry the clock. Both engines for the book; the CLI as a real process.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describeEachEngine } from '../../store/harness.js';
import { manualClock, pkiWorld, type PkiWorld } from '../../kit/index.js';
import { composeMigrations } from '../../../src/store/migrations.js';
import { AuditLog } from '../../../src/security/audit/log.js';
import { readRecords } from '../../../src/security/audit/export.js';
import { verifyAuditLog } from '../../../src/security/audit/verify.js';
import { IncidentBook, LeakBook, buildReport, incidentMigrations, leakDeadlines, leakMigrations, leakReminderNotice, renderReportHtml } from '../../../src/secops/incidents/index.js';
import { ContactRegistry, Notifier, SmtpChannel, notifyMigrations } from '../../../src/secops/notify/index.js';
import { SMTP_PASS, SMTP_USER, startSmtp, type SmtpReceiver } from '../notify/servers.js';
import { runErab } from './run-erab.js';

const DAY = 86_400_000;
const jst = (s: string): number => Date.parse(`${s}+09:00`);
let world: PkiWorld<'mail'>;
let smtp: SmtpReceiver;
let seq = 0;

before(async () => {
  world = await pkiWorld({ mail: 'operator:MAIL1' }, { prefix: 'erab-incident-leak-' });
  smtp = await startSmtp(world, 'mail');
});
after(async () => {
  await smtp?.close();
  await world?.close();
});

test('deadlines count JST days from the day the leak became known, that day being day 1', () => {
  // Known at 23:30 JST on 1 December (14:30 UTC): day 1 is 1 December JST, not the UTC date.
  const known = jst('2026-12-01T23:30:00');
  const d = Object.fromEntries(leakDeadlines(known, false).map((x) => [x.name, new Date(x.due).toISOString()]));
  assert.deepEqual(d, {
    'preliminary-target': '2026-12-03T14:59:59.999Z', // 3 December 23:59:59.999 JST
    'preliminary-limit': '2026-12-05T14:59:59.999Z',
    final: '2026-12-30T14:59:59.999Z', // day 30 = 30 December JST
  });
  // Known at 08:00 JST on 1 December (23:00 UTC on 30 November): still day 1 = 1 December.
  assert.equal(new Date(leakDeadlines(jst('2026-12-01T08:00:00'), false)[2]!.due).toISOString(), '2026-12-30T14:59:59.999Z');
  // An unauthorised purpose (不正の目的): 60 days, across the year end.
  assert.equal(new Date(leakDeadlines(known, true)[2]!.due).toISOString(), '2027-01-29T14:59:59.999Z');
});

describeEachEngine('leak incident', (fx) => {
  test('reminders go once ahead of each open deadline and when it passed, through the notifier; reports stop them; the audit log verifies', async () => {
    const loc = await fx.location();
    const store = await loc.open(composeMigrations(incidentMigrations, leakMigrations, notifyMigrations));
    const clock = manualClock(jst('2026-12-01T10:00:00'));
    const auditDir = join(world.dir, `audit-${fx.engine}-${++seq}`);
    const audit = AuditLog.open({ dir: auditDir, origin: 'erab.test/incidents/audit', checkpointIntervalMs: 0 });
    const book = new IncidentBook(store, audit, () => clock.now());
    const leaks = new LeakBook(store, book, audit);
    const tag = `${fx.engine}-${seq}`;
    const dpo = await new ContactRegistry(store, { vault: null }).add({ participantId: 'AGG1', name: 'Privacy officer', role: 'security', language: 'ja', channels: { email: `dpo-${tag}@agg1.example.jp` } }, { kind: 'operator', id: 'op-sato' });
    const notifier = new Notifier(store, {
      vault: null, clock,
      channels: [new SmtpChannel({ host: '127.0.0.1', port: smtp.port, servername: 'localhost', from: 'security@agg1.example.jp', caFile: world.caFile, auth: { user: SMTP_USER, pass: SMTP_PASS }, timeoutMs: 10_000 })],
    });
    try {
      const inc = await book.open({ title: 'customer list copied off the portfolio host', severity: 'critical', by: 'op-sato' });
      const known = jst('2026-12-01T09:00:00');
      const s = await leaks.declare(inc.id, { by: 'op-sato', discoveredAt: known, unauthorisedPurpose: true, now: clock.now() });
      assert.deepEqual(s.deadlines.map((d) => [d.name, d.state]), [['preliminary-target', 'open'], ['preliminary-limit', 'open'], ['final', 'open']]);
      await assert.rejects(leaks.declare(inc.id, { by: 'op-sato', discoveredAt: known, unauthorisedPurpose: false, now: clock.now() }), /already a declared leak/);
      await assert.rejects(leaks.recordReport(inc.id, 'final', { by: 'op-sato', at: clock.now() }), /follows the preliminary one/);

      const remind = () => leaks.remind(clock.now(), async (r) => notifier.notifyAll(leakReminderNotice(r), [dpo], { kind: 'system', id: 'leak-clock' }));
      const mails = () => smtp.mails.filter((m) => m.to[0] === `dpo-${tag}@agg1.example.jp`);

      assert.deepEqual(await remind(), [], 'day 1: no deadline within two days');
      clock.advance(jst('2026-12-02T00:30:00') - clock.now()); // day 2: the 3-day target is within 2 days
      assert.deepEqual((await remind()).map((r) => [r.deadline.name, r.beforeMs]), [['preliminary-target', 2 * DAY]]);
      assert.deepEqual(await remind(), [], 'each reminder once');
      assert.equal(mails().length, 1);
      assert.match(mails()[0]!.subject, new RegExp(`【個人情報漏えい等】#${inc.id} 個人情報保護委員会への速報 \\(目安 3日\\)の期限が近づいています`));
      assert.match(mails()[0]!.body, /速報 \(目安 3日\)の期限: 2026-12-03T23:59:59\+09:00 \(日本時間\)/);

      clock.advance(jst('2026-12-04T00:00:01') - clock.now()); // day 4: the target has passed, the limit is within a day... and two
      const day4 = (await remind()).map((r) => [r.deadline.name, r.beforeMs]);
      assert.deepEqual(day4, [['preliminary-target', 0], ['preliminary-limit', 2 * DAY]]);
      assert.equal((await leaks.status(inc.id, clock.now())).deadlines[0]!.state, 'overdue');

      const reported = await leaks.recordReport(inc.id, 'preliminary', { by: 'op-sato', at: clock.now(), reference: 'PPC-2026-1234' });
      assert.deepEqual(reported.deadlines.map((d) => d.state), ['reported', 'reported', 'open']);
      clock.advance(DAY);
      assert.deepEqual(await remind(), [], 'the preliminary report stops its reminders');

      clock.advance(jst('2027-01-29T06:00:00') - clock.now()); // 18 h before the 60-day final deadline; the 2-day step was never checked
      assert.deepEqual((await remind()).map((r) => [r.deadline.name, r.beforeMs]), [['final', DAY]], 'only the latest step, not every one missed');
      const finalMail = mails().at(-1)!;
      assert.match(finalMail.body, /確報 \(60日以内\)の期限: 2027-01-29T23:59:59\+09:00/);
      await leaks.recordReport(inc.id, 'final', { by: 'op-sato', at: clock.now() });
      clock.advance(10 * DAY);
      assert.deepEqual(await remind(), [], 'all reported: nothing more');
      assert.equal(mails().length, 4);

      const report = buildReport(await book.show(inc.id), clock.now(), await leaks.find(inc.id, clock.now()));
      assert.deepEqual(report.leak?.deadlines.map((d) => [d.name, d.days, d.state]), [['preliminary-target', 3, 'reported'], ['preliminary-limit', 5, 'reported'], ['final', 60, 'reported']]);
      assert.match(renderReportHtml(report, 'ja'), /個人情報保護委員会への報告[\s\S]*2027-01-29T23:59:59\+09:00/);
      assert.ok(report.timeline.some((e) => /preliminary report \(速報\) made to the PPC .*\(PPC-2026-1234\)/.test(e.summary)));
    } finally {
      await notifier.close();
      audit.close();
      await store.close();
    }
    assert.ok(verifyAuditLog(auditDir).ok);
    const actions = [...readRecords(auditDir)].map((l) => l.record!.action);
    assert.deepEqual(actions.filter((a) => a.startsWith('incident.leak.')), [
      'incident.leak.declare', 'incident.leak.reminder', 'incident.leak.reminder', 'incident.leak.reminder', 'incident.leak.preliminary-report', 'incident.leak.reminder', 'incident.leak.final-report',
    ]);
  });
});

test('erab incident leak, leak-report, show and report: the clock as the operator sees it', async () => {
  const desk = ['--db', join(world.dir, 'cli-incidents.db'), '--audit-dir', join(world.dir, 'cli-incidents-audit')];
  const opened = await runErab(['incident', 'open', '--title', 'mis-sent e-mail with 40 addresses', '--severity', 'medium', '--operator', 'op-sato', '--json', ...desk]);
  const id = String((JSON.parse(opened.stdout) as { id: number }).id);
  const bad = await runErab(['incident', 'leak', id, '--known-at', '2026-12-01 10:00', '--operator', 'op-sato', ...desk]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--known-at must be an ISO 8601 time with its offset/);
  const knownAt = new Date(Date.now() - 4 * DAY).toISOString();
  const r = await runErab(['incident', 'leak', id, '--known-at', knownAt, '--operator', 'op-sato', ...desk]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /確報 final \(30 days\): due \S+\+09:00/);
  const shown = await runErab(['incident', 'show', id, ...desk]);
  assert.match(shown.stdout, /personal-data leak — reports to the PPC:\n\s+速報 preliminary \(3 days\): due \S+ — OVERDUE by \d+ h/);
  const rep = await runErab(['incident', 'leak-report', id, 'preliminary', '--reference', 'PPC-77', '--operator', 'op-sato', ...desk]);
  assert.equal(rep.code, 0, rep.stderr);
  const report = JSON.parse((await runErab(['incident', 'report', id, ...desk])).stdout) as { leak?: { deadlines: { name: string; state: string }[] } };
  assert.deepEqual(report.leak?.deadlines.map((d) => d.state), ['reported', 'reported', 'open']);
  const html = join(world.dir, 'leak.html');
  const page = await runErab(['incident', 'report', id, '--html', html, '--lang', 'en', ...desk]);
  assert.equal(page.code, 0, page.stderr);
  assert.match(readFileSync(html, 'utf8'), /<h2>Personal-data leak — reports to the PPC<\/h2>[\s\S]*final \(30\)/);
});
