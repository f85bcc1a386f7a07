/**
 * Each recipient is told only what concerns it (issue 13 item 4): one advisory affects two sites;
 * the site contacts of site-A and site-B each receive a notice that names their own site and not
 * the other's, over real SMTP (STARTTLS) and real signed webhooks, all under the notice's ONE
 * timestamp; a participant-level contact sees its participant's sites, the notifying
 * participant's own operator sees both. Retries render the same narrowed text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../kit/index.js';
import { describeEachEngine } from '../../store/harness.js';
import { composeMigrations } from '../../../src/store/migrations.js';
import { applyAssets } from '../../../src/secops/inventory/apply.js';
import { importFeed } from '../../../src/secops/feeds/import.js';
import { evaluateFindings } from '../../../src/secops/matching/findings.js';
import { notifyAdvisory } from '../../../src/secops/advisory-notice.js';
import { secopsMigrations, type SecopsTables } from '../../../src/secops/tables.js';
import { simulatedBatteryAdvisory } from '../../../src/roles/demo/advisory.js';
import {
  ContactRegistry, Notifier, SmtpChannel, WebhookChannel, newWebhookSecret, notifyMigrations, type WebhookNoticeBody,
} from '../../../src/secops/notify/index.js';
import { notifyServers, SMTP_PASS, SMTP_USER } from './servers.js';

const OPERATOR = { kind: 'operator', id: 'ops1' } as const;

const servers = notifyServers('erab-notify-scope-');
let seq = 0;

function hook(): { url: string; secret: string } {
  const path = `/scoped/${++seq}`;
  const secret = newWebhookSecret();
  servers.secrets.set(path, secret);
  return { url: `https://127.0.0.1:${servers.hooks.port}${path}`, secret };
}

const battery = (site: string, product: string) => ({
  id: `device:${site}-bat`, kind: 'device', management_no: `${site}-bat`, name: `battery ${site}`, site_id: site, gateway_id: null, class: 'battery',
  maker_code: 'FFFFFE', product_code: product, serial_number: null, version: '1.0.0', cpe: null, purl: null, parent_id: null, present: 1,
});

describeEachEngine('per-recipient vulnerability notices', (fx) => {
  test('two site contacts each see only their own site; the operator sees both; one timestamp', { timeout: 60_000 }, async () => {
    const store = await (await fx.location()).open<SecopsTables>(composeMigrations(secopsMigrations, notifyMigrations));
    const tag = `${fx.engine}-${++seq}`;
    const siteA = `site-A-${tag}`;
    const siteB = `site-B-${tag}`;
    const model = `ERAB-BAT-${tag}`.slice(0, 30);
    await applyAssets(store.db, { prefixes: [`device:${siteA}`, `device:${siteB}`] }, [battery(siteA, model), battery(siteB, model)], Date.now());
    const cve = `CVE-2026-${String(50000 + seq)}`;
    await importFeed(store.db, { format: 'csaf', bytes: Buffer.from(simulatedBatteryAdvisory({ id: `SCOPE-${tag}`, cve, fixedVersion: '2.0.0', productCode: model })), source: `scope-${tag}.json`, actor: OPERATOR });
    await evaluateFindings(store.db);

    const contacts = new ContactRegistry(store);
    const ownerA = await contacts.add({ participantId: 'AGG1', siteId: siteA, name: 'Owner A', role: 'owner', language: 'en', channels: { email: `a-${tag}@site-a.example.jp`, webhook: hook() } }, OPERATOR);
    // Site B belongs to a downstream aggregator, AGG2: its participant-level contact sees site B only.
    const ownerB = await contacts.add({ participantId: 'AGG2', siteId: siteB, name: 'Owner B', role: 'owner', language: 'ja', channels: { email: `b-${tag}@site-b.example.jp`, webhook: hook() } }, OPERATOR);
    const agg2 = await contacts.add({ participantId: 'AGG2', name: 'AGG2 desk', role: 'downstream-aggregator', language: 'en', channels: { email: `desk-${tag}@agg2.example.jp` } }, OPERATOR);
    const ops = await contacts.add({ participantId: 'AGG1', name: 'AGG1 operations', role: 'operator', language: 'en', channels: { email: `ops-${tag}@agg1.example.jp` } }, OPERATOR);

    const p = servers.world.get('agg');
    const notifier = new Notifier(store, {
      channels: [
        new SmtpChannel({ host: '127.0.0.1', port: servers.smtp.port, servername: 'localhost', from: 'security@agg1.example.jp', caFile: servers.world.caFile, auth: { user: SMTP_USER, pass: SMTP_PASS }, timeoutMs: 10_000 }),
        new WebhookChannel({ caPem: servers.world.caPem, clientCert: { certPem: p.certPem, keyPem: p.keyPem }, timeoutMs: 10_000 }),
      ],
    });
    try {
      const r = await notifyAdvisory(store.db, { notifier, contacts }, cve, { actor: OPERATOR, deadline: Date.UTC(2027, 0, 31), notifierId: 'AGG1' });
      assert.deepEqual(r.sites, [siteA, siteB].sort());
      assert.deepEqual(r.deliveries.map((d) => d.status), r.deliveries.map(() => 'delivered'));
      const iso = new Date(r.notice.issuedAt).toISOString();

      const mailTo = (addr: string) => servers.smtp.mails.find((m) => m.to.includes(addr));
      await waitFor('four mails', () => [ownerA, ownerB, agg2, ops].every((c) => mailTo(c.channels.email!) !== undefined), 20_000);
      const body = (c: typeof ownerA) => mailTo(c.channels.email!)!.body;
      // Neither site's notice names the other site.
      assert.match(body(ownerA), new RegExp(`- ${siteA}`));
      assert.doesNotMatch(body(ownerA), new RegExp(siteB));
      assert.match(body(ownerB), new RegExp(`- ${siteB}`));
      assert.doesNotMatch(body(ownerB), new RegExp(siteA));
      // AGG2's desk: its participant's site only; the notifying participant's operator: both.
      assert.match(body(agg2), new RegExp(siteB));
      assert.doesNotMatch(body(agg2), new RegExp(siteA));
      assert.match(body(ops), new RegExp(siteA));
      assert.match(body(ops), new RegExp(siteB));
      for (const c of [ownerA, ownerB, agg2, ops]) assert.equal(mailTo(c.channels.email!)!.headers.get('x-erab-notice-time'), iso);

      // Webhooks: text and structured content are narrowed too (the per-site scopes are never sent).
      const hookOf = (c: typeof ownerA) => servers.hooks.hooks.find((h) => c.channels.webhook!.url.endsWith(h.path));
      await waitFor('two webhooks', () => hookOf(ownerA) !== undefined && hookOf(ownerB) !== undefined, 20_000);
      for (const [c, own, other] of [[ownerA, siteA, siteB], [ownerB, siteB, siteA]] as const) {
        const h = hookOf(c)!;
        assert.ok(h.signatureOk);
        const w = JSON.parse(h.body) as WebhookNoticeBody;
        assert.equal(w.timestamp, iso);
        assert.equal(w.data.noticeId, r.notice.id);
        assert.deepEqual(w.data.content.affectedSites, [own]);
        assert.equal(w.data.content.siteScopes, undefined);
        assert.ok(!h.body.includes(other), `the webhook of ${own} does not name ${other}`);
      }
    } finally {
      await notifier.close();
      await store.close();
    }
  });
});
