/**
 * `erab notify` as an operator runs it, in a child process: contacts added, listed (webhook
 * secrets never printed), removed with an audit record; a failed delivery listed by
 * `deliveries --pending` until it is delivered.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../../src/store/store.js';
import { AuditLog } from '../../../src/security/audit/log.js';
import { readRecords } from '../../../src/security/audit/export.js';
import { ContactRegistry, Notifier, WebhookChannel, newWebhookSecret, notifyMigrations } from '../../../src/secops/notify/index.js';
import { pkiWorld } from '../../kit/index.js';
import { advisory, freePort } from './fixtures.js';
import { SMTP_PASS, SMTP_USER, startSmtp, startWebhookReceiver } from './servers.js';

const dir = mkdtempSync(join(tmpdir(), 'erab-notify-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const db = join(dir, 'aggregator.db');
const auditDir = join(dir, 'audit');

const mainJs = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const runner = `import(${JSON.stringify(mainJs)}).then((m) => m.main(['node', 'erab', ...process.argv.slice(1)])).then((c) => { process.exitCode = c; });`;

/** Runs `erab <args>` in a child process. */
function erab(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', runner, '--', ...args], { env: { ...process.env, ERAB_AGGREGATOR_DB: db, ...env }, timeout: 60_000 }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err });
    });
  });
}

test('erab notify contacts add, list, remove', async () => {
  AuditLog.open({ dir: auditDir, origin: 'erab.test/agg1/audit' }).close();
  const a = await erab(['notify', 'contacts', 'add', '--participant', 'AGG1', '--site', 'S1', '--name', '山田 太郎', '--role', 'owner', '--lang', 'ja', '--email', 'owner@s1.example.jp', '--audit-dir', auditDir, '--operator', 'ops1']);
  assert.equal(a.code, 0, a.err);
  assert.match(a.out, /contact 1 added: 山田 太郎 \(owner, ja\) via email/);
  const b = await erab(['notify', 'contacts', 'add', '--participant', 'AGG2', '--name', 'AGG2 hook', '--role', 'downstream-aggregator', '--lang', 'en', '--webhook-url', 'https://127.0.0.1:9/hook', '--gateway', 'GW1']);
  assert.equal(b.code, 0, b.err);
  const secret = /webhook secret .*: (whsec_\S+)/.exec(b.out)?.[1];
  assert.ok(secret, b.out);
  const fromEnv = await erab(['notify', 'contacts', 'add', '--participant', 'AGG1', '--name', 'ops', '--role', 'operator', '--webhook-url', 'https://127.0.0.1:9/ops', '--webhook-secret-env', 'HOOK_SECRET'], { HOOK_SECRET: 'whsec_tooshort' });
  assert.equal(fromEnv.code, 1);
  assert.match(fromEnv.err, /webhook secret must be "whsec_" followed by base64 of 24\.\.64 random bytes/);
  const plain = await erab(['notify', 'contacts', 'add', '--participant', 'AGG1', '--name', 'x', '--role', 'owner', '--webhook-url', 'http://127.0.0.1:9/x']);
  assert.equal(plain.code, 1);
  assert.match(plain.err, /must use https/);

  const list = await erab(['notify', 'contacts', 'list']);
  assert.equal(list.code, 0, list.err);
  assert.match(list.out, /1\s+AGG1\s+S1\s+owner\s+ja\s+owner@s1\.example\.jp\s+山田 太郎/);
  assert.match(list.out, /2\s+AGG2\s+-\s+downstream-aggregator\s+en\s+https:\/\/127\.0\.0\.1:9\/hook gateway:GW1\s+AGG2 hook/);
  assert.ok(!list.out.includes(secret.slice(6)), 'secret not listed');
  const json = await erab(['notify', 'contacts', 'list', '--site', 'S1', '--json']);
  assert.deepEqual((JSON.parse(json.out) as { id: number }[]).map((c) => c.id), [1]);
  assert.ok(!json.out.includes(secret.slice(6)));

  const rm = await erab(['notify', 'contacts', 'remove', '1', '--audit-dir', auditDir, '--operator', 'ops1']);
  assert.equal(rm.code, 0, rm.err);
  const again = await erab(['notify', 'contacts', 'remove', '1']);
  assert.notEqual(again.code, 0);
  const actions = [...readRecords(auditDir)].map((l) => [l.record!.action, l.record!.actor.id, l.record!.target]);
  assert.deepEqual(actions, [['notify.contact.add', 'ops1', 'contact:1'], ['notify.contact.remove', 'ops1', 'contact:1']]);
});

