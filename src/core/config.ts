/**
 * Loading one typed, validated configuration object per role: defaults < file < environment.
 *
 * - File: JSON. Unknown keys are refused (a typo must not silently fall back to a default).
 *   A relative path written in the file (a key ending in `File` or `Dir`, `database`, an SQLite
 *   `store.url`) is relative to the file's folder, so a role started from any working directory
 *   (a service manager starts it in /) finds what its configuration names.
 * - Environment: `ERAB_<PATH>` where nested keys are joined by `__`, e.g.
 *   `ERAB_TLS__CA_FILE=/etc/erab/ca.pem` sets `tls.caFile` (camelCase from SNAKE_CASE).
 *   Values are parsed as JSON when they look like JSON (numbers, booleans, arrays), else strings.
 *   Only variables whose first segment names a top-level field of the schema are taken: the others
 *   (ERAB_LOG_LEVEL, ERAB_SIM_*, ERAB_CA_PASSPHRASE, ERAB_TEST_*...) belong to other readers and must
 *   not be refused as unknown keys by a strict schema.
 * - A failure names the source (file path or variable), the field and the rule it broke.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, explain, type ExplainedLine } from './errors.js';
import { issueRule } from './zod-rules.js';

export interface LoadConfigOptions {
  /** Path of a JSON configuration file; omitted = defaults + environment only. */
  file?: string | undefined;
  /** Environment to read, default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Variable prefix, default `ERAB_`. */
  envPrefix?: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function snakeToCamel(s: string): string {
  return s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function parseEnvValue(raw: string): Json {
  const t = raw.trim();
  if (/^(true|false|null|-?\d+(\.\d+)?([eE][+-]?\d+)?)$/.test(t) || t.startsWith('[') || t.startsWith('{')) {
    try {
      return JSON.parse(t) as Json;
    } catch {
      return raw;
    }
  }
  return raw;
}

/** Collects `ERAB_A__B_C=v` into `{ a: { bC: v } }`. */
export function configFromEnv(env: NodeJS.ProcessEnv, prefix = 'ERAB_'): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(prefix) || value === undefined) continue;
    const path = key.slice(prefix.length).split('__').filter(Boolean).map(snakeToCamel);
    if (path.length === 0) continue;
    let node: Record<string, Json> = out;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      if (next === undefined || typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
      node = node[part] as Record<string, Json>;
    }
    node[path[path.length - 1]!] = parseEnvValue(value);
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge where `over` wins; arrays are replaced, not concatenated. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

/**
 * zod issues as `  - field.path: rule` lines in English and Japanese (the rule: zod-rules.ts `issueRule`).
 * Issues from a parse with `reportInput: true` name what was received; the input itself is dropped.
 * @example configIssueLines(schema.safeParse(v, { reportInput: true }).error!.issues)
 */
export function configIssueLines(issues: readonly z.core.$ZodIssue[]): ExplainedLine[] {
  return issues.map((i) => {
    const path = i.path.length ? i.path.map(String).join('.') : '(root)';
    const rule = issueRule(i);
    return { en: `  - ${path}: ${rule.en}`, ja: `  - ${path}: ${rule.ja}` };
  });
}

/** Formats zod issues as `field.path: rule` lines. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => `  - ${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`)
    .join('\n');
}

/** Reads a JSON config file, with an error naming the file when it is missing or not JSON. */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(explain('config.cannotRead', { file, why: (err as NodeJS.ErrnoException).code ?? String(err) }), { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ConfigError(explain('config.notJson', { file, why: (err as Error).message }), { cause: err });
  }
}

/**
 * A secret kept in a file (trailing newline trimmed), never in the configuration itself; an
 * unreadable or empty file stops start-up naming the configuration field.
 */
export function readSecretFile(file: string, field: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new ConfigError(explain('config.secretUnreadable', { field, file, why: (err as NodeJS.ErrnoException).code ?? String(err) }), { cause: err });
  }
  if (text.length === 0) throw new ConfigError(explain('config.secretEmpty', { field, file }));
  return text;
}

/** Keys whose string values are file-system paths. */
const PATH_KEY = /(File|Dir)$|^database$/;

/** Whether `value` at `key` (under `parent`) is a relative file-system path. */
function isRelativePath(parent: string | undefined, key: string, value: string): boolean {
  if (value === '' || isAbsolute(value)) return false;
  if (PATH_KEY.test(key)) return true;
  // The store's url is an SQLite path unless it is a URL (postgres://), sqlite: or :memory:.
  return key === 'url' && parent === 'store' && value !== ':memory:' && !/^[a-z][a-z0-9+.-]*:/i.test(value);
}

/** Resolves the relative paths of a configuration file's content against the file's folder. */
export function resolvePathsFrom(config: unknown, folder: string, parent?: string): unknown {
  if (Array.isArray(config)) return config.map((v) => resolvePathsFrom(v, folder, parent));
  if (!isPlainObject(config)) return config;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (typeof v === 'string') out[k] = isRelativePath(parent, k, v) ? resolve(folder, v) : v;
    else if (Array.isArray(v) && PATH_KEY.test(k.replace(/s$/, ''))) out[k] = v.map((x) => (typeof x === 'string' && x !== '' && !isAbsolute(x) ? resolve(folder, x) : resolvePathsFrom(x, folder, k)));
    else out[k] = resolvePathsFrom(v, folder, k);
  }
  return out;
}

/**
 * A top-level `"$schema"` names the JSON Schema an editor checks the file against
 * (docs/config/<role>.schema.json); it is for the editor, not a setting, so it is dropped here
 * rather than refused as an unknown key.
 */
function withoutSchemaRef(config: unknown): unknown {
  if (!isPlainObject(config) || typeof config.$schema !== 'string') return config;
  const { $schema: _editorOnly, ...rest } = config;
  return rest;
}

/**
 * Validates defaults < file < environment against `schema` and returns the typed result.
 * @example
 *   const cfg = loadConfig(gatewayConfigSchema, { file: 'gateway.json' });
 */
export function loadConfig<S extends z.ZodType>(schema: S, opts: LoadConfigOptions = {}): z.output<S> {
  const fromFile = opts.file ? resolvePathsFrom(withoutSchemaRef(readConfigFile(opts.file)), dirname(resolve(opts.file))) : {};
  const fromEnv = configFromEnv(opts.env ?? process.env, opts.envPrefix ?? 'ERAB_');
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
  if (shape && typeof shape === 'object') {
    for (const key of Object.keys(fromEnv)) if (!(key in shape)) delete fromEnv[key];
  }
  const merged = deepMerge(fromFile, fromEnv);
  const result = schema.safeParse(merged, { reportInput: true });
  if (!result.success) {
    const what = opts.file ? explain('config.fileInvalid', { file: opts.file }) : explain('config.invalid');
    throw new ConfigError(what, { details: configIssueLines(result.error.issues) });
  }
  return result.data;
}
