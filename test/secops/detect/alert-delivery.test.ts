/**
 * Alerts through the notification channels, across real boundaries: a rogue mutual-TLS peer
 * knocking repeatedly on the aggregator's downstream VTN (and on the TSO's VTN) becomes an alert
 * in that role's detection — attached the way `erab aggregator run` / `erab tso run` attach it —
 * and the alert reaches the operator and security contacts as an e-mail (nodemailer to a real SMTP
 * server over STARTTLS) and a signed webhook (a real mutual-TLS HTTPS receiver), once: further
 * refusals merge into the same alert and send nothing more. A contact of another role gets nothing.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { startAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import { tsoConfigSchema } from '../../../src/roles/tso/config.js';
import { startTso } from '../../../src/roles/tso/tso.js';
import { aggregatorSecops, vtnSecops } from '../../../src/cli/role-secops.js';
import { openStore } from '../../../src/store/store.js';
import { ContactRegistry, newWebhookSecret, notifyMigrations, listDeliveries, type NotifyTables, type WebhookNoticeBody } from '../../../src/secops/notify/index.js';
import { readRecords } from '../../../src/security/audit/export.js';
import { startVenEndpoint } from '../../../src/endpoints/openadr/ven-endpoint.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import type { Kysely } from 'kysely';
import { request } from '../../security/tls-helpers.js';
import { pkiWorld, sleep, waitFor, type PkiWorld } from '../../kit/index.js';
import { SMTP_PASS, SMTP_USER, startSmtp, startWebhookReceiver, type SmtpReceiver, type WebhookReceiver } from '../notify/servers.js';

const OPERATOR = { kind: 'operator', id: 'ops1' } as const;
const ENV = { ERAB_ALERT_SMTP_PASSWORD: SMTP_PASS };

let world: PkiWorld<'agg' | 'tso' | 'mail' | 'hook' | 'rogueAgg'>;
let foreign: PkiWorld<'rogue'>;
let smtp: SmtpReceiver;
let hooks: WebhookReceiver;
const secrets = new Map<string, string>();
let seq = 0;

before(async () => {
  world = await pkiWorld({ agg: 'aggregator:AGG1', tso: 'tso:TSO1', mail: 'operator:MAIL1', hook: 'operator:HOOK1', rogueAgg: 'aggregator:ROGUE' }, { prefix: 'erab-alert-delivery-' });
  foreign = await pkiWorld({ rogue: 'gateway:GW1' }, { prefix: 'erab-alert-delivery-rogue-', ca: { commonName: 'rogue CA' } });
  smtp = await startSmtp(world, 'mail');
  hooks = await startWebhookReceiver(world, 'hook', ['aggregator:AGG1', 'tso:TSO1'], secrets);
});
after(async () => {
  await smtp?.close();
  await hooks?.close();
  await world?.close();
  await foreign?.close();
});

/** The `detection.notify` settings: STARTTLS mail with AUTH (password from the environment), webhooks with our certificate. */
function notifySettings(participant: 'agg' | 'tso') {
  const me = world.tlsFiles(participant);
  return {
    smtp: { host: '127.0.0.1', port: smtp.port, servername: 'localhost', from: `security@${participant}.example.jp`, caFile: world.caFile, user: SMTP_USER, passwordEnv: 'ERAB_ALERT_SMTP_PASSWORD', timeoutMs: 10_000 },
    webhook: { caFile: world.caFile, certFile: me.certFile, keyFile: me.keyFile, timeoutMs: 10_000 },
    retry: { baseMs: 500, maxMs: 2000, pollMs: 200 },
  };
}

