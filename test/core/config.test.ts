import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { configFromEnv, loadConfig } from '../../src/core/config.js';
import { ConfigError } from '../../src/core/errors.js';

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
    return true;
  });
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
