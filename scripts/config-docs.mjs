/**
 * The configuration reference, generated from the zod schemas (src/cli/config-schemas.ts):
 * for each role a JSON Schema for editors (docs/config/<role>.schema.json, zod 4's
 * `z.toJSONSchema`, input side: defaults make a key optional) and a readable table
 * (docs/config/<role>.md). Descriptions come from the JSDoc comment above each field in the
 * schema's source, so the comment stays the one place a field is explained.
 *
 * Used by scripts/gen-config-docs.mjs (writes the files) and test/docs/config-docs.test.ts
 * (fails when the committed files differ from what the schemas generate). Needs `npm run build`.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// JSDoc of schema fields, by a small scanner of the TypeScript source (no compiler API: the
// project's TypeScript 7 has none). It tracks object-literal nesting and, per `const X = ...`,
// records the JSDoc above each `key:` under its path, and which other schema const a key's value
// names (`tls: tlsFilesSchema`), so descriptions are found through references too.
// ---------------------------------------------------------------------------------------------

const REGEX_BEFORE = new Set(['(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '']);

/**
 * @returns Map constName → [{ file, docs: Map<path, text>, refs: Map<path, constName> }] (one per
 *   file declaring that name; a reference resolves to the one in the referring file first)
 *   where path is the dotted key path inside the const's object ('' = the const itself).
 */
export function scanSchemaDocs(files) {
  const consts = new Map();
  for (const file of files) scanFile(file, readFileSync(file, 'utf8'), consts);
  return consts;
}

function cleanDoc(raw) {
  return raw
    .replace(/^\/\*\*|\*\/$/g, '')
    .split('\n')
    .map((l) => l.replace(/^\s*\* ?/, '').trim())
    .filter((l) => !l.startsWith('@'))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function scanFile(file, text, consts) {
  // frames[0] is the top level; each `{` pushes a frame whose segment is the key being valued.
  const frames = [{ segment: null, lastKey: null }];
  let current = null; // { docs, refs } of the const being declared
  let pendingDoc = null;
  let prevSig = '';
  let i = 0;
  const pathOf = (key) => frames.slice(2).map((f) => f.segment).filter((s) => s !== null).concat(key === null ? [] : [key]).join('.');
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '/' && text[i + 1] === '/') { i = text.indexOf('\n', i); if (i < 0) break; continue; }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2) + 2;
      if (text[i + 2] === '*') pendingDoc = cleanDoc(text.slice(i, end));
      i = end;
      continue;
    }
    if (c === '\'' || c === '"' || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      i = j + 1; prevSig = c; pendingDoc = null;
      continue;
    }
    if (c === '/' && REGEX_BEFORE.has(prevSig)) {
      let j = i + 1; let inClass = false;
      while (j < text.length && (inClass || text[j] !== '/')) {
        if (text[j] === '\\') j++;
        else if (text[j] === '[') inClass = true;
        else if (text[j] === ']') inClass = false;
        j++;
      }
      i = j + 1; while (/[a-z]/.test(text[i] ?? '')) i++;
      prevSig = '/'; pendingDoc = null;
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      let j = i; while (j < text.length && /[\w$]/.test(text[j])) j++;
      const word = text.slice(i, j);
      let k = j; while (/\s/.test(text[k] ?? '')) k++;
      const frame = frames[frames.length - 1];
      if (word === 'const' && frames.length === 1) {
        let a = k; while (/[\w$]/.test(text[a] ?? '')) a++;
        const name = text.slice(k, a);
        current = { file, docs: new Map(), refs: new Map() };
        consts.set(name, [...(consts.get(name) ?? []), current]);
        if (pendingDoc) current.docs.set('', pendingDoc);
        frame.lastKey = name;
        i = a; prevSig = 'w'; pendingDoc = null;
        continue;
      }
      if (text[k] === ':' && text[k + 1] !== ':' && (prevSig === '{' || prevSig === ',') && frames.length > 1) {
        frame.lastKey = word;
        if (current && pendingDoc) current.docs.set(pathOf(word), pendingDoc);
      } else if (current && /^[a-z]\w*(Schema|Shape|Entry|Override)$/.test(word)) {
        // At the top level (`const classesShape = ...fromEntries(... classPolicySchema ...)`) the
        // ref is under '' and stands for "every key of this const is such a schema".
        const p = frames.length > 1 && frame.lastKey !== null ? pathOf(frame.lastKey) : frames.length === 1 ? '' : null;
        if (p !== null && !current.refs.has(p)) current.refs.set(p, word);
      }
      i = j; prevSig = 'w';
      if (word !== 'export') pendingDoc = null;
      continue;
    }
    if (c === '{') frames.push({ segment: frames.length === 1 ? null : frames[frames.length - 1].lastKey, lastKey: null });
    else if (c === '}' && frames.length > 1) frames.pop();
    if (frames.length === 1 && c === ';') current = null;
    prevSig = c; pendingDoc = null; i++;
  }
}