/** Registers the contacts in the role's store before it starts: security (mail + webhook), operator (mail, ja), owner (mail). */
async function addContacts(url: string, participantId: string, tag: string) {
  const store = await openStore({ url, migrations: notifyMigrations });
  try {
    const contacts = new ContactRegistry(store);
    const path = `/hooks/${++seq}`;
    const secret = newWebhookSecret();
    secrets.set(path, secret);
    await contacts.add({ participantId, name: 'SOC', role: 'security', language: 'en', channels: { email: `soc-${tag}@example.jp`, webhook: { url: `https://127.0.0.1:${hooks.port}${path}`, secret } } }, OPERATOR);
    await contacts.add({ participantId, name: '運用担当', role: 'operator', language: 'ja', channels: { email: `ops-${tag}@example.jp` } }, OPERATOR);
    await contacts.add({ participantId, siteId: 'S1', name: 'Site owner', role: 'owner', language: 'ja', channels: { email: `owner-${tag}@example.jp` } }, OPERATOR);
    return path;
  } finally {
    await store.close();
  }
}

const rogueKnock = (port: number, n: number) => Promise.all(Array.from({ length: n }, () =>
  request(port, { cert: foreign.certs.rogue.certPem, key: foreign.certs.rogue.keyPem, ca: world.caPem, checkServerIdentity: () => undefined })));

const mailsFor = (tag: string, rule: string) => smtp.mails.filter((m) => m.to.some((t) => t.includes(tag)) && m.body.includes(rule));

it('aggregator: a rogue mTLS peer\'s repeated refusals → one alert e-mail per alert contact and one signed webhook; more refusals send nothing more', async () => {
  const tag = `agg${++seq}`;
  const url = join(world.dir, `${tag}.db`);
  const hookPath = await addContacts(url, 'AGG1', tag);
  const cfg = parseAggregatorConfig({
    id: 'AGG1', tls: world.tlsFiles('agg'), store: { url }, audit: { dir: join(world.dir, `${tag}-audit`) },
    downstream: { port: 0, allowList: { participants: ['gateway:GW1'] } },
    detection: { pollMs: 50, notify: notifySettings('agg') },
  });
  const secops = aggregatorSecops(cfg, { env: ENV });
  const agg = await startAggregator(cfg, secops.deps);
  try {
    await rogueKnock(agg.downstreamPort, 10);
    const alert = await waitFor(() => secops.detection.inbox.received.find((a) => a.ruleId === 'mtls-refusals-from-source'), { what: 'the alert' });
    const soc = await waitFor(() => mailsFor(`soc-${tag}`, 'mtls-refusals-from-source')[0], { what: 'the alert e-mail to the security contact' });
    assert.equal(soc.secure, true, 'sent over STARTTLS');
    assert.equal(soc.user, SMTP_USER);
    assert.match(soc.subject, /^\[Security alert\] \[High\] aggregator:AGG1: .*\(127\.0\.0\.1\)$/);
    assert.match(soc.body, new RegExp(`Alert: ${alert.id}\\n`));
    assert.match(soc.body, /Key: 127\.0\.0\.1/);
    const ops = await waitFor(() => mailsFor(`ops-${tag}`, 'mtls-refusals-from-source')[0], { what: 'the alert e-mail to the operator (ja)' });
    assert.match(ops.subject, /^【セキュリティ警報】\[高\] aggregator:AGG1: /);
    assert.match(ops.body, /erab alerts ack/);
    const hook = await waitFor(() => hooks.hooks.find((h) => h.path === hookPath && h.body.includes('mtls-refusals-from-source')), { what: 'the alert webhook' });
    assert.equal(hook.signatureOk, true, 'Standard Webhooks signature verified by the receiver');
    const body = JSON.parse(hook.body) as WebhookNoticeBody;
    assert.equal(body.data.template, 'security-alert');
    assert.equal(body.data.content.alertId, alert.id);
    assert.equal(body.data.content.key, '127.0.0.1');
    assert.equal(body.data.recipient.role, 'security');
    await waitFor(async () => (await secops.detection.running!.alerts.list({ ruleId: 'mtls-refusals-from-source' }))[0]?.delivery === 'sent', { what: 'the alert recorded as sent' });

    // De-duplicated: 20 more refusals merge into the open alert, and nobody is told again.
    await rogueKnock(agg.downstreamPort, 20);
    await waitFor(async () => ((await secops.detection.running!.alerts.list({ ruleId: 'mtls-refusals-from-source' }))[0]?.count ?? 0) >= 2, { what: 'the further refusals merged' });
    await sleep(500);
    assert.equal(mailsFor(`soc-${tag}`, 'mtls-refusals-from-source').length, 1, 'one mail for the one alert');
    assert.equal(hooks.hooks.filter((h) => h.path === hookPath && h.body.includes('mtls-refusals-from-source')).length, 1);
    assert.deepEqual(smtp.mails.filter((m) => m.to.some((t) => t.includes(`owner-${tag}`))), [], 'an owner is not an alert recipient');
    // Each delivery is recorded by the notifier and audited in the aggregator's log.
    const reader = await openStore({ url, migrations: notifyMigrations, ignoreUnknownMigrations: true });
    const deliveries = await listDeliveries(reader.db as Kysely<NotifyTables>).finally(() => reader.close());
    assert.ok(deliveries.filter((d) => d.status === 'delivered').length >= 3, JSON.stringify(deliveries));
    assert.ok([...readRecords(cfg.audit.dir)].some((l) => l.record?.action === 'notify.deliver' && l.record.outcome === 'success'));
  } finally {
    await agg.stop();
  }
});

