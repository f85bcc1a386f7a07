/**
 * Notification to users, all at once (issue 13 item 4), across real boundaries: nodemailer to a
 * real SMTP server over STARTTLS, signed webhooks to a real mutual-TLS HTTPS receiver, the
 * deliveries in a real store (SQLite and PostgreSQL) and in the real audit log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { pkiWorld, waitFor } from '../../kit/index.js';
import { describeEachEngine } from '../../store/harness.js';
import { AuditLog } from '../../../src/security/audit/log.js';
import { readRecords } from '../../../src/security/audit/export.js';
import {
  ContactRegistry, Notifier, SmtpChannel, WebhookChannel, newWebhookSecret, notifyMigrations,
  type Contact, type WebhookNoticeBody,
} from '../../../src/secops/notify/index.js';
import { advisory, freePort } from './fixtures.js';
import { notifyServers, SMTP_PASS, SMTP_USER, startSmtp, startWebhookReceiver } from './servers.js';

const OPERATOR = { kind: 'operator', id: 'ops1' } as const;

const servers = notifyServers('erab-notify-', { other: 'aggregator:AGG9' });
let seq = 0;

function channels(participant = 'agg') {
  const p = servers.world.get(participant);
  return [
    new SmtpChannel({ host: '127.0.0.1', port: servers.smtp.port, servername: 'localhost', from: 'security@agg1.example.jp', caFile: servers.world.caFile, auth: { user: SMTP_USER, pass: SMTP_PASS }, timeoutMs: 10_000 }),
    new WebhookChannel({ caPem: servers.world.caPem, clientCert: { certPem: p.certPem, keyPem: p.keyPem }, timeoutMs: 10_000 }),
  ];
}

/** A webhook address on `port` with a fresh secret the receiver knows. */
function hook(port: number, host = '127.0.0.1'): { url: string; secret: string } {
  const path = `/hooks/${++seq}`;
  const secret = newWebhookSecret();
  servers.secrets.set(path, secret);
  return { url: `https://${host}:${port}${path}`, secret };
}

function openAudit(name: string): AuditLog {
  return AuditLog.open({ dir: join(servers.world.dir, `audit-${name}-${++seq}`), origin: 'erab.test/agg1/audit', checkpointIntervalMs: 0 });
}

const auditRecords = (log: AuditLog) => [...readRecords(log.dir)].map((l) => l.record!);


