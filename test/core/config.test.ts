import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { configFromEnv, loadConfig } from '../../src/core/config.js';
import { ConfigError } from '../../src/core/errors.js';
import { issueRule } from '../../src/core/zod-rules.js';

const schema = z.strictObject({
  listen: z.strictObject({ port: z.number().int().min(1).max(65535).default(8443) }).default({ port: 8443 }),
  tls: z.strictObject({ requireClientCert: z.boolean().default(true), caFile: z.string().optional() }).default({ requireClientCert: true }),
});

test('defaults are safe when nothing is configured', () => {
  const cfg = loadConfig(schema, { env: {} });
  assert.equal(cfg.tls.requireClientCert, true);
  assert.equal(cfg.listen.port, 8443);
});

test('environment overrides the file, nested with __', () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-cfg-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ listen: { port: 9000 } }));
  const cfg = loadConfig(schema, { file, env: { ERAB_LISTEN__PORT: '9443', ERAB_TLS__CA_FILE: '/x/ca.pem' } });
  assert.equal(cfg.listen.port, 9443);
  assert.equal(cfg.tls.caFile, '/x/ca.pem');
});

test('an invalid file names the file, the field and the rule', () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-cfg-'));
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ listen: { port: 70000 } }));
  assert.throws(() => loadConfig(schema, { file, env: {} }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /bad\.json/);
    assert.match(err.message, /listen\.port/);
    assert.match(err.message, /65535/);
    assert.deepEqual(err.details, [{ en: '  - listen.port: Too big: expected number to be <=65535', ja: '  - listen.port: 大きすぎる値: 数値は65535以下である必要があります' }]);
    return true;
  });
});

test('a rule in both languages: zod\'s own in Japanese with Japanese type names; a rule the schema wrote stays as written', () => {
  const rule = (s: z.ZodType, v: unknown) => issueRule(s.safeParse(v, { reportInput: true }).error!.issues[0]!);
  assert.deepEqual(rule(z.coerce.number(), 'ten'), { en: 'Invalid input: expected number, received NaN', ja: '数値を指定してください（数値でない値が指定されています）' });
  assert.deepEqual(rule(z.object({ id: z.string() }), {}), { en: 'Invalid input: expected string, received undefined', ja: '必須の項目がありません（文字列）' });
  assert.deepEqual(rule(z.string().min(2), 'a'), { en: 'Too small: expected string to have >=2 characters', ja: '小さすぎる値: 文字列は2文字以上である必要があります' });
  assert.deepEqual(rule(z.string().refine((s) => s.startsWith('x'), 'must start with x'), 'a'), { en: 'must start with x', ja: 'must start with x' });
});

test('unknown keys are refused so a typo cannot fall back to a default', () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-cfg-'));
  const file = join(dir, 'typo.json');
  writeFileSync(file, JSON.stringify({ tls: { requireClientCerts: false } }));
  assert.throws(() => loadConfig(schema, { file, env: {} }), /requireClientCerts/);
});

test('a file that is not JSON is reported with its path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-cfg-'));
  const file = join(dir, 'broken.json');
  writeFileSync(file, '{ listen: ');
  assert.throws(() => loadConfig(schema, { file, env: {} }), /broken\.json is not valid JSON/);
});

test('env values that look like JSON are typed', () => {
  assert.deepEqual(configFromEnv({ ERAB_A__B_C: '12', ERAB_A__D: 'true', ERAB_E: 'x', OTHER: '1' }), { a: { bC: 12, d: true }, e: 'x' });
});

test('variables that do not name a field of the schema belong to other readers and are ignored', () => {
  const cfg = loadConfig(schema, { env: { ERAB_LOG_LEVEL: 'debug', ERAB_SIM_SPEED: '60', ERAB_LISTEN__PORT: '9001' } });
  assert.equal(cfg.listen.port, 9001);
  assert.throws(() => loadConfig(schema, { env: { ERAB_LISTEN__PROT: '1' } }), /listen/, 'a typo inside a known section is still refused');
});

test('a top-level "$schema" (for editors) is ignored; other unknown keys are still refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'erab-cfg-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ $schema: './c.schema.json', listen: { port: 9000 } }));
  const cfg = loadConfig(schema, { file, env: {} });
  assert.equal(cfg.listen.port, 9000);
  assert.equal('$schema' in cfg, false);
  writeFileSync(file, JSON.stringify({ $schema: './c.schema.json', listen: { port: 9000, $schema: 'x' } }));
  assert.throws(() => loadConfig(schema, { file, env: {} }), (err: unknown) => err instanceof ConfigError && /listen/.test(err.message), 'only the top level');
  writeFileSync(file, JSON.stringify({ $schema: 42 }));
  assert.throws(() => loadConfig(schema, { file, env: {} }), ConfigError, 'a "$schema" that is not a reference is not ignored');
});

test('a relative path written in a configuration file is relative to that file\'s folder, not to the working directory', async () => {
  // Found by a new operator: `erab gateway run --config /etc/erab/gw.json` from another folder
  // looked for its certificates and database in the folder it was started from.
  const { gatewayConfigSchema } = await import('../../src/roles/gateway/gateway.js');
  const { loadAggregatorConfig } = await import('../../src/roles/aggregator/runtime/config.js');
  const dir = mkdtempSync(join(tmpdir(), 'erab-cfg-rel-'));
  const file = join(dir, 'gw.json');
  writeFileSync(file, JSON.stringify({
    gatewayId: 'GW1', database: 'state/gw.db',
    tls: { certFile: 'pki/gw.pem', keyFile: '/abs/gw.key', caFile: './pki/ca.pem' },
    aggregator: { id: 'AGG1', vtnUrl: 'https://127.0.0.1:8443', certificateFile: 'pki/agg.pem' },
    echonet: { address: '127.0.0.1', devices: ['127.0.0.2'] },
  }));
  const gw = loadConfig(gatewayConfigSchema, { file, env: {} });
  assert.equal(gw.database, join(dir, 'state/gw.db'));
  assert.equal(gw.tls.certFile, join(dir, 'pki/gw.pem'));
  assert.equal(gw.tls.keyFile, '/abs/gw.key', 'absolute paths stay');
  assert.equal(gw.tls.caFile, join(dir, 'pki/ca.pem'));
  assert.equal(gw.aggregator.certificateFile, join(dir, 'pki/agg.pem'));
  assert.equal(gw.aggregator.vtnUrl, 'https://127.0.0.1:8443', 'URLs are not paths');

  // The store's url: an SQLite path is a path; a PostgreSQL URL and :memory: are not.
  const agg = (store: string) => {
    const f = join(dir, `agg-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(f, JSON.stringify({ id: 'AGG1', tls: { certFile: 'a.pem', keyFile: 'a.key', caFile: 'ca.pem' }, store: { url: store } }));
    return loadAggregatorConfig(f, {});
  };
  assert.equal(agg('data/agg.db').store.url, join(dir, 'data/agg.db'));
  assert.equal(agg('postgres://127.0.0.1:5432/test').store.url, 'postgres://127.0.0.1:5432/test');
  assert.equal(agg(':memory:').store.url, ':memory:');
  // Values from the environment are typed at a shell: relative to the working directory, as given.
  const fromEnv = loadConfig(gatewayConfigSchema, { file, env: { ERAB_DATABASE: 'here.db' } });
  assert.equal(fromEnv.database, 'here.db');
});
