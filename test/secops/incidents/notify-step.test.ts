/**
 * The playbook's notify step: `erab incident act … notify` (a separate process) tells the TSO's
 * contact of the incident by e-mail over STARTTLS to a real SMTP server, with the actions taken
 * so far; the delivery is recorded in the notify tables and the step in the incident's timeline,
 * which names the contact by id, never by its address (the incident desk keeps no personal data).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../../src/store/store.js';
import { ContactRegistry, notifyMigrations } from '../../../src/secops/notify/index.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';
import { SMTP_PASS, SMTP_USER, startSmtp, type SmtpReceiver } from '../notify/servers.js';
import { runErab } from './run-erab.js';

let world: PkiWorld<'mail'>;
let smtp: SmtpReceiver;

before(async () => {
  world = await pkiWorld({ mail: 'operator:MAIL1' }, { prefix: 'erab-incident-notify-' });
  smtp = await startSmtp(world, 'mail');
});
after(async () => {
  await smtp?.close();
  await world?.close();
});

test('the notify step e-mails the TSO contact with the incident and its actions; recorded and audited', async () => {
  const notifyDb = join(world.dir, 'notify.db');
  const store = await openStore({ url: notifyDb, migrations: notifyMigrations });
  const tso = await new ContactRegistry(store).add({ participantId: 'TSO-TOKYO', name: '給電指令所', role: 'operator', language: 'ja', channels: { email: 'soc@tso.example.jp' } }, { kind: 'operator', id: 'op-sato' });
  await new ContactRegistry(store).add({ participantId: 'RETAIL-1', name: 'retailer desk', role: 'operator', language: 'en', channels: { email: 'desk@retail.example.jp' } }, { kind: 'operator', id: 'op-sato' });
  await store.close();
  const config = join(world.dir, 'notify.json');
  writeFileSync(config, JSON.stringify({ smtp: { host: '127.0.0.1', port: smtp.port, servername: 'localhost', from: 'security@agg1.example.jp', caFile: world.caFile, user: SMTP_USER, passwordEnv: 'ERAB_TEST_SMTP_PASSWORD' } }));
  const desk = ['--db', join(world.dir, 'incidents.db'), '--audit-dir', join(world.dir, 'incidents-audit')];

  const opened = await runErab(['incident', 'open', '--title', 'rogue peer at R4', '--severity', 'high', '--operator', 'op-sato', '--json', ...desk]);
  const id = String((JSON.parse(opened.stdout) as { id: number }).id);
  await runErab(['incident', 'note', id, 'source isolated', '--operator', 'op-sato', ...desk]);
  const r = await runErab(['incident', 'act', id, 'notify', '--notify-db', notifyDb, '--notify-config', config, '--participant', 'TSO-TOKYO', '--message', '需給への影響はありません', '--operator', 'op-sato', ...desk],
    { ...process.env, ERAB_TEST_SMTP_PASSWORD: SMTP_PASS });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /done: notify: notice N-[0-9a-f-]+ to 1 contact\(s\): 1\/1 deliveries made at once/);
  assert.equal(smtp.mails.length, 1, 'only the TSO contact');
  const mail = smtp.mails[0]!;
  assert.deepEqual(mail.to, ['soc@tso.example.jp']);
  assert.equal(mail.secure, true);
  assert.match(mail.subject, /【セキュリティインシデント】#1 rogue peer at R4/);
  assert.match(mail.body, /需給への影響はありません/);
  assert.doesNotMatch(JSON.stringify(r), new RegExp(SMTP_PASS));

  const shown = JSON.parse((await runErab(['incident', 'show', id, '--json', ...desk])).stdout) as { timeline: { kind: string; details: { step?: string; outcome?: string; deliveries?: Record<string, unknown>[] } }[] };
  const step = shown.timeline.find((e) => e.kind === 'action');
  assert.deepEqual([step?.details.step, step?.details.outcome], ['notify', 'success']);
  assert.deepEqual(step?.details.deliveries, [{ contactId: tso.id, channel: 'email', status: 'delivered', error: null }]);
  const raw = ['', '-wal'].map((x) => join(world.dir, `incidents.db${x}`)).filter(existsSync).map((f) => readFileSync(f).toString('utf8')).join('');
  assert.ok(raw.includes('rogue peer at R4') && !raw.includes('soc@tso.example.jp'), 'the incident database refers to the contact, never holds its address');
});
