/**
 * Notify contacts are personal data (issue 18 item 2): with a key-encryption key their names,
 * e-mail addresses and webhook URLs (and the deliveries' addresses) are sealed in the store, the
 * audit log refers to the contact by id and never holds an address, and notices still reach
 * everyone — over a real SMTP server and a real mutual-TLS webhook receiver, into a real SQLite file
 * whose bytes are searched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog } from '../../../src/security/audit/log.js';
import { readRecords } from '../../../src/security/audit/export.js';
import { verifyAuditLog } from '../../../src/security/audit/verify.js';
import { FileKeyring, newKekText } from '../../../src/security/privacy/keyring.js';
import { openStore } from '../../../src/store/store.js';
import { PersonalDataVault } from '../../../src/store/vault.js';
import { ContactRegistry, Notifier, SmtpChannel, WebhookChannel, listDeliveries, newWebhookSecret, notifyMigrations, type NotifyTables } from '../../../src/secops/notify/index.js';
import type { Kysely } from 'kysely';
import { advisory, freePort } from './fixtures.js';
import { notifyServers, SMTP_PASS, SMTP_USER } from './servers.js';

const OPERATOR = { kind: 'operator', id: 'ops1' } as const;
const servers = notifyServers('erab-sealed-contacts-');

function vault(): PersonalDataVault {
  const file = join(servers.world.dir, 'kek.key');
  if (!existsSync(file)) writeFileSync(file, newKekText(), { mode: 0o600 });
  return new PersonalDataVault(FileKeyring.fromFiles(file));
}

test('sealed contacts: the raw database and the audit log hold no address, and every notice is still delivered', async () => {
  const dbFile = join(servers.world.dir, 'notify.db');
  const store = await openStore({ url: dbFile, migrations: notifyMigrations });
  const audit = AuditLog.open({ dir: join(servers.world.dir, 'audit'), origin: 'erab.test/agg1/audit', checkpointIntervalMs: 0 });
  const hookPath = '/hooks/owner-s7';
  const secret = newWebhookSecret();
  servers.secrets.set(hookPath, secret);
  const deadUrl = `https://127.0.0.1:${await freePort()}/hooks/gone-owner-s8`;
  const personal = {
    name: '高橋 一郎', email: 'ichiro.takahashi@household7.example.jp', url: `https://127.0.0.1:${servers.hooks.port}${hookPath}`,
    name2: 'Suzuki Hanako', email2: 'hanako.suzuki@household8.example.jp',
  };
  const agg = servers.world.get('agg');
  const v = vault();
  const contacts = new ContactRegistry(store, { audit, vault: v });
  const notifier = new Notifier(store, {
    audit, vault: v, backoff: { baseMs: 60_000, maxMs: 60_000 },
    channels: [
      new SmtpChannel({ host: '127.0.0.1', port: servers.smtp.port, servername: 'localhost', from: 'security@agg1.example.jp', caFile: servers.world.caFile, auth: { user: SMTP_USER, pass: SMTP_PASS }, timeoutMs: 10_000 }),
      new WebhookChannel({ caPem: servers.world.caPem, clientCert: { certPem: agg.certPem, keyPem: agg.keyPem }, timeoutMs: 5_000 }),
    ],
  });
  try {
    const owner = await contacts.add({ participantId: 'AGG1', siteId: 'S7', name: personal.name, role: 'owner', language: 'ja', channels: { email: personal.email, webhook: { url: personal.url, secret } } }, OPERATOR);
    const other = await contacts.add({ participantId: 'AGG1', siteId: 'S8', name: personal.name2, role: 'owner', language: 'en', channels: { email: personal.email2, webhook: { url: deadUrl, secret: newWebhookSecret() } } }, OPERATOR);
    assert.deepEqual((await contacts.list()).map((c) => [c.name, c.channels.email, c.channels.webhook?.url]), [[personal.name, personal.email, personal.url], [personal.name2, personal.email2, deadUrl]], 'read back in clear with the key');

    const { deliveries } = await notifier.notifyAll(advisory, await contacts.list(), OPERATOR);
    assert.deepEqual(deliveries.map((d) => [d.contactId, d.channel, d.address, d.status]).sort(), [
      [owner.id, 'email', personal.email, 'delivered'],
      [owner.id, 'webhook', personal.url, 'delivered'],
      [other.id, 'email', personal.email2, 'delivered'],
      [other.id, 'webhook', deadUrl, 'pending'],
    ].sort());
    assert.ok(servers.smtp.mails.some((m) => m.to[0] === personal.email) && servers.smtp.mails.some((m) => m.to[0] === personal.email2), 'both mails arrived');
    assert.ok(servers.hooks.hooks.some((h) => h.path === hookPath && h.signatureOk), 'the webhook arrived, signed with the sealed secret');

    // The columns hold ciphertext on the engine's own terms, not only in the file.
    const rows = await (store.db as Kysely<NotifyTables>).selectFrom('notify_contact').selectAll().execute();
    for (const r of rows) for (const f of [r.name, r.email, r.webhook_url, r.webhook_secret]) assert.match(String(f), /^enc2:/);
    const drows = await (store.db as Kysely<NotifyTables>).selectFrom('notify_delivery').select(['address', 'channel']).execute();
    for (const r of drows) assert.match(r.address, /^enc2:/, `${r.channel} delivery address is sealed`);

    // Without the key the contacts are refused, never shown as ciphertext; deliveries say "(sealed)".
    await assert.rejects(new ContactRegistry(store, { vault: null }).list(), /key-encryption key/);
    assert.deepEqual([...new Set((await listDeliveries(store.db as Kysely<NotifyTables>)).map((d) => d.address))], ['(sealed)']);

    // Removing a contact shreds its key: its past deliveries' addresses are gone for good.
    assert.equal(await contacts.remove(other.id, OPERATOR), true);
    const after = await notifier.deliveries();
    assert.deepEqual([...new Set(after.filter((d) => d.contactId === other.id).map((d) => d.address))], ['(erased)']);
    assert.deepEqual(after.filter((d) => d.contactId === owner.id).map((d) => d.address).sort(), [personal.email, personal.url].sort());
  } finally {
    await notifier.close();
    await store.close();
    audit.close();
  }

  const secretKey = secret.slice('whsec_'.length);
  const raw = [dbFile, `${dbFile}-wal`].filter(existsSync).map((f) => readFileSync(f).toString('latin1')).join('');
  const rawUtf8 = [dbFile, `${dbFile}-wal`].filter(existsSync).map((f) => readFileSync(f).toString('utf8')).join('');
  for (const [what, value] of Object.entries({ ...personal, deadUrl, secretKey })) {
    assert.ok(!raw.includes(value) && !rawUtf8.includes(value), `${what} is not in the raw database file`);
  }
  const records = [...readRecords(join(servers.world.dir, 'audit'))].map((l) => l.record!);
  assert.ok(records.some((r) => r.action === 'notify.deliver' && r.outcome === 'failure'), 'the failed delivery is audited');
  const text = JSON.stringify(records);
  for (const [what, value] of Object.entries({ ...personal, deadUrl, hookPath, secretKey })) assert.ok(!text.includes(value), `${what} is not in the audit log`);
  for (const r of records.filter((x) => x.action === 'notify.deliver')) assert.match(r.target ?? '', /^contact:\d+$/, 'a delivery record names the contact by id');
  assert.equal(verifyAuditLog(join(servers.world.dir, 'audit')).ok, true, 'the audit log verifies');
});
