/**
 * detectionAttachment over a role context with a real audit log and a real store: the closed
 * loop's delivery samples (RoleContext.onDeliverySample) reach the deviation rule; detection
 * switched off starts nothing; broken notify settings stop start-up naming the field.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../../src/core/clock.js';
import { AuditLog } from '../../../src/security/audit/log.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { DeliveryFeed, type RoleContext } from '../../../src/roles/common/composition.js';
import { detectionConfigSchema } from '../../../src/roles/common/detection-config.js';
import { detectionAttachment, DETECTION_MIGRATIONS } from '../../../src/secops/detect/index.js';
import { waitFor } from '../../kit/index.js';

let dir: string;
let log: AuditLog;
let store: Store;
const feed = new DeliveryFeed();
let ctx: RoleContext;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'erab-detect-attach-'));
  log = AuditLog.open({ dir: join(dir, 'audit'), origin: 'erab.test/attach/audit' });
  store = await openStore({ url: join(dir, 'role.db'), migrations: DETECTION_MIGRATIONS });
  ctx = { role: 'aggregator', id: 'AGG1', store, audit: log, auditLog: log, clock: systemClock, log: undefined, onDeliverySample: (fn) => feed.subscribe(fn) };
});
after(async () => {
  await store?.close();
  log?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('delivery samples from the role reach the deviation rule: delivered far from the instruction is an alert', async () => {
  const d = detectionAttachment(detectionConfigSchema.parse({ pollMs: 20 }));
  const attached = await d.attach(ctx);
  try {
    assert.ok(d.running);
    assert.equal(feed.wanted, true, 'detection subscribed to the samples');
    const t = Date.now();
    for (let i = 0; i < 3; i++) feed.publish({ key: 'tso/E1', t: t + i * 15_000, deliveredW: 1_000, instructedW: 10_000 });
    const a = await waitFor(() => d.inbox.received.find((x) => x.ruleId === 'delivery-far-from-instruction'), { what: 'the deviation alert' });
    assert.equal(a.key, 'tso/E1');
  } finally {
    await attached?.stop?.();
  }
  assert.equal(feed.wanted, false, 'unsubscribed at stop');
});

it('switched off, nothing starts; without a log of its own the role gets no detection', async () => {
  const off = detectionAttachment(detectionConfigSchema.parse({ enabled: false }));
  assert.equal(await off.attach(ctx), undefined);
  assert.equal(off.running, undefined);
  const noLog = detectionAttachment(detectionConfigSchema.parse({}));
  assert.equal(await noLog.attach({ ...ctx, auditLog: undefined }), undefined);
  assert.equal(noLog.running, undefined);
});

it('broken notify settings stop start-up naming the field', async () => {
  const d = detectionAttachment(detectionConfigSchema.parse({ notify: { smtp: { port: 587, from: 'soc@example.jp' } } }));
  await assert.rejects(Promise.resolve(d.attach(ctx)), /detection\.notify is invalid:\n {2}- smtp\.host: /);
});