test('erab notify deliveries --pending shows a failed delivery until it is delivered', async (t) => {
  const world = await pkiWorld({ agg: 'aggregator:AGG1', hook: 'operator:HOOK1' }, { prefix: 'erab-notify-cli-pki-' });
  t.after(() => world.close());
  const port = await freePort();
  const secret = newWebhookSecret();
  const store = await openStore({ url: db, migrations: notifyMigrations });
  t.after(() => store.close());
  const c = await new ContactRegistry(store).add({ participantId: 'AGG1', name: 'Owner S9', role: 'owner', language: 'en', channels: { webhook: { url: `https://127.0.0.1:${port}/s9`, secret } } }, { kind: 'operator', id: 'ops1' });
  const agg = world.get('agg');
  const notifier = new Notifier(store, { channels: [new WebhookChannel({ caPem: world.caPem, clientCert: agg })], backoff: { baseMs: 0, maxMs: 0 } });
  const { notice } = await notifier.notifyAll(advisory, [c]);
  const pending = await erab(['notify', 'deliveries', '--pending']);
  assert.equal(pending.code, 0, pending.err);
  assert.match(pending.out, new RegExp(`${notice.id}\\s+${c.id}\\s+webhook\\s+pending\\s+1\\s+\\S+\\s+https://127\\.0\\.0\\.1:${port}/s9\\s+webhook <address>: connect ECONNREFUSED`), 'the error refers to the address, the ADDRESS column shows it');

  const receiver = await startWebhookReceiver(world, 'hook', ['aggregator:AGG1'], new Map([['/s9', secret]]), port);
  t.after(() => receiver.close());
  assert.equal(await notifier.retryDue(), 1);
  assert.equal(receiver.hooks[0]?.signatureOk, true);
  assert.match((await erab(['notify', 'deliveries', '--pending'])).out, /^no pending deliveries$/m);
  const all = JSON.parse((await erab(['notify', 'deliveries', '--notice', notice.id, '--json'])).out) as { status: string; attempts: number }[];
  assert.deepEqual(all.map((d) => [d.status, d.attempts]), [['delivered', 2]]);
});

test('erab notify send tells every selected recipient at once over real SMTP; without a selection it refuses', async (t) => {
  const world = await pkiWorld({ mail: 'operator:MAIL1' }, { prefix: 'erab-notify-send-' });
  t.after(() => world.close());
  const smtp = await startSmtp(world, 'mail');
  t.after(() => smtp.close());
  const sendDb = join(dir, 'send.db');
  const store = await openStore({ url: sendDb, migrations: notifyMigrations });
  const reg = new ContactRegistry(store);
  const ops = { kind: 'operator', id: 'ops1' } as const;
  await reg.add({ participantId: 'AGG1', siteId: 'S1', name: 'Owner S1', role: 'owner', language: 'ja', channels: { email: 'owner@s1.example.jp' } }, ops);
  await reg.add({ participantId: 'AGG1', siteId: 'S2', name: 'Owner S2', role: 'owner', language: 'en', channels: { email: 'owner@s2.example.jp' } }, ops);
  await reg.add({ participantId: 'AGG1', siteId: 'S3', name: 'Owner S3', role: 'owner', language: 'en', channels: { email: 'owner@s3.example.jp' } }, ops);
  await store.close();
  const config = join(dir, 'notify.json');
  writeFileSync(config, JSON.stringify({
    smtp: { host: '127.0.0.1', port: smtp.port, servername: 'localhost', from: 'security@agg1.example.jp', caFile: world.caFile, user: SMTP_USER, passwordEnv: 'TEST_SMTP_PASSWORD' },
  }));
  const data = join(dir, 'advisory.json');
  writeFileSync(data, JSON.stringify(advisory.data));
  const env = { TEST_SMTP_PASSWORD: SMTP_PASS };

  const none = await erab(['notify', 'send', '--config', config, '--data', data, '--db', sendDb], env);
  assert.equal(none.code, 2, none.err);
  assert.match(none.err, /choose the recipients/);

  const r = await erab(['notify', 'send', '--config', config, '--data', data, '--subject', 'JVNDB-2026-000123', '--site', 'S1', '--site', 'S2', '--db', sendDb], env);
  assert.equal(r.code, 0, r.err);
  const m = /notice (N-\S+) issued at (\S+) to 2 recipients: 2 of 2 deliveries done/.exec(r.out);
  assert.ok(m, r.out);
  assert.deepEqual(smtp.mails.map((x) => x.to[0]).sort(), ['owner@s1.example.jp', 'owner@s2.example.jp']);
  for (const mail of smtp.mails) assert.equal(mail.headers.get('x-erab-notice-time'), m[2]);
  assert.ok(!r.out.includes(SMTP_PASS) && !r.err.includes(SMTP_PASS));
});
