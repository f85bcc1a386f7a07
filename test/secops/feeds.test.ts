/**
 * Feed import on both engines: the fixture feeds we wrote (NVD 2.0 with an "Awaiting Analysis"
 * record, JVNRSS with CPE 2.2 only, VULDEF with Japanese text, CSAF with a version range and no
 * CPE) are imported, recorded and upserted; hostile feeds are refused whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/core/audit-port.js';
import { ManualClock } from '../../src/core/clock.js';
import { importFeed, listImports } from '../../src/secops/feeds/import.js';
import type { FeedFormat } from '../../src/secops/feeds/model.js';
import { secopsMigrations, type SecopsTables } from '../../src/secops/tables.js';
import { describeEachEngine } from '../store/harness.js';
import { REPO_ROOT } from '../repo.js';

const FEEDS = join(REPO_ROOT, 'test', 'fixtures', 'feeds');
const fixture = (name: string) => readFileSync(join(FEEDS, name));

describeEachEngine('secops feeds', (fx) => {
  async function fresh() {
    const store = await (await fx.location()).open<SecopsTables>(secopsMigrations);
    return { store, db: store.db, audit: new MemoryAuditSink(), clock: new ManualClock(Date.UTC(2026, 11, 1, 0, 0, 0)) };
  }
  const count = async (db: Awaited<ReturnType<typeof fresh>>['db']) => ({
    advisories: Number((await db.selectFrom('secops_advisory').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
    imports: (await listImports(db)).length,
  });

  test('imports NVD, JVN (overview and detail) and CSAF fixtures; each import recorded with its SHA-256', async () => {
    const { store, db, audit, clock } = await fresh();
    const nvd = await importFeed(db, { format: 'nvd', bytes: fixture('nvd-cve-2.0.json'), source: 'nvd-cve-2.0.json', audit, clock });
    assert.deepEqual({ ...nvd, importId: undefined }, {
      importId: undefined, format: 'nvd', source: 'nvd-cve-2.0.json', sha256: createHash('sha256').update(fixture('nvd-cve-2.0.json')).digest('hex'),
      records: 3, added: 3, updated: 0, unchanged: 0,
    });
    const awaiting = await db.selectFrom('secops_advisory').selectAll().where('uid', '=', 'nvd:CVE-2026-10002').executeTakeFirstOrThrow();
    assert.equal(awaiting.status, 'Awaiting Analysis');
    assert.deepEqual(JSON.parse(awaiting.affected), [], 'no configurations yet: kept, affecting nothing until analysed');
    const kev = await db.selectFrom('secops_advisory').selectAll().where('uid', '=', 'nvd:CVE-2026-10001').executeTakeFirstOrThrow();
    assert.equal(Number(kev.known_exploited), 1);
    assert.equal(Number(kev.cvss_score), 8.8);
    assert.equal((await db.selectFrom('secops_advisory').select('cvss_version').where('uid', '=', 'nvd:CVE-2026-10003').executeTakeFirstOrThrow()).cvss_version, '4.0', 'the newest CVSS version is preferred');

    const rss = await importFeed(db, { format: 'jvn', bytes: fixture('jvnrss-overview.xml'), source: 'jvnrss-overview.xml', audit, clock });
    assert.equal(rss.added, 1);
    const overview = await db.selectFrom('secops_advisory').selectAll().where('uid', '=', 'jvn:JVNDB-2026-000201').executeTakeFirstOrThrow();
    assert.equal(overview.level, 'overview');
    assert.equal(JSON.parse(overview.affected)[0].cpe.vendor, 'sample-denki', 'the CPE 2.2 URI is read');
    assert.deepEqual(JSON.parse(overview.aliases), ['CVE-2026-20201']);

    clock.advance(1000);
    const detail = await importFeed(db, { format: 'jvn', bytes: fixture('vuldef-detail.xml'), source: 'vuldef-detail.xml', audit, clock });
    assert.deepEqual([detail.added, detail.updated], [0, 1], 'the detail replaces the overview of the same JVNDB id');
    const row = await db.selectFrom('secops_advisory').selectAll().where('uid', '=', 'jvn:JVNDB-2026-000201').executeTakeFirstOrThrow();
    assert.equal(row.level, 'detail');
    assert.match(row.description, /^サンプル電機株式会社が提供する家庭用蓄電システム SB-7 には、認証回避の脆弱性が存在します。/, 'Japanese text kept');
    assert.match(row.fix ?? '', /Ver\.2\.0\.1 以降へアップデート/);
    assert.match(row.fix ?? '', /「サポート & ダウンロード」/, 'predefined XML entities are still decoded');
    assert.deepEqual(JSON.parse(row.affected)[0].range, { endIncluding: '2.0.0' });
    // An overview arriving after the detail does not take the version range away.
    const again = await importFeed(db, { format: 'jvn', bytes: fixture('jvnrss-overview.xml'), source: 'jvnrss-overview.xml', audit, clock });
    assert.deepEqual([again.added, again.updated, again.unchanged], [0, 0, 1]);
    assert.equal((await db.selectFrom('secops_advisory').select('level').where('uid', '=', 'jvn:JVNDB-2026-000201').executeTakeFirstOrThrow()).level, 'detail');

    const csaf = await importFeed(db, { format: 'csaf', bytes: fixture('csaf-2.0.json'), source: 'csaf-2.0.json', audit, clock });
    assert.equal(csaf.added, 1);
    const c = await db.selectFrom('secops_advisory').selectAll().where('uid', '=', 'csaf:TTK-2026-0007').executeTakeFirstOrThrow();
    const affected = JSON.parse(c.affected) as { cpe?: unknown; modelNumbers?: string[]; purl?: string; range: unknown }[];
    assert.deepEqual(affected.map((a) => [a.cpe ?? null, a.modelNumbers ?? null, a.purl ?? null, a.range]), [
      [null, ['PVH-55'], null, { vers: 'vers:generic/>=3.0|<3.2.1' }],
      [null, null, 'pkg:npm/semver', { vers: 'vers:npm/<7.5.2' }],
    ], 'known_affected only (the fixed 3.2.1 is not listed), a version range without CPE');
    assert.equal(Number(c.known_exploited), 1);
    assert.match(c.title, /テスト太陽光製/);

    assert.deepEqual(await count(db), { advisories: 5, imports: 5 });
    assert.deepEqual(audit.records.filter((r) => r.action === 'vuln.feed.import').map((r) => r.outcome), ['success', 'success', 'success', 'success', 'success']);
    await store.close();
  });

  test('re-importing the same or an updated feed never duplicates an advisory', async () => {
    const { store, db, clock } = await fresh();
    const bytes = fixture('nvd-cve-2.0.json');
    await importFeed(db, { format: 'nvd', bytes, source: 'a.json', clock });
    const same = await importFeed(db, { format: 'nvd', bytes, source: 'b.json', clock });
    assert.deepEqual([same.added, same.updated, same.unchanged], [0, 0, 3]);
    // NVD analyses CVE-2026-10002: the next page carries its configuration.
    const page = JSON.parse(bytes.toString('utf8'));
    page.vulnerabilities[1].cve.vulnStatus = 'Analyzed';
    page.vulnerabilities[1].cve.configurations = [{ nodes: [{ operator: 'OR', negate: false, cpeMatch: [{ vulnerable: true, criteria: 'cpe:2.3:o:example_energy:bt-100_firmware:*:*:*:*:*:*:*:*', versionEndIncluding: '1.3.0' }] }] }];
    const updated = await importFeed(db, { format: 'nvd', bytes: JSON.stringify(page), source: 'c.json', clock });
    assert.deepEqual([updated.added, updated.updated, updated.unchanged], [0, 1, 2]);
    assert.deepEqual(await count(db), { advisories: 3, imports: 3 });
    await store.close();
  });

  const nvdText = fixture('nvd-cve-2.0.json').toString('utf8');
  const rssText = fixture('jvnrss-overview.xml').toString('utf8');
  const badRecordInTheMiddle = (() => {
    const p = JSON.parse(nvdText);
    p.vulnerabilities[1].cve.id = 'NOT-A-CVE';
    return JSON.stringify(p);
  })();
  const hostile: [string, FeedFormat, string | Buffer, RegExp, { maxBytes?: number }?][] = [
    ['XXE (external entity)', 'jvn', rssText.replace('<rdf:RDF', '<!DOCTYPE rdf:RDF [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<rdf:RDF').replace('<title>サンプル', '<title>&xxe;サンプル'), /DOCTYPE.*refused/],
    ['billion laughs', 'jvn', `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>`, /DOCTYPE.*refused/],
    ['an entity declaration without DOCTYPE', 'jvn', rssText.replace('<channel', '<!ENTITY x "y"><channel'), /entity declarations are refused/],
    ['truncated XML', 'jvn', rssText.slice(0, Math.floor(rssText.length * 0.7)), /truncated or malformed XML/],
    ['deeply nested XML', 'jvn', `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">${'<a>'.repeat(500)}${'</a>'.repeat(500)}</rdf:RDF>`, /XML refused by the parser/],
    ['truncated JSON', 'nvd', nvdText.slice(0, Math.floor(nvdText.length / 2)), /truncated or malformed JSON/],
    ['deeply nested JSON', 'nvd', `{"vulnerabilities":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, /JSON nested deeper than 64 levels/],
    ['a file over the size limit', 'nvd', nvdText, /bytes is more than the limit of 1000/, { maxBytes: 1000 }],
    ['invalid UTF-8', 'csaf', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), /not valid UTF-8/],
    ['one bad record among good ones', 'nvd', badRecordInTheMiddle, /vulnerabilities\[1\]\.cve\.id: must be a CVE id/],
    ['a CSAF document of the wrong version', 'csaf', fixture('csaf-2.0.json').toString('utf8').replace('"csaf_version": "2.0"', '"csaf_version": "1.0"'), /not a CSAF 2\.0 document: document\.csaf_version/],
  ];
  test('hostile and broken feeds are refused with a clear message and nothing is imported', async () => {
    const { store, db, audit, clock } = await fresh();
    await importFeed(db, { format: 'csaf', bytes: fixture('csaf-2.0.json'), source: 'good.json', clock });
    const before = await count(db);
    for (const [what, format, bytes, message, limits] of hostile) {
      await assert.rejects(importFeed(db, { format, bytes, source: `hostile-${what}`, audit, clock, limits }), (err: Error) => {
        assert.match(err.message, new RegExp(`^feed hostile-${what.replace(/[()]/g, '\\$&')}: `), `${what}: the message names the feed`);
        assert.match(err.message, message, what);
        assert.match(err.message, /nothing imported$/, what);
        return true;
      }, what);
      assert.deepEqual(await count(db), before, `${what}: nothing imported, no import recorded`);
    }
    assert.equal(audit.records.filter((r) => r.action === 'vuln.feed.import' && r.outcome === 'refused').length, hostile.length, 'each refusal audited');
    const passwd = await db.selectFrom('secops_advisory').select('description').execute();
    assert.ok(passwd.every((r) => !r.description.includes('root:')), 'no external entity was ever read');
    await store.close();
  });
});
