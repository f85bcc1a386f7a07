import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { loadConfig } from '../../../src/core/config.js';
import { ConfigError } from '../../../src/core/errors.js';
import { auditConfigSchema, openAuditLog } from '../../../src/security/audit/config.js';
import { verifyAuditLog } from '../../../src/security/audit/verify.js';

const roleSchema = z.strictObject({ audit: auditConfigSchema });

test('audit configuration from a file and the environment opens a working log', () => {
  const root = mkdtempSync(join(tmpdir(), 'erab-audit-cfg-'));
  try {
    const file = join(root, 'role.json');
    writeFileSync(file, JSON.stringify({ audit: { dir: join(root, 'audit'), origin: 'erab.test/cfg', retention: { maxAgeDays: 400 } } }));
    const cfg = loadConfig(roleSchema, { file, env: { ERAB_AUDIT__CHECKPOINT_EVERY: '5' } });
    assert.deepEqual({ every: cfg.audit.checkpointEvery, interval: cfg.audit.checkpointIntervalMs, seg: cfg.audit.segmentMaxRecords, ret: cfg.audit.retention }, { every: 5, interval: 60_000, seg: 10_000, ret: { maxAgeDays: 400, deleteArchived: false } });
    const log = openAuditLog(cfg.audit);
    for (let i = 0; i < 12; i++) log.append({ actor: { kind: 'system', id: 'cfg' }, action: 'config.test', outcome: 'success' });
    log.close();
    const r = verifyAuditLog(cfg.audit.dir);
    assert.equal(r.ok, true);
    assert.equal(r.checkpoints.valid, 4); // 0, 5, 10, 12
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('an invalid audit configuration names the field and the rule', () => {
  assert.throws(() => loadConfig(roleSchema, { env: { ERAB_AUDIT__DIR: '/tmp/x', ERAB_AUDIT__ORIGIN: 'has space' } }), (e: unknown) => e instanceof ConfigError && /audit\.origin: .*without spaces/.test(e.message));
  assert.throws(() => loadConfig(roleSchema, { env: { ERAB_AUDIT__DIR: '/tmp/x', ERAB_AUDIT__ORIGIN: 'ok', ERAB_AUDIT__SEGMENT_MAX_RECORDS: '0' } }), (e: unknown) => e instanceof ConfigError && /audit\.segmentMaxRecords/.test(e.message));
  assert.throws(() => loadConfig(roleSchema, { env: { ERAB_AUDIT__DIR: '/tmp/x', ERAB_AUDIT__ORIGIN: 'ok', ERAB_AUDIT__RETENTION__MAX_RECORDS: '-3' } }), (e: unknown) => e instanceof ConfigError && /audit\.retention\.maxRecords/.test(e.message));
});