/** The JSDoc of `path` (dotted) in const `name`, following references to other schema consts. */
export function describe(consts, name, path, fromFile) {
  const candidates = consts.get(name) ?? [];
  const c = candidates.find((e) => e.file === fromFile) ?? candidates[0];
  if (!c) return undefined;
  if (c.docs.has(path)) return c.docs.get(path);
  const segs = path === '' ? [] : path.split('.');
  for (let k = segs.length; k >= 1; k--) {
    const ref = c.refs.get(segs.slice(0, k).join('.'));
    if (ref && ref !== name) {
      const found = describe(consts, ref, segs.slice(k).join('.'), c.file);
      if (found !== undefined) return found;
    }
  }
  const perKey = c.refs.get('');
  if (perKey && perKey !== name && segs.length >= 2) return describe(consts, perKey, segs.slice(1).join('.'), c.file);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

function tsFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Object schemas of a JSON Schema node: itself, or its anyOf/oneOf variants (nullable, unions). */
function objectVariants(node) {
  if (node.type === 'object' && node.properties) return [node];
  return [...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])].flatMap(objectVariants);
}

function typeOf(node) {
  if (node.const !== undefined) return JSON.stringify(node.const);
  if (node.enum) return node.enum.map((v) => JSON.stringify(v)).join(' | ');
  const variants = node.anyOf ?? node.oneOf;
  if (variants) return variants.map(typeOf).join(' | ');
  if (node.type === 'array') {
    if (node.prefixItems) return `[${node.prefixItems.map(typeOf).join(', ')}]`;
    const item = node.items ? typeOf(node.items) : 'any';
    return item.includes(' | ') ? `(${item})[]` : `${item}[]`;
  }
  if (node.type === 'object' && !node.properties && node.additionalProperties) return `map of ${typeOf(node.additionalProperties)}`;
  if (node.type === 'string' && node.format) return `string (${node.format})`;
  if (node.type === 'integer') return 'integer';
  return node.type ?? 'any';
}

function rulesOf(node) {
  const r = [];
  // zod states the safe-integer range on every int(); only a bound someone chose is worth a column.
  if (Math.abs(node.maximum ?? 0) >= Number.MAX_SAFE_INTEGER) node = { ...node, maximum: undefined };
  if (Math.abs(node.minimum ?? 0) >= Number.MAX_SAFE_INTEGER) node = { ...node, minimum: undefined };
  if (node.minimum !== undefined && node.maximum !== undefined) r.push(`${node.minimum}–${node.maximum}`);
  else if (node.minimum !== undefined) r.push(`≥ ${node.minimum}`);
  else if (node.maximum !== undefined) r.push(`≤ ${node.maximum}`);
  if (node.exclusiveMinimum !== undefined) r.push(`> ${node.exclusiveMinimum}`);
  if (node.minLength !== undefined && node.minLength > 1) r.push(`length ≥ ${node.minLength}`);
  if (node.maxLength !== undefined) r.push(`length ≤ ${node.maxLength}`);
  if (node.pattern !== undefined && node.format === undefined) r.push(`matches \`${node.pattern}\``);
  return r.join(', ');
}

const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Walks the JSON Schema, adding descriptions (in place) and collecting one table row per key. */
function walk(node, consts, constName, path, display, rows) {
  for (const obj of objectVariants(node)) {
    const required = new Set(obj.required ?? []);
    // Keys sharing one schema (policy.classes.battery, .ev, ...) are shown once as <a|b|c>.
    const byShape = new Map();
    for (const [key, child] of Object.entries(obj.properties)) {
      if (objectVariants(child).length === 0) continue; // plain values keep their own rows
      const shape = JSON.stringify(child);
      byShape.set(shape, [...(byShape.get(shape) ?? []), key]);
    }
    for (const [key, child] of Object.entries(obj.properties)) {
      const same = byShape.get(JSON.stringify(child)) ?? [key];
      const grouped = same.length >= 3;
      if (grouped && same[0] !== key) {
        const description = describe(consts, constName, path ? `${path}.${key}` : key);
        if (description && !child.description) child.description = description;
        walkDescriptions(child, consts, constName, path ? `${path}.${key}` : key);
        continue;
      }
      const p = path ? `${path}.${key}` : key;
      const shown = grouped ? `${display ? `${display}.` : ''}<${same.join('|')}>` : display ? `${display}.${key}` : key;
      const description = describe(consts, constName, p);
      if (description && !child.description) child.description = description;
      rows.push({ key: shown, type: typeOf(child), required: required.has(key), default: child.default, rules: rulesOf(child), description: child.description ?? '' });
      walk(child, consts, constName, p, shown, rows);
      const items = child.type === 'array' ? child.items : undefined;
      if (items) walk(items, consts, constName, p, `${shown}[]`, rows);
    }
  }
}