describeEachEngine('notifyAll', (fx) => {
  test('one notice reaches every recipient over SMTP and webhooks with one timestamp, and the audit log shows each delivery', async () => {
    const store = await (await fx.location()).open(notifyMigrations);
    const audit = openAudit('all');
    const contacts = new ContactRegistry(store, { audit });
    const tag = `${fx.engine}-${++seq}`;
    const added: Contact[] = [
      await contacts.add({ participantId: 'AGG1', siteId: 'S1', name: '山田 太郎', role: 'owner', language: 'ja', channels: { email: `owner-${tag}@site1.example.jp` } }, OPERATOR),
      await contacts.add({ participantId: 'AGG1', name: 'EMS operations', role: 'operator', language: 'en', channels: { email: `ops-${tag}@ems.example.com`, webhook: hook(servers.hooks.port) } }, OPERATOR),
      await contacts.add({ participantId: 'AGG2', name: 'Downstream AGG2', role: 'downstream-aggregator', language: 'en', channels: { webhook: hook(servers.hooks.port, 'localhost') } }, OPERATOR),
      await contacts.add({ participantId: 'AGG1', siteId: 'S2', name: '佐藤 花子', role: 'owner', language: 'ja', channels: { email: `owner-${tag}@site2.example.jp`, webhook: hook(servers.hooks.port) } }, OPERATOR),
    ];
    const notifier = new Notifier(store, { channels: channels(), audit });
    try {
      const { notice, deliveries } = await notifier.notifyAll(advisory, await contacts.list(), OPERATOR);
      assert.equal(deliveries.length, 6, 'one delivery per recipient and channel');
      assert.deepEqual(deliveries.map((d) => [d.status, d.lastError]), deliveries.map(() => ['delivered', null]));
      assert.deepEqual(await notifier.deliveries({ pending: true }), []);
      const iso = new Date(notice.issuedAt).toISOString();

      const mails = servers.smtp.mails.filter((m) => m.to[0]!.includes(tag));
      assert.deepEqual(mails.map((m) => m.to[0]).sort(), [`ops-${tag}@ems.example.com`, `owner-${tag}@site1.example.jp`, `owner-${tag}@site2.example.jp`]);
      for (const m of mails) {
        assert.equal(m.secure, true, 'the mail went after STARTTLS');
        assert.equal(m.user, SMTP_USER);
        assert.equal(m.headers.get('x-erab-notice-time'), iso);
        assert.equal(m.headers.get('x-erab-notice-id'), notice.id);
        assert.equal(new Date(m.headers.get('date')!).getTime(), Math.floor(notice.issuedAt / 1000) * 1000, 'Date header is the notice time');
      }
      const ja = mails.find((m) => m.to[0]!.startsWith('owner-'))!;
      assert.equal(ja.subject, '【脆弱性情報】JVNDB-2026-000123 Battery controller firmware accepts unauthenticated commands');
      assert.match(ja.body, /対応期限: 2027-01-01T00:00:00\+09:00 \(日本時間\)/);
      assert.match(ja.body, /CVSS 基本値: 9\.8 \(緊急\)/);
      const en = mails.find((m) => m.to[0]!.startsWith('ops-'))!;
      assert.equal(en.subject, '[Vulnerability] JVNDB-2026-000123 Battery controller firmware accepts unauthenticated commands');
      assert.match(en.body, /Deadline: 2026-12-31T15:00:00Z/);

      const paths = added.flatMap((c) => (c.channels.webhook ? [new URL(c.channels.webhook.url).pathname] : []));
      const got = servers.hooks.hooks.filter((h) => paths.includes(h.path));
      assert.equal(got.length, 3);
      for (const h of got) {
        assert.equal(h.signatureOk, true, `signature of ${h.path}`);
        const body = JSON.parse(h.body) as WebhookNoticeBody;
        assert.equal(body.timestamp, iso);
        assert.equal(body.data.noticeId, notice.id);
        assert.equal(h.headers['webhook-id'], `${notice.id}.${deliveries.find((d) => d.address.endsWith(h.path))!.id}`);
      }

      const records = auditRecords(audit).filter((r) => r.action === 'notify.deliver');
      assert.equal(records.length, 6);
      for (const r of records) {
        assert.equal(r.outcome, 'success');
        assert.equal((r.details as { issuedAt: string }).issuedAt, iso);
        assert.equal((r.details as { noticeId: string }).noticeId, notice.id);
      }
      assert.deepEqual(new Set(records.map((r) => r.target)), new Set(added.map((c) => `contact:${c.id}`)));
      const text = JSON.stringify(auditRecords(audit));
      assert.ok(!text.includes(SMTP_PASS), 'the SMTP password is not in the audit log');
      for (const c of added) if (c.channels.webhook) assert.ok(!text.includes(c.channels.webhook.secret.slice(6)), 'no webhook secret in the audit log');
    } finally {
      await notifier.close();
      audit.close();
    }
  });

  test('a receiver that is down gets the notice once it is back, after a restart; pending until then', async () => {
    const location = await fx.location();
    let store = await location.open(notifyMigrations);
    const audit = openAudit('retry');
    const port = await freePort();
    const c = await new ContactRegistry(store).add({ participantId: 'AGG1', name: 'Late receiver', role: 'operator', language: 'en', channels: { webhook: hook(port) } }, OPERATOR);
    const first = new Notifier(store, { channels: channels(), audit, backoff: { baseMs: 100, maxMs: 400 } });
    const { notice, deliveries } = await first.notifyAll(advisory, [c], OPERATOR);
    assert.equal(deliveries[0]!.status, 'pending');
    assert.match(deliveries[0]!.lastError!, /ECONNREFUSED/);
    const pending = await first.deliveries({ pending: true });
    assert.deepEqual(pending.map((d) => [d.noticeId, d.contactId, d.channel, d.attempts]), [[notice.id, c.id, 'webhook', 1]]);
    await first.close();
    await store.close(); // the process "restarts": only the store remembers

    const late = await startWebhookReceiver(servers.world, 'hook', ['aggregator:AGG1'], servers.secrets, port);
    try {
      store = await location.open(notifyMigrations);
      const second = new Notifier(store, { channels: channels(), audit, backoff: { baseMs: 100, maxMs: 400 }, pollMs: 50 });
      second.start();
      try {
        await waitFor(async () => (await second.deliveries({ pending: true })).length === 0, { what: 'the pending delivery delivered' });
      } finally {
        await second.close();
      }
      const [d] = await second.deliveries({ noticeId: notice.id });
      assert.equal(d!.status, 'delivered');
      assert.ok(d!.attempts >= 2);
      assert.equal(late.hooks.length, 1);
      assert.equal(late.hooks[0]!.signatureOk, true);
      assert.equal((JSON.parse(late.hooks[0]!.body) as WebhookNoticeBody).timestamp, new Date(notice.issuedAt).toISOString(), 'a retry keeps the notice time');
      const outcomes = auditRecords(audit).filter((r) => r.action === 'notify.deliver').map((r) => r.outcome);
      assert.equal(outcomes[0], 'failure');
      assert.equal(outcomes.at(-1), 'success');
    } finally {
      await late.close();
      audit.close();
    }
  });

  test('a notice\'s deliveries belong to the process that issued it: another process\'s retry round leaves them alone while the issuer sends them', async () => {
    // `erab vuln notify` issues a notice while `erab aggregator run` retries due deliveries on the
    // same store: the retry round must not take deliveries the issuer is about to make (it did,
    // and the CLI reported them pending). The first recipient's server holds the issuer (accepts,
    // never answers) so its other delivery waits its turn (concurrency 1) while the other retries.
    const location = await fx.location();
    const store = await location.open(notifyMigrations);
    const hold = createServer(() => {});
    const held = new Set<Socket>();
    hold.on('connection', (c) => held.add(c));
    await new Promise<void>((r) => hold.listen(0, '127.0.0.1', r));
    const port = await freePort();
    const receiver = await startWebhookReceiver(servers.world, 'hook', ['aggregator:AGG1'], servers.secrets, port);
    const reg = new ContactRegistry(store);
    const slow = await reg.add({ participantId: 'AGG1', name: 'Slow', role: 'operator', language: 'en', channels: { webhook: hook((hold.address() as AddressInfo).port) } }, OPERATOR);
    const fast = await reg.add({ participantId: 'AGG1', name: 'Fast', role: 'operator', language: 'en', channels: { webhook: hook(port) } }, OPERATOR);
    const issuer = new Notifier(store, { channels: channels(), concurrency: 1, backoff: { baseMs: 0, maxMs: 0 } });
    const other = new Notifier(await location.open(notifyMigrations), { channels: channels(), backoff: { baseMs: 0, maxMs: 0 } });
    const issuing = issuer.notifyAll(advisory, [slow, fast]);
    try {
      await waitFor('the issuer holding at the first recipient', () => held.size > 0, 10_000);
      assert.equal(await other.retryDue(), 0, 'the other process takes nothing the issuer is sending');
      assert.equal(receiver.hooks.length, 0);
      for (const c of held) c.destroy();
      const { deliveries } = await issuing;
      const byContact = new Map(deliveries.map((d) => [d.contactId, d.status]));
      assert.equal(byContact.get(fast.id), 'delivered', 'the issuer delivered it and says so');
      assert.equal(byContact.get(slow.id), 'pending', 'the held one failed and waits for a retry');
      assert.equal(receiver.hooks.length, 1);
    } finally {
      for (const c of held) c.destroy();
      await issuing.catch(() => undefined);
      hold.close();
      await receiver.close();
      await issuer.close();
      await other.close();
    }
  });

  test('two notifiers retrying the same store at once send a pending delivery once', async () => {
    const location = await fx.location();
    const store = await location.open(notifyMigrations);
    const port = await freePort();
    const c = await new ContactRegistry(store).add({ participantId: 'AGG1', name: 'Shared', role: 'operator', language: 'en', channels: { webhook: hook(port) } }, OPERATOR);
    const a = new Notifier(store, { channels: channels(), backoff: { baseMs: 0, maxMs: 0 } });
    await a.notifyAll(advisory, [c]);
    const late = await startWebhookReceiver(servers.world, 'hook', ['aggregator:AGG1'], servers.secrets, port);
    const other = await location.open(notifyMigrations); // a second process's connection (PostgreSQL) or the shared one (SQLite)
    const b = new Notifier(other, { channels: channels(), backoff: { baseMs: 0, maxMs: 0 } });
    try {
      const [x, y] = await Promise.all([a.retryDue(), b.retryDue()]);
      assert.equal(x + y, 1);
      assert.equal(late.hooks.length, 1, 'the receiver got it once');
    } finally {
      await late.close();
      await a.close();
      await b.close();
    }
  });
});

