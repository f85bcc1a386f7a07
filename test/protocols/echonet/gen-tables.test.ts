/**
 * scripts/gen-echonet-tables.mjs run as a process on a small Machine Readable Appendix written
 * here in the MRA's layout (mraData/definitions, superClass, nodeProfile, devices, metaData): the
 * folder is found through ERAB_MRA_DIR, properties are kept by their valid releases, sizes,
 * ranges, codes and mandatory flags come out as the tables the code reads; a broken MRA stops
 * the generator with a message naming the input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../repo.js';

const prop = (epc: string, shortName: string, access: Record<string, string>, data: unknown, validRelease = { from: 'A', to: 'latest' }) => ({
  epc, validRelease, propertyName: { ja: shortName, en: shortName }, shortName, accessRule: access, data,
});

function writeMra(dir: string, release: string): string {
  const root = join(dir, 'mraData');
  for (const d of ['definitions', 'superClass', 'nodeProfile', 'devices']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'metaData.json'), JSON.stringify({ metaData: { date: '2030-01-01', release, dataVersion: '9.9.9' } }));
  writeFileSync(join(root, 'definitions', 'definitions.json'), JSON.stringify({ definitions: { state_ON_OFF: { type: 'state', size: 1, enum: [{ edt: '0x30' }, { edt: '0x31' }] } } }));
  writeFileSync(join(root, 'superClass', '0x0000.json'), JSON.stringify({ elProperties: [prop('0x80', 'operationStatus', { get: 'required', set: 'optional', inf: 'required' }, { $ref: '#/definitions/state_ON_OFF' })] }));
  writeFileSync(join(root, 'nodeProfile', '0x0EF0.json'), JSON.stringify({ shortName: 'nodeProfile', className: { ja: 'ノードプロファイル' }, elProperties: [] }));
  writeFileSync(join(root, 'devices', '0x02A5.json'), JSON.stringify({
    eoj: '0x02A5', validRelease: { from: 'R', to: 'latest' }, shortName: 'multipleInputPCS', className: { ja: 'マルチ入力PCS' },
    elProperties: [
      prop('0xE7', 'instantaneousElectricPower', { get: 'required', set: 'notApplicable', inf: 'optional' }, { type: 'number', format: 'int32', minimum: -2147483647, maximum: 2147483645, unit: 'W' }),
      prop('0xE8', 'connectedDeviceList', { get: 'required', set: 'notApplicable', inf: 'optional' }, { type: 'object', properties: [
        { shortName: 'count', element: { type: 'number', format: 'uint8', minimum: 1, maximum: 10 } },
        { shortName: 'list', element: { type: 'array', itemSize: 3, minItems: 1, maxItems: 10, items: { type: 'raw', minSize: 3, maxSize: 3 } } },
      ] }),
      prop('0xF9', 'onlyInS', { get: 'optional', set: 'notApplicable', inf: 'optional' }, { type: 'raw', minSize: 1, maxSize: 4 }, { from: 'S', to: 'latest' }),
    ],
  }));
  return root;
}

function generate(env: NodeJS.ProcessEnv, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'gen-echonet-tables.mjs'), ...args], { env: { ...process.env, ERAB_MRA_DIR: '', MRA_PATH: '', ...env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the generator reads the MRA named by ERAB_MRA_DIR and writes the release\'s tables', () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-mra-'));
  try {
    const root = writeMra(dir, 'R');
    const out = join(dir, 'tables.ts');
    const r = generate({ ERAB_MRA_DIR: root }, ['--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /release R/);
    const text = readFileSync(out, 'utf8');
    assert.match(text, /APPENDIX_SOURCE = \{"release":"R","date":"2030-01-01","dataVersion":"9\.9\.9"\}/);
    assert.match(text, /epc: 0x80, name: "operationStatus".*mandatory: true, forms: \[\{ size: \[1, 1\], codes: \[0x30, 0x31\] \}\]/);
    assert.match(text, /classCode: 0x02A5, name: "multipleInputPCS"/);
    assert.match(text, /epc: 0xE7, .*mandatory: true, forms: \[\{ size: \[4, 4\], number: \{"signed":true,"min":-2147483647,"max":2147483645,"unit":"W"\} \}\]/);
    assert.match(text, /epc: 0xE8, .*forms: \[\{ size: \[4, 31\] \}\]/, 'count byte plus 1–10 EOJs');
    assert.doesNotMatch(text, /onlyInS/, 'a property valid from release S is not in release R');
    // The same MRA read as release Q has no PCS class at all (valid from R).
    const q = generate({ ERAB_MRA_DIR: root }, ['--out', out, '--release', 'Q']);
    assert.equal(q.status, 0, q.stderr);
    assert.match(q.stderr, /class 0x02A5 is not in this MRA \(release Q\); skipped/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without an MRA, or with a broken one, the generator stops and names the input', () => {
  const none = generate({}, []);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /give the MRA directory or combined file as argument, ERAB_MRA_DIR or MRA_PATH/);
  const dir = mkdtempSync(join(tmpdir(), 'erab-mra-'));
  try {
    const root = writeMra(dir, 'R');
    writeFileSync(join(root, 'devices', '0x02A5.json'), '{ "eoj": "0x02A5", ');
    const broken = generate({ ERAB_MRA_DIR: root }, ['--out', join(dir, 'x.ts')]);
    assert.equal(broken.status, 2);
    assert.match(broken.stderr, /0x02A5\.json: not JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