/** Adds descriptions only (for the JSON Schema of keys whose rows were grouped under another key). */
function walkDescriptions(node, consts, constName, path) {
  walk(node, consts, constName, path, '', []);
}

function renderMarkdown(role, entry, json, rows) {
  const lines = [
    `# \`${role}\` configuration`,
    '',
    '<!-- Generated by scripts/gen-config-docs.mjs from the zod schema; do not edit by hand. -->',
    '',
    `${entry.title}.`,
    '',
    `Read by: \`${entry.usedBy}\`. Check a file with \`erab config check ${role} --config <file>\`.`,
    `JSON Schema for editors: [${role}.schema.json](${role}.schema.json) (name it in the file as \`"$schema": "<path>/${role}.schema.json"\`, which erab ignores, or map it in your editor's settings).`,
    `Schema: \`${entry.source.name}\` in ${entry.source.file}.`,
    '',
    entry.envPrefix === null
      ? 'The file is JSON; unknown keys are refused.'
      : `The file is JSON; unknown keys are refused. Environment variables override it: \`${entry.envPrefix}<PATH>\` with nested keys joined by \`__\` in SNAKE_CASE, e.g. \`${entry.envPrefix}TLS__CA_FILE\` sets \`tls.caFile\` (src/core/config.ts).`,
    '',
  ];
  if (json.description) lines.push(json.description, '');
  lines.push('| key | type | required | default | rule | description |', '|---|---|---|---|---|---|');
  for (const r of rows) {
    const def = r.default === undefined ? '' : `\`${cell(JSON.stringify(r.default))}\``;
    lines.push(`| \`${cell(r.key)}\` | ${cell(r.type)} | ${r.required ? 'yes' : ''} | ${def} | ${cell(r.rules)} | ${cell(r.description)} |`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Everything docs/config should hold, generated now: Map of repository-relative path → content.
 * @example for (const [path, text] of await generateConfigDocs(root)) writeFileSync(join(root, path), text);
 */
export async function generateConfigDocs(repoRoot) {
  const { ROLE_CONFIG_SCHEMAS } = await import(pathToFileURL(join(repoRoot, 'dist/src/cli/config-schemas.js')).href);
  const consts = scanSchemaDocs(tsFiles(join(repoRoot, 'src')));
  const out = new Map();
  for (const [role, entry] of Object.entries(ROLE_CONFIG_SCHEMAS)) {
    // A deep copy: zod may share one JSON object between places that reuse one schema.
    const json = JSON.parse(JSON.stringify(z.toJSONSchema(entry.schema, { io: 'input', unrepresentable: 'any' })));
    json.title = `erab ${role} configuration`;
    // Editors find the schema through "$schema" in the file; loadConfig drops that key (core/config.ts).
    json.properties = { $schema: { type: 'string', description: 'The JSON Schema of this file, for editors (ignored by erab).' }, ...json.properties };
    const top = describe(consts, entry.source.name, '');
    if (top) json.description = top;
    const rows = [];
    walk(json, consts, entry.source.name, '', '', rows);
    out.set(`docs/config/${role}.schema.json`, `${JSON.stringify(json, null, 2)}\n`);
    out.set(`docs/config/${role}.md`, renderMarkdown(role, entry, json, rows));
  }
  const index = ['# Configuration reference', '', '<!-- Generated by scripts/gen-config-docs.mjs; do not edit by hand. -->', '',
    'One JSON file per role, validated at start-up (an invalid file stops the role with a message naming the field and the rule).',
    'A relative path in the file (a key ending in `File` or `Dir`, `database`, an SQLite `store.url`) is relative to the file\'s own folder, whatever the working directory; a value from an `ERAB_...` environment variable is taken as given.',
    'Regenerate after changing a schema: `npm run build && node scripts/gen-config-docs.mjs` (test/docs/config-docs.test.ts fails until you do).', '',
    '| role | file configures | reference | JSON Schema |', '|---|---|---|---|',
    ...Object.entries(ROLE_CONFIG_SCHEMAS).map(([role, e]) => `| ${role} | ${cell(e.title)} | [${role}.md](${role}.md) | [${role}.schema.json](${role}.schema.json) |`), ''];
  out.set('docs/config/README.md', index.join('\n'));
  return out;
}
