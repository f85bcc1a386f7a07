/**
 * The configuration reference in docs/config is generated from the zod schemas
 * (scripts/gen-config-docs.mjs): these tests fail when a schema changed and the committed files
 * were not regenerated, and check that the generated JSON Schemas say what the role accepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { ERAB_BIN, REPO_ROOT } from '../repo.js';
import { CONFIG_ROLES } from '../../src/cli/config-schemas.js';

type Generate = (root: string) => Promise<Map<string, string>>;
const { generateConfigDocs } = await import(pathToFileURL(join(REPO_ROOT, 'scripts', 'config-docs.mjs')).href) as { generateConfigDocs: Generate };
const generated = await generateConfigDocs(REPO_ROOT);
// ajv-formats is CommonJS with a default export; under NodeNext its namespace is what we get.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv2020) => void }).default ?? (addFormatsModule as unknown as (ajv: Ajv2020) => void);

function schemaOf(role: string): Record<string, unknown> {
  return JSON.parse(generated.get(`docs/config/${role}.schema.json`)!) as Record<string, unknown>;
}

test('docs/config holds exactly what the schemas generate (run `node scripts/gen-config-docs.mjs` after changing a schema)', () => {
  const dir = join(REPO_ROOT, 'docs', 'config');
  assert.deepEqual(readdirSync(dir).sort(), [...generated.keys()].map((p) => p.slice('docs/config/'.length)).sort());
  for (const [path, text] of generated) {
    assert.equal(readFileSync(join(REPO_ROOT, path), 'utf8'), text, `${path} is out of date: regenerate it`);
  }
});

test('every role has a Markdown reference and a JSON Schema', () => {
  for (const role of CONFIG_ROLES) {
    assert.ok(generated.get(`docs/config/${role}.md`)?.includes('| key | type |'), `${role}.md has a table`);
    assert.equal(schemaOf(role).$schema, 'https://json-schema.org/draft/2020-12/schema');
  }
});

test('descriptions come from the JSDoc of each field, through nesting, references and other files', () => {
  type Node = { description?: string; properties?: Record<string, Node>; items?: Node };
  const agg = schemaOf('aggregator') as Node;
  assert.match(agg.properties!.downstream!.properties!.workers!.description ?? '', /^Worker processes serving the gateways/);
  assert.match(agg.properties!.tls!.description ?? '', /^Our certificate, key/, 'a field valued by another schema const takes that const\'s JSDoc');
  assert.match(agg.properties!.upstream!.items!.properties!.vtnUrl!.description ?? '', /^Base URL of the party's VTN/);
  assert.match(agg.properties!.syslog!.properties!.queueMax!.description ?? '', /^Messages held while the collector is unreachable/, 'a schema from another file');
  const gw = schemaOf('gateway') as Node;
  assert.match(gw.properties!.policy!.properties!.classes!.properties!.ev!.properties!.socFloorPercent!.description ?? '', /backup reserve/, 'a shape built per device class');
  const md = generated.get('docs/config/tso.md')!;
  assert.match(md, /^\| `contractedAggregators\[\]\.id` \| string \| yes \|  \| matches `.+` \| Participant id in the aggregator's certificate/m);
});

test('the JSON Schema accepts what the role accepts and refuses a misspelt key, as the role does', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const role of CONFIG_ROLES) assert.doesNotThrow(() => new Ajv2020({ strict: false }).compile(schemaOf(role)), `${role}.schema.json is a valid JSON Schema`);
  const validate = ajv.compile(schemaOf('aggregator'));
  const good = { id: 'agg-1', tls: { certFile: 'a.pem', keyFile: 'a.key', caFile: 'ca.pem' }, upstream: [{ name: 'tso-tokyo', kind: 'tso', vtnUrl: 'https://127.0.0.1:8443', expect: { role: 'tso', id: 'tokyo' } }] };
  assert.equal(validate(good), true, JSON.stringify(validate.errors));
  assert.equal(validate({ $schema: './aggregator.schema.json', ...good }), true, 'an editor accepts the "$schema" key erab ignores');
  assert.equal(validate({ ...good, downstream: { wokers: 2 } }), false);
  assert.equal(validate.errors?.[0]?.keyword, 'additionalProperties');
  assert.equal(validate({ ...good, closedLoop: { missesToMark: 0 } }), false, 'a bound of the zod schema is in the JSON Schema');
});

function erab(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ERAB_BIN, ...args], { env: { ...process.env, ERAB_NODE_TUNING: 'off', ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('erab config check <role> prints the effective configuration, or names the file, field and rule', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-config-check-'));
  try {
    const good = join(dir, 'tso.json');
    // "$schema" lets an editor check the file; erab ignores it instead of refusing an unknown key.
    writeFileSync(good, JSON.stringify({ $schema: '../docs/config/tso.schema.json', id: 'tokyo', tls: { certFile: 'a.pem', keyFile: 'a.key', caFile: 'ca.pem' } }));
    const ok = await erab(['config', 'check', 'tso', '--config', good], { ERAB_LISTEN__PORT: '9443' });
    assert.equal(ok.code, 0, ok.stderr);
    const effective = JSON.parse(ok.stdout) as { listen: { port: number }; pollIntervalMs: number };
    assert.equal(effective.pollIntervalMs, 10_000, 'defaults filled in');
    assert.equal(effective.listen.port, 9443, 'the environment overrides the file, as when the role runs');
    assert.equal('$schema' in effective, false);

    const bad = join(dir, 'site.json');
    writeFileSync(bad, JSON.stringify({ address: '127.0.0.1', battery: { capacityWh: 5 } }));
    const refused = await erab(['config', 'check', 'site', '--config', bad]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /site\.json/);
    assert.match(refused.stderr, /battery\.capacityWh/);
    assert.doesNotMatch(refused.stderr, /unexpected error|at .*\.js:\d+/);

    const unknownRole = await erab(['config', 'check', 'toaster', '--config', good]);
    assert.equal(unknownRole.code, 2, 'a usage error');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
