/** The matcher alone (pure): confidence rules and the vendor check of the name fallback. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFeed } from '../../src/secops/feeds/import.js';
import { AdvisoryIndex, type MatchAsset } from '../../src/secops/matching/engine.js';
import { REPO_ROOT } from '../repo.js';

const feed = (f: string) => parseFeed('jvn', readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'feeds', f)), f).map((a) => ({ uid: `jvn:${a.id}`, affected: a.affected }));
const sb7 = (version: string, extra: Partial<MatchAsset> = {}): MatchAsset => ({ id: 'device:sb', version, cpeKeys: ['sample-denki:sb-7_firmware', 'sample-denki:sb-7'], names: ['sb7'], ...extra });

test('a JVNRSS overview (versions not stated) matches at low confidence; its VULDEF detail exactly', () => {
  const overview = new AdvisoryIndex(feed('jvnrss-overview.xml'));
  assert.deepEqual(overview.match(sb7('9.9.9')).map((m) => [m.kind, m.confidence, m.range]), [['cpe', 'low', 'versions not stated']]);
  const detail = new AdvisoryIndex(feed('vuldef-detail.xml'));
  assert.deepEqual(detail.match(sb7('2.0.0')).map((m) => [m.kind, m.confidence, m.range]), [['cpe', 'high', '<=2.0.0']]);
  assert.deepEqual(detail.match(sb7('2.0.1')), [], 'the fixed version is not affected');
});

test('the name fallback needs the maker to agree when both are known', () => {
  const detail = new AdvisoryIndex(feed('vuldef-detail.xml'));
  const noCpe = { cpeKeys: [] as string[] };
  assert.deepEqual(detail.match(sb7('1.0', noCpe)).map((m) => [m.kind, m.confidence]), [['name', 'low']]);
  assert.deepEqual(detail.match(sb7('1.0', { ...noCpe, vendor: 'サンプル電機' })).map((m) => m.kind), ['name'], 'サンプル電機 is in サンプル電機株式会社');
  assert.deepEqual(detail.match(sb7('1.0', { ...noCpe, vendor: 'othermaker' })), [], 'another maker with a product of the same name');
});
