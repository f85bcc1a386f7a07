#!/usr/bin/env node
/**
 * Generates src/protocols/echonet/objects/appendix-tables.ts from the ECHONET Consortium's
 * Machine Readable Appendix (MRA): the property tables of the APPENDIX Detailed Requirements for
 * ECHONET Device Objects (EPC, size, value ranges and codes, access rules Get/Set/Anno, mandatory
 * flags) for the classes erab implements. The tables are facts of the standard; the MRA files
 * themselves are not committed.
 *
 *   node scripts/gen-echonet-tables.mjs <MRA> [--release M] [--out file]
 *   ERAB_MRA_DIR=<MRA> node scripts/gen-echonet-tables.mjs      (MRA_PATH is read too)
 *
 * The committed tables come from MRA data version 1.3.0 (Appendix Release R, 2024-07-26), the
 * mraData folder as public ECHONET Lite libraries redistribute it (e.g. pychonet/mraData); the
 * generator reads it from wherever it was fetched, it is never copied into this repository.
 *
 * <MRA> is either the MRA directory (mraData/definitions/definitions.json, superClass/0x0000.json,
 * nodeProfile/0x0EF0.json, devices/0x....json) or one file holding the combined object
 * { metaData, definitions, superClass, nodeProfile, devices[] } (plain JSON, or the
 * `const jsonData = {...}` script the consortium's MRA viewer loads).
 * --release picks the Appendix release (A–Z) whose properties apply; default the MRA's own.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Class codes erab implements (device classes get the super class merged in). */
const CLASSES = [0x0ef0, 0x027d, 0x0279, 0x027e, 0x02a1, 0x026b, 0x0288, 0x0130, 0x05ff, 0x027c, 0x0290, 0x02a5];

function die(msg) {
  console.error(`gen-echonet-tables: ${msg}`);
  process.exit(2);
}

function args() {
  const a = process.argv.slice(2);
  const out = { mra: process.env.ERAB_MRA_DIR ?? process.env.MRA_PATH, release: undefined, out: undefined };
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--release') out.release = a[++i];
    else if (a[i] === '--out') out.out = a[++i];
    else out.mra = a[i];
  }
  if (!out.mra) die('give the MRA directory or combined file as argument, ERAB_MRA_DIR or MRA_PATH');
  return out;
}

function readJson(path) {
  let text = readFileSync(path, 'utf8');
  const start = text.indexOf('{');
  if (!text.trimStart().startsWith('{')) {
    // The MRA viewer's script form: `const jsonData = { ... }` possibly after comments.
    const m = /jsonData\s*=\s*/.exec(text);
    if (!m) die(`${path}: neither JSON nor a "jsonData = {...}" script`);
    text = text.slice(m.index + m[0].length).replace(/;\s*$/, '');
  } else text = text.slice(start);
  try {
    return JSON.parse(text);
  } catch (err) {
    die(`${path}: not JSON (${err.message})`);
  }
}

