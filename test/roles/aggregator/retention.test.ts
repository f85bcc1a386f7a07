/**
 * Retention of personal data (src/roles/aggregator/portfolio/retention.ts): a site whose devices
 * left longer ago than the period has its name and address erased and its key shredded; a site
 * still taking part keeps them; the audit log still verifies. Both engines.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describeEachEngine } from '../../store/harness.js';
import { manualClock, T0 } from '../../kit/index.js';
import { Portfolio } from '../../../src/roles/aggregator/portfolio/portfolio.js';
import { portfolioMigrations, type PortfolioTables } from '../../../src/roles/aggregator/portfolio/tables.js';
import { enforceRetention, sitesPastRetention } from '../../../src/roles/aggregator/portfolio/retention.js';
import { PersonalDataVault } from '../../../src/store/vault.js';
import { FileKeyring } from '../../../src/security/privacy/keyring.js';
import { AuditLog } from '../../../src/security/audit/log.js';
import { verifyAuditLog } from '../../../src/security/audit/verify.js';

const dir = mkdtempSync(join(tmpdir(), 'erab-retention-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const DAY = 86_400_000;

describeEachEngine('personal data retention', (fx) => {
  test('sites whose devices left longer ago than the period are erased, others kept; the audit log verifies', async () => {
    const loc = await fx.location();
    const store = await loc.open<PortfolioTables>(portfolioMigrations);
    const clock = manualClock(T0);
    const auditDir = join(dir, `audit-${fx.engine}`);
    const audit = AuditLog.open({ dir: auditDir, origin: `erab.test/retention-${fx.engine}/audit` });
    const vault = new PersonalDataVault(new FileKeyring([randomBytes(32)]));
    const p = new Portfolio(store, { clock, audit, vault });
    await p.importText([
      'resource_id,site_id,site_name,tso_area,site_address,pool_id,pool_name,product,program,class,name,capacity_w,capacity_wh',
      'bat-1,s1,Mori household,tokyo,"1-1 Ota",tokyo-t2,Tokyo,tertiary2,tepco-sds,battery,Battery,5000,9800',
      'bat-2,s2,Kato household,tokyo,"2-2 Ota",tokyo-t2,Tokyo,tertiary2,tepco-sds,battery,Battery,5000,9800',
    ].join('\n'), 'csv', 'fleet.csv', { kind: 'operator', id: 'alice' });
    // s1's battery left (contract ended) at import time; s2's is still there.
    await sql`update portfolio_resource set present = 0 where id = 'bat-1'`.execute(store.db);
    assert.deepEqual(await sitesPastRetention(store.db, { personalDays: 30 }, T0 + 29 * DAY), [], 'not yet');
    clock.advance(40 * DAY);
    assert.deepEqual(await enforceRetention(p, store.db, { personalDays: 30 }, clock.now()), ['s1']);
    const sites = (await p.listSites()).items;
    assert.deepEqual(sites.map((s) => [s.id, s.name, s.address]), [['s1', '(erased)', null], ['s2', 'Kato household', '2-2 Ota']]);
    // Both sites were sealed in one batch: it is re-sealed under a fresh salt with s2 alone.
    const batches = await store.db.selectFrom('privacy_sealed_batch').select('subjects').execute();
    assert.deepEqual(batches.map((r) => JSON.parse(r.subjects)), [['site:s2']], "s1 is shredded from its batch");
    assert.deepEqual(await enforceRetention(p, store.db, { personalDays: 30 }, clock.now()), [], 'erased once');
    audit.close();
    const v = verifyAuditLog(auditDir);
    assert.ok(v.ok, JSON.stringify(v.problems));
  });
});
