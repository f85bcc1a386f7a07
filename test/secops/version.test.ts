/** Version comparison and the range forms advisories use (pure: no store). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, inRange, inVers, parseVers } from '../../src/secops/matching/version.js';
import { rangeFromText } from '../../src/secops/feeds/range-text.js';
import { parseCpe, formatCpe23 } from '../../src/secops/cpe.js';

test('numeric-dotted firmware versions compare by number, not text', () => {
  assert.ok(compareVersions('1.10.0', '1.9.3') > 0);
  assert.ok(compareVersions('1.2', '1.2.0') === 0, 'trailing zeros');
  assert.ok(compareVersions('Ver.2.0.0', '2.0.0') === 0, 'Ver. prefix');
  assert.ok(compareVersions('v01.02', '1.2') === 0, 'leading zeros');
  assert.ok(compareVersions('1.2.3a', '1.2.3b') < 0);
  assert.ok(compareVersions('1.2.a', '1.2.1') < 0, 'a digit run sorts after a letter run');
  assert.ok(compareVersions('2.0.10_build5', '2.0.9_build7') > 0);
});

test('semver versions follow semver (a pre-release sorts before its release)', () => {
  assert.ok(compareVersions('1.2.0-rc.1', '1.2.0') < 0);
  assert.ok(compareVersions('1.2.0-rc.2', '1.2.0-rc.10') < 0);
  assert.ok(compareVersions('7.5.1', '7.5.2') < 0);
});

test('NVD-style bounds: start including, end excluding', () => {
  const r = { startIncluding: '1.0.0', endExcluding: '1.2.4' };
  assert.equal(inRange('1.2.3', r), true);
  assert.equal(inRange('1.0.0', r), true);
  assert.equal(inRange('1.2.4', r), false);
  assert.equal(inRange('1.10.0', r), false);
  assert.equal(inRange('0.9.9', r), false);
  assert.equal(inRange(null, r), false, 'an unknown version is never claimed affected by a bounded range');
  assert.equal(inRange(null, {}), true, 'an unbounded range affects every version');
});

test('vers: ranges (CSAF product_version_range)', () => {
  const v = parseVers('vers:generic/>=3.0|<3.2.1');
  assert.equal(inVers('3.1.9', v), true);
  assert.equal(inVers('3.0', v), true);
  assert.equal(inVers('3.2.1', v), false);
  assert.equal(inVers('2.9', v), false);
  assert.equal(inVers('7.5.1', parseVers('vers:npm/<7.5.2')), true);
  assert.equal(inVers('1.0.5', parseVers('vers:generic/1.0.5|>=2.0|<2.1')), true);
  assert.equal(inVers('1.0.6', parseVers('vers:generic/1.0.5|>=2.0|<2.1')), false);
  assert.equal(inVers('2.0.5', parseVers('vers:generic/>=2.0|!=2.0.5|<2.1')), false);
  assert.equal(inVers('9', parseVers('vers:generic/*')), true);
  assert.throws(() => parseVers('>=1.0'), /not a vers: URI/);
});

test('affected versions written as Japanese or English text', () => {
  assert.deepEqual(rangeFromText('SB-7 ファームウェア Ver.2.0.0 およびそれ以前'), { endIncluding: '2.0.0' });
  assert.deepEqual(rangeFromText('1.4.0 より前のバージョン'), { endExcluding: '1.4.0' });
  assert.deepEqual(rangeFromText('BT-100 1.0.0 から 1.2.3 まで'), { startIncluding: '1.0.0', endIncluding: '1.2.3' });
  assert.deepEqual(rangeFromText('versions prior to 2.1'), { endExcluding: '2.1' });
  assert.deepEqual(rangeFromText('3.0 以降'), { startIncluding: '3.0' });
  assert.deepEqual(rangeFromText('>=1.0 <1.4'), { startIncluding: '1.0', endExcluding: '1.4' });
  assert.deepEqual(rangeFromText('すべてのバージョン'), {});
  assert.deepEqual(rangeFromText('2.3.1'), { exact: '2.3.1' });
});

test('CPE 2.2 URIs and CPE 2.3 strings meet on the same fields', () => {
  const a = parseCpe('cpe:/o:sample-denki:sb-7_firmware:2.0.0');
  const b = parseCpe('cpe:2.3:o:sample-denki:sb-7_firmware:2.0.0:*:*:*:*:*:*:*');
  assert.deepEqual(a, b);
  assert.equal(parseCpe('cpe:2.3:x:a:b:*:*:*:*:*:*:*:*'), undefined);
  assert.equal(formatCpe23({ part: 'a', vendor: 'nodejs', product: 'node.js', version: '20.1.0', update: '*' }), 'cpe:2.3:a:nodejs:node.js:20.1.0:*:*:*:*:*:*:*');
  assert.equal(parseCpe(formatCpe23({ part: 'h', vendor: 'a b', product: 'x:y', version: '*', update: '*' }))?.product, 'x:y', 'quoted values round-trip');
});