it('TSO: detection runs on the TSO\'s own audit log and store; a rogue TLS peer and a rogue aggregator (valid certificate, not contracted, trying again) are alerts, mailed', async () => {
  const tag = `tso${++seq}`;
  const url = join(world.dir, `${tag}.db`);
  await addContacts(url, 'TSO1', tag);
  const cfg = tsoConfigSchema.parse({
    id: 'TSO1', tls: world.tlsFiles('tso'), listen: { port: 0 }, store: { url }, audit: { dir: join(world.dir, `${tag}-audit`) },
    contractedAggregators: [{ id: 'AGG1' }],
    detection: { pollMs: 50, notify: notifySettings('tso') },
  });
  const secops = vtnSecops(cfg.detection, { env: ENV });
  const tso = await startTso(cfg, secops.deps);
  const venStore = await openStore({ url: join(world.dir, `${tag}-rogue-ven.db`), migrations: openadrStoreMigrations });
  let ven: Awaited<ReturnType<typeof startVenEndpoint>> | undefined;
  try {
    assert.ok(secops.detection.running, 'detection attached to the TSO');
    await rogueKnock(tso.vtn.port, 10);
    await waitFor(() => mailsFor(`soc-${tag}`, 'mtls-refusals-from-source')[0], { what: 'the TSO\'s alert e-mail' });

    // A rogue aggregator: its certificate is valid, it is not contracted; it keeps trying to register.
    ven = await startVenEndpoint({
      venName: 'ROGUE', vtnUrl: tso.vtn.url, material: await world.material('rogueAgg'), expectVtn: { role: 'tso', id: 'TSO1' },
      audit: new MemoryAuditSink(), store: venStore, ven: { backoff: { initialMs: 100, maxMs: 200 } },
    });
    // Its certificate (SHA-256) is the alert's key: refused, then trying again with the same certificate.
    const rogueSha = new X509Certificate(world.get('rogueAgg').certPem).fingerprint256.replace(/:/g, '').toLowerCase();
    const a = await waitFor(() => secops.detection.inbox.received.find((x) => x.ruleId === 'refused-peer-retries' && x.key === rogueSha), { what: 'the rogue aggregator alert' });
    assert.match(a.evidence.map((e) => e.reason).join(' '), /aggregator ROGUE .*is not on the allow-list/);
    const mail = await waitFor(() => mailsFor(`soc-${tag}`, 'refused-peer-retries').find((m) => m.body.includes(rogueSha)), { what: 'the rogue aggregator alert e-mail' });
    assert.match(mail.subject, /^\[Security alert\] \[High\] tso:TSO1: /);
  } finally {
    await ven?.close();
    await venStore.close();
    await tso.stop();
  }
});
