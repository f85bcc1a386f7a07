/**
 * The contact registry, the templates and the webhook signature on their own: what is accepted,
 * what is refused and how the refusal is worded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describeEachEngine } from '../../store/harness.js';
import {
  ContactRegistry, Notifier, newWebhookSecret, notifyMigrations, renderNotice, signWebhook, verifyWebhook, WebhookChannel, type ContactInput,
} from '../../../src/secops/notify/index.js';
import { MemoryAuditSink } from '../../../src/core/audit-port.js';
import { advisory, freePort } from './fixtures.js';

const OPS = { kind: 'operator', id: 'ops1' } as const;
const base: ContactInput = { participantId: 'AGG1', siteId: 'S1', name: 'Owner', role: 'owner', language: 'ja', channels: { email: 'owner@s1.example.jp' } };

describeEachEngine('contact registry', (fx) => {
  test('add, list by participant, site and role, remove; every change audited', async () => {
    const store = await (await fx.location()).open(notifyMigrations);
    const audit = new MemoryAuditSink();
    const reg = new ContactRegistry(store, { audit });
    const a = await reg.add(base, OPS);
    const b = await reg.add({ ...base, siteId: 'S2', role: 'operator', language: 'en', channels: { webhook: { url: 'https://ops.example.com/hook?token=x', secret: newWebhookSecret() }, gatewayVenId: 'GW2' } }, OPS);
    await reg.add({ ...base, participantId: 'AGG2', siteId: undefined, role: 'downstream-aggregator' }, OPS);
    assert.deepEqual((await reg.list({ participantId: 'AGG1' })).map((c) => c.id), [a.id, b.id]);
    assert.deepEqual((await reg.list({ siteId: 'S2' })).map((c) => c.id), [b.id]);
    assert.deepEqual((await reg.list({ role: 'downstream-aggregator' })).map((c) => c.participantId), ['AGG2']);
    assert.deepEqual(await reg.get(b.id), b);
    assert.equal(await reg.remove(a.id, OPS), true);
    assert.equal(await reg.remove(a.id, OPS), false);
    assert.deepEqual(audit.records.map((r) => [r.action, r.outcome]), [
      ['notify.contact.add', 'success'], ['notify.contact.add', 'success'], ['notify.contact.add', 'success'],
      ['notify.contact.remove', 'success'], ['notify.contact.remove', 'failure'],
    ]);
    assert.ok(!JSON.stringify(audit.records).includes(b.channels.webhook!.secret), 'no secret in the audit records');
  });

  test('a delivery to a contact removed before it was delivered is cancelled, not retried forever', async () => {
    const store = await (await fx.location()).open(notifyMigrations);
    const reg = new ContactRegistry(store);
    // Nothing listens on the port: the first attempt fails and the delivery waits for a retry.
    const c = await reg.add({ ...base, channels: { webhook: { url: `https://127.0.0.1:${await freePort()}/h`, secret: newWebhookSecret() } } }, OPS);
    const notifier = new Notifier(store, { channels: [new WebhookChannel()], backoff: { baseMs: 0, maxMs: 0 } });
    await notifier.notifyAll(advisory, [c]);
    await reg.remove(c.id, OPS);
    await notifier.retryDue();
    const [d] = await notifier.deliveries();
    assert.equal(d!.status, 'cancelled');
    assert.match(d!.lastError!, /contact \d+ was removed/);
    assert.deepEqual(await notifier.deliveries({ pending: true }), []);
  });

  test('notifyAll refuses data that does not fit the template before anything is written or sent', async () => {
    const store = await (await fx.location()).open(notifyMigrations);
    const c = await new ContactRegistry(store).add(base, OPS);
    const notifier = new Notifier(store, { channels: [new WebhookChannel()] });
    await assert.rejects(notifier.notifyAll({ ...advisory, data: { ...advisory.data, cvss: { score: 11 } } }, [c]), /notice data for template "vulnerability": cvss\.score: /);
    await assert.rejects(notifier.notifyAll({ template: 'nonsense', data: {} }, [c]), /notice template "nonsense" is unknown \(known: vulnerability/);
    await assert.rejects(notifier.notifyAll(advisory, []), /no recipients/);
    assert.deepEqual(await notifier.deliveries(), [], 'no delivery written, none attempted');
  });
});

test('contacts are refused with the field and the rule named', async () => {
  const { validateContact } = await import('../../../src/secops/notify/contacts.js');
  const refuse = (c: Partial<ContactInput> & { channels?: ContactInput['channels'] }, re: RegExp) => assert.throws(() => validateContact({ ...base, ...c }), re);
  refuse({ channels: {} }, /at least one channel: email, webhook or gateway/);
  refuse({ channels: { email: 'owner@s1.example.jp\r\nBcc: x@evil.example' } }, /contact email "owner@s1\.example\.jp\\r\\nBcc: x@evil\.example" is not an address/);
  refuse({ channels: { webhook: { url: 'http://127.0.0.1/h', secret: newWebhookSecret() } } }, /must use https/);
  refuse({ channels: { webhook: { url: 'https://u:p@127.0.0.1/h', secret: newWebhookSecret() } } }, /must not carry credentials/);
  refuse({ channels: { webhook: { url: 'https://127.0.0.1/h', secret: 'whsec_c2hvcnQ=' } } }, /base64 of 24\.\.64 random bytes/);
  refuse({ role: 'boss' as never }, /contact role "boss" must be one of owner, operator, downstream-aggregator/);
  refuse({ language: 'fr' as never }, /contact language "fr" must be one of ja, en/);
  refuse({ siteId: 'S 1' }, /contact siteId "S 1" is invalid/);
  refuse({ name: 'a\nb' }, /contact name must be 1\.\.200 characters on one line/);
});

test('the vulnerability template renders Japanese and English with the same facts', () => {
  const at = Date.UTC(2026, 5, 1, 3, 0);
  const ja = renderNotice({ ...advisory, issuedAt: at as never }, 'ja');
  const en = renderNotice({ ...advisory, issuedAt: at as never }, 'en');
  assert.match(ja.text, /勧告ID: JVNDB-2026-000123/);
  assert.match(ja.text, /影響を受けるサイト:\n {2}- S1\n {2}- S2/);
  assert.match(ja.text, /通知日時: 2026-06-01T12:00:00\+09:00 \(日本時間\)/);
  assert.match(en.text, /Affected products:\n {2}- Example Denki EB-100 firmware < 2\.4\.1/);
  assert.match(en.text, /CVSS base score: 9\.8 \(Critical\) CVSS:3\.1\/AV:N/);
  assert.match(en.text, /Notified at: 2026-06-01T03:00:00Z/);
});

test('Standard Webhooks signatures: the spec computation, a tampered body and a stale timestamp refused', () => {
  const secret = newWebhookSecret();
  const body = '{"type":"erab.notice"}';
  const now = Date.UTC(2026, 0, 1);
  const ts = now / 1000;
  const h = signWebhook(secret, 'msg_1', ts, body);
  const want = createHmac('sha256', Buffer.from(secret.slice(6), 'base64')).update(`msg_1.${ts}.${body}`).digest('base64');
  assert.deepEqual(h, { 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${want}` });
  verifyWebhook(secret, h, body, { now });
  verifyWebhook(secret, { ...h, 'webhook-signature': `v1,AAAA ${h['webhook-signature']}` }, body, { now }); // key rotation: any v1 matches
  assert.throws(() => verifyWebhook(secret, h, body.replace('notice', 'noticf'), { now }), /no v1 signature matches the body/);
  assert.throws(() => verifyWebhook(secret, h, body, { now: now + 301_000 }), /outside the tolerance/);
  assert.throws(() => verifyWebhook(secret, { ...h, 'webhook-id': undefined }, body, { now }), /header webhook-id is missing/);
  assert.throws(() => verifyWebhook(newWebhookSecret(), h, body, { now }), /no v1 signature matches/);
});

test('the notification configuration refuses a bad field by name and keeps the SMTP password out of the file', async () => {
  const { notifyConfigSchema, buildChannels } = await import('../../../src/secops/notify/config.js');
  const { formatIssues } = await import('../../../src/core/config.js');
  const bad = notifyConfigSchema.safeParse({ smtp: { host: 'mail.example.jp', from: 'security@agg1.example.jp', user: 'erab', password: 'x' } });
  assert.equal(bad.success, false);
  assert.match(formatIssues(bad.error!.issues), /smtp: Unrecognized key: "password"/);
  const half = notifyConfigSchema.safeParse({ smtp: { host: 'mail.example.jp', from: 'security@agg1.example.jp', user: 'erab' } });
  assert.match(formatIssues(half.error!.issues), /user and passwordEnv go together/);
  const cfg = notifyConfigSchema.parse({ smtp: { host: 'mail.example.jp', from: 'security@agg1.example.jp', user: 'erab', passwordEnv: 'SMTP_PASS' } });
  assert.throws(() => buildChannels(cfg, { env: {} }), /notify\.smtp\.passwordEnv: the environment variable SMTP_PASS is not set/);
  assert.deepEqual(buildChannels(cfg, { env: { SMTP_PASS: 'p' } }).map((c) => c.kind), ['email', 'webhook']);
});