test('an SMTP server that does not offer STARTTLS gets nothing: the delivery stays pending', async (t) => {
  const plain = await startSmtp(servers.world, 'mail', { noStartTls: true });
  t.after(() => plain.close());
  const { openStore } = await import('../../../src/store/store.js');
  const store = await openStore({ url: join(servers.world.dir, `plain-${++seq}.db`), migrations: notifyMigrations });
  t.after(() => store.close());
  const c = await new ContactRegistry(store).add({ participantId: 'AGG1', name: 'x', role: 'owner', language: 'ja', channels: { email: 'x@example.jp' } }, OPERATOR);
  const mail = new SmtpChannel({ host: '127.0.0.1', port: plain.port, servername: 'localhost', from: 'security@agg1.example.jp', caFile: servers.world.caFile, auth: { user: SMTP_USER, pass: SMTP_PASS } });
  const notifier = new Notifier(store, { channels: [mail] });
  t.after(() => notifier.close());
  const { deliveries } = await notifier.notifyAll(advisory, [c]);
  assert.equal(deliveries[0]!.status, 'pending');
  assert.match(deliveries[0]!.lastError!, /STARTTLS/i);
  assert.ok(!deliveries[0]!.lastError!.includes(SMTP_PASS));
  assert.equal(plain.mails.length, 0);
});

test('a webhook receiver whose certificate is not from the configured CA gets nothing', async (t) => {
  const strange = await pkiWorld({ hook: 'operator:HOOK9' }, { prefix: 'erab-notify-other-' });
  t.after(() => strange.close());
  const impostor = await startWebhookReceiver(strange, 'hook', ['aggregator:AGG1'], servers.secrets);
  t.after(() => impostor.close());
  const { openStore } = await import('../../../src/store/store.js');
  const store = await openStore({ url: join(servers.world.dir, `ca-${++seq}.db`), migrations: notifyMigrations });
  t.after(() => store.close());
  const c = await new ContactRegistry(store).add({ participantId: 'AGG1', name: 'x', role: 'owner', language: 'en', channels: { webhook: hook(impostor.port) } }, OPERATOR);
  const notifier = new Notifier(store, { channels: channels() });
  const { deliveries } = await notifier.notifyAll(advisory, [c]);
  assert.equal(deliveries[0]!.status, 'pending');
  assert.match(deliveries[0]!.lastError!, /certificate/i);
  assert.equal(impostor.hooks.length, 0);
});