function loadMra(path) {
  if (statSync(path).isFile()) return readJson(path);
  const root = existsSync(join(path, 'mraData')) ? join(path, 'mraData') : path;
  const jsonFiles = (dir) => (existsSync(dir) ? readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.json')).map((f) => join(dir, f)) : []);
  const meta = existsSync(join(root, '..', 'metaData.json')) ? readJson(join(root, '..', 'metaData.json')) : existsSync(join(root, 'metaData.json')) ? readJson(join(root, 'metaData.json')) : {};
  return {
    metaData: meta.metaData ?? meta,
    definitions: readJson(join(root, 'definitions', 'definitions.json')).definitions,
    superClass: readJson(join(root, 'superClass', '0x0000.json')),
    nodeProfile: readJson(join(root, 'nodeProfile', '0x0EF0.json')),
    devices: jsonFiles(join(root, 'devices')).map(readJson),
  };
}

const { mra: mraPath, release: releaseArg, out: outArg } = args();
const mra = loadMra(resolve(mraPath));
const release = (releaseArg ?? mra.metaData?.release ?? '').toUpperCase();
if (!/^[A-Z]$/.test(release)) die(`release "${release}" is not one letter A–Z (give --release)`);

const inRelease = (v) => !v || (v.from <= release && (v.to === 'latest' || release <= v.to));
const resolveRef = (x) => {
  if (!x?.$ref) return x;
  const name = x.$ref.split('/').pop();
  const def = mra.definitions[name];
  if (!def) die(`unknown definition ${x.$ref}`);
  return { ...def, ...x, $ref: undefined };
};

const FORMAT = { int8: [1, true], int16: [2, true], int32: [4, true], uint8: [1, false], uint16: [2, false], uint32: [4, false] };
const hex = (n) => `0x${n.toString(16).toUpperCase().padStart(2, '0')}`;

/** Fixed size of a data element in bytes, or undefined when it varies. */
function fixedSize(alts) {
  const s = new Set(alts.map((a) => (a.size[0] === a.size[1] ? a.size[0] : -1)));
  return s.size === 1 && !s.has(-1) ? [...s][0] : undefined;
}

/**
 * The accepted EDT forms of a data description, flattened: each with its size range and, for
 * numbers, the raw integer range; for states, the codes. An EDT is valid when one form accepts it.
 */
function forms(data, where) {
  const d = resolveRef(data);
  if (!d) die(`${where}: no data`);
  if (d.oneOf) return d.oneOf.flatMap((x) => forms(x, where));
  switch (d.type) {
    case 'number': {
      const f = FORMAT[d.format];
      if (!f) die(`${where}: unknown number format ${d.format}`);
      if (Array.isArray(d.enum)) return [{ size: [f[0], f[0]], codes: d.enum }];
      if (typeof d.minimum !== 'number' || typeof d.maximum !== 'number') die(`${where}: number without range`);
      return [{ size: [f[0], f[0]], number: { signed: f[1], min: d.minimum, max: d.maximum, ...(d.unit ? { unit: d.unit } : {}), ...(d.multiple ? { multiple: d.multiple } : {}) } }];
    }
    case 'state':
    case 'numericValue': {
      if (!d.size) return []; // a bitmap's bit states, sized by their bitmap
      const codes = d.enum.map((e) => Number.parseInt(e.edt, 16));
      return [{ size: [d.size, d.size], codes }];
    }
    case 'level':
      return [{ size: [1, 1], number: { signed: false, min: Number.parseInt(d.base, 16), max: Number.parseInt(d.base, 16) + d.maximum - 1 } }];
    case 'raw':
      return [{ size: [d.minSize ?? d.size, d.maxSize ?? d.size] }];
    case 'date':
      return [{ size: [d.size ?? 4, d.size ?? 4] }];
    case 'time':
      return [{ size: [d.size ?? 3, d.size ?? 3] }];
    case 'date-time':
      return [{ size: [d.size ?? 7, d.size ?? 7] }];
    case 'bitmap':
      return [{ size: [d.size, d.size] }];
    case 'object': {
      let min = 0;
      let max = 0;
      for (const p of d.properties) {
        const alts = forms(p.element, `${where}.${p.shortName}`);
        min += Math.min(...alts.map((a) => a.size[0]));
        max += Math.max(...alts.map((a) => a.size[1]));
      }
      return [{ size: [min, max] }];
    }
    case 'array': {
      const item = forms(d.items, `${where}[]`);
      const one = fixedSize(item);
      if (one === undefined) die(`${where}: array of variable-size items`);
      return [{ size: [one * (d.minItems ?? 0), one * d.maxItems] }];
    }
    default:
      die(`${where}: unknown data type ${JSON.stringify(d.type)}`);
  }
}

/** Merges forms that differ only by code lists into one (states of the same size). */
function mergeForms(list) {
  const out = [];
  for (const f of list) {
    const same = f.codes && out.find((o) => o.codes && o.size[0] === f.size[0] && o.size[1] === f.size[1]);
    if (same) same.codes = [...new Set([...same.codes, ...f.codes])].sort((a, b) => a - b);
    else out.push(f.codes ? { ...f, codes: [...f.codes].sort((a, b) => a - b) } : f);
  }
  return out;
}

function properties(cls, where) {
  const byEpc = new Map();
  for (const p of cls.elProperties) {
    if (!inRelease(p.validRelease)) continue;
    const epc = Number.parseInt(p.epc, 16);
    const a = p.accessRule;
    const mandatory = [a.get, a.set, a.inf].includes('required');
    byEpc.set(epc, {
      epc,
      name: p.shortName,
      ja: p.propertyName.ja,
      get: a.get,
      set: a.set,
      anno: a.inf,
      mandatory,
      forms: mergeForms(forms(p.data, `${where} EPC ${p.epc}`)),
    });
  }
  return byEpc;
}

const superProps = properties(mra.superClass, 'super class');
const tables = [];
for (const code of CLASSES) {
  const eoj = `0x${code.toString(16).toUpperCase().padStart(4, '0')}`;
  const cls = code === 0x0ef0 ? mra.nodeProfile : mra.devices.find((d) => d.eoj.toUpperCase() === eoj.toUpperCase() && inRelease(d.validRelease));
  if (!cls) {
    console.error(`gen-echonet-tables: class ${eoj} is not in this MRA (release ${release}); skipped`);
    continue;
  }
  const own = properties(cls, eoj);
  tables.push({ classCode: code, name: cls.shortName, ja: cls.className.ja, device: code !== 0x0ef0, props: [...own.values()].sort((a, b) => a.epc - b.epc) });
}

const lit = (v) => JSON.stringify(v);
const formLit = (f) => `{ size: [${f.size.join(', ')}]${f.number ? `, number: ${lit(f.number)}` : ''}${f.codes ? `, codes: [${f.codes.map(hex).join(', ')}]` : ''} }`;
let src = `// GENERATED by scripts/gen-echonet-tables.mjs from the ECHONET Consortium's Machine Readable
// Appendix (${lit(mra.metaData?.date ?? '')}, data version ${mra.metaData?.dataVersion ?? mra.metaData?.version ?? '?'}), Appendix release ${release}. Do not edit by hand:
// regenerate with \`node scripts/gen-echonet-tables.mjs <MRA>\`.
import type { AppendixClassTable, AppendixProperty } from './appendix.js';

/** The MRA these tables were generated from. */
export const APPENDIX_SOURCE = ${lit({ release, date: mra.metaData?.date ?? '', dataVersion: mra.metaData?.dataVersion ?? mra.metaData?.version ?? '' })} as const;

/** The device object super class: every device class has these unless its own table overrides them. */
export const APPENDIX_SUPER_CLASS: readonly AppendixProperty[] = [
`;
const propLit = (p) => `  { epc: ${hex(p.epc)}, name: ${lit(p.name)}, ja: ${lit(p.ja)}, get: ${lit(p.get)}, set: ${lit(p.set)}, anno: ${lit(p.anno)}, mandatory: ${p.mandatory}, forms: [${p.forms.map(formLit).join(', ')}] },\n`;
for (const p of [...superProps.values()].sort((a, b) => a.epc - b.epc)) src += propLit(p);
src += `];

/** Each class's own properties by class code; \`device\` classes add the super class's. */
export const APPENDIX_TABLES: readonly AppendixClassTable[] = [
`;
for (const t of tables) {
  src += `  {\n    classCode: 0x${t.classCode.toString(16).toUpperCase().padStart(4, '0')}, name: ${lit(t.name)}, ja: ${lit(t.ja)}, device: ${t.device},\n    props: [\n`;
  for (const p of t.props) src += `    ${propLit(p)}`;
  src += '    ],\n  },\n';
}
src += '];\n';

const out = outArg ?? fileURLToPath(new URL('../src/protocols/echonet/objects/appendix-tables.ts', import.meta.url));
writeFileSync(out, src);
console.log(`gen-echonet-tables: ${tables.length} classes, ${superProps.size} super class and ${tables.reduce((n, t) => n + t.props.length, 0)} class properties (release ${release}) -> ${out}`);
