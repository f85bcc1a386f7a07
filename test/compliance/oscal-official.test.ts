/**
 * erab's OSCAL outputs against the OFFICIAL NIST OSCAL 1.1.2 JSON schemas (not our subset schemas of
 * test/fixtures/oscal): both catalogs, and the ssp.json and assessment-results.json that
 * `erab compliance report` writes for a live deployment, validated with ajv (draft-07, as the
 * official schemas declare). The official schemas are not in this repository (they are generated
 * from the usnistgov/OSCAL metaschema sources, which may not be copied here): set
 * ERAB_OSCAL_SCHEMA_DIR to a folder holding oscal_catalog_schema.json, oscal_ssp_schema.json and
 * oscal_assessment-results_schema.json of v1.1.2 — test/fixtures/oscal/README.md says how to make
 * them. Without it the tests skip and say so.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { CATALOGS } from '../../src/compliance/catalog.js';
import { deployment, type Deployment } from './deployment.js';
import { erab } from './erab-cli.js';
import { subsetValidators } from './oscal-subset.js';

const DIR = process.env.ERAB_OSCAL_SCHEMA_DIR;
const skip = DIR ? false : 'set ERAB_OSCAL_SCHEMA_DIR to a folder with the official OSCAL 1.1.2 JSON schemas (oscal_catalog_schema.json, oscal_ssp_schema.json, oscal_assessment-results_schema.json) to run this check; test/fixtures/oscal/README.md ("The official schemas: how to make them") gives the steps to make them';

/** The file name part of each schema, and the short name in its $id. */
const MODELS = { catalog: 'catalog', ssp: 'ssp', ar: 'assessment-results' } as const;
type Model = keyof typeof MODELS;

/** One ajv per schema (the official schemas are each self-contained and share definition $ids), compiled once. */
const compiled = new Map<Model, ValidateFunction>();
function official(model: Model): ValidateFunction {
  const done = compiled.get(model);
  if (done) return done;
  const file = join(DIR!, `oscal_${MODELS[model]}_schema.json`);
  assert.ok(existsSync(file), `ERAB_OSCAL_SCHEMA_DIR=${DIR} has no ${file}: see test/fixtures/oscal/README.md`);
  const text = readFileSync(file, 'utf8');
  const schema = JSON.parse(text) as { $schema?: string; $id?: string };
  // The schemas of the release erab writes (oscal-version 1.1.2), not of another one.
  assert.equal(schema.$id, `http://csrc.nist.gov/ns/oscal/1.1.2/oscal-${model}-schema.json`, `${file} is not the OSCAL 1.1.2 ${MODELS[model]} schema`);
  assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  process.stdout.write(`# ${file} sha256 ${createHash('sha256').update(text).digest('hex')}\n`);
  // ajv's strict mode (its default) accepts them; their patterns use \p{…} property escapes, which
  // need unicodeRegExp (ajv's default too, stated so that it stays).
  const ajv = new Ajv.default({ allErrors: true, unicodeRegExp: true });
  addFormats.default(ajv);
  const v = ajv.compile(schema);
  compiled.set(model, v);
  return v;
}

const show = (errors: ErrorObject[] | null | undefined) => JSON.stringify((errors ?? []).slice(0, 8), null, 1);
/** The validator rejects `doc`, and one of its errors names `field` (missing, unknown, or the path to it). */
function assertRejects(v: ValidateFunction, doc: unknown, field: string): void {
  assert.equal(v(doc), false, `a document with ${field} broken must be invalid`);
  const named = (v.errors ?? []).some((e) => e.params['missingProperty'] === field || e.params['additionalProperty'] === field || e.instancePath.endsWith(`/${field}`));
  assert.ok(named, `an error names ${field}: ${show(v.errors)}`);
}

let d: Deployment | undefined;
let out = '';
before(async () => {
  if (skip) return;
  d = await deployment();
  const profileFile = join(d.dir, 'compliance.json');
  writeFileSync(profileFile, JSON.stringify({ ...d.profile(), store: join(d.dir, 'official.db'), audit: { dir: join(d.dir, 'official-audit') } }));
  // Decisions too, so the documents carry the decision texts and the non-check states.
  for (const args of [
    ['--control', 'jk-9-1', '--kind', 'compensating-control', '--compensating', 'サーバ室は入館カードで管理 / badge-controlled server room'],
    ['--control', 'jk-2-1', '--kind', 'implemented-by-process', '--reference', 'SEC-ORG-001 体制規程 v3'],
  ]) {
    const r = await erab(['compliance', 'decide', '--profile', profileFile, ...args, '--approver', 'Sato', '--review', '2099-12-01']);
    assert.equal(r.code, 0, r.stderr);
  }
  out = join(d.dir, 'official-report');
  const r = await erab(['compliance', 'report', '--profile', profileFile, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => { await d?.close(); });

const readOut = (f: string) => JSON.parse(readFileSync(join(out, f), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

test('both catalogs validate against the official OSCAL 1.1.2 catalog schema; a catalog without its title does not', { skip }, () => {
  const v = official('catalog');
  for (const key of ['erab', 'jikayou'] as const) assert.ok(v(CATALOGS[key]), `${key}: ${show(v.errors)}`);
  const broken = structuredClone(CATALOGS.erab) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  delete broken['catalog'].metadata.title;
  assertRejects(v, broken, 'title');
});

test('the ssp.json of erab compliance report validates against the official OSCAL 1.1.2 SSP schema; a misspelt field does not', { skip }, () => {
  const v = official('ssp');
  const ssp = readOut('ssp.json');
  assert.ok(v(ssp), show(v.errors));
  assert.ok(ssp['system-security-plan']['control-implementation']['implemented-requirements'].length > 0);
  const broken = structuredClone(ssp);
  const plan = broken['system-security-plan'];
  plan['system-charactaristics'] = plan['system-characteristics'];
  delete plan['system-characteristics'];
  assertRejects(v, broken, 'system-charactaristics');
  assertRejects(v, broken, 'system-characteristics');
});

test('the assessment-results.json of erab compliance report validates against the official OSCAL 1.1.2 schema; a result without its start does not', { skip }, () => {
  const v = official('ar');
  const ar = readOut('assessment-results.json');
  assert.ok(v(ar), show(v.errors));
  const result = ar['assessment-results'].results[0];
  assert.ok(result.findings.length > 0 && result.observations.length > 0);
  const broken = structuredClone(ar);
  delete broken['assessment-results'].results[0].start;
  assertRejects(v, broken, 'start');
  // A value the schema constrains: a finding's target status outside its allowed values.
  const badState = structuredClone(ar);
  badState['assessment-results'].results[0].findings[0].target.status.state = 'passed';
  assertRejects(v, badState, 'state');
});

/**
 * Every single-field change of a document: the field removed, renamed, emptied, padded with spaces,
 * or made a number. Arrays are walked through their first element only.
 */
function* mutants(doc: unknown): Generator<{ what: string; doc: unknown }> {
  const paths: string[][] = [];
  const walk = (o: unknown, path: string[]) => {
    if (!o || typeof o !== 'object') return;
    const keys = Array.isArray(o) ? (o.length ? ['0'] : []) : Object.keys(o);
    for (const k of keys) { paths.push([...path, k]); walk((o as Record<string, unknown>)[k], [...path, k]); }
  };
  walk(doc, []);
  for (const path of paths) {
    for (const kind of ['removed', 'renamed', 'emptied', 'padded', 'number'] as const) {
      const copy = structuredClone(doc) as Record<string, unknown>;
      let o = copy;
      for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
      const k = path.at(-1)!;
      const v = o[k];
      if (Array.isArray(o) && (kind === 'removed' || kind === 'renamed')) continue;
      if (kind === 'padded' && typeof v !== 'string') continue;
      if (kind === 'removed') delete o[k];
      else if (kind === 'renamed') { o[`${k}x`] = v; delete o[k]; }
      else if (kind === 'emptied') o[k] = Array.isArray(v) ? [] : typeof v === 'string' ? '' : v && typeof v === 'object' ? {} : v;
      else if (kind === 'padded') o[k] = ` ${v as string} `;
      else o[k] = 7;
      yield { what: `${path.join('/')} ${kind}`, doc: copy };
    }
  }
}

test('the subset schemas of test/fixtures/oscal are nowhere looser than the official ones for what erab writes', { skip }, () => {
  const sub = subsetValidators();
  const docs = { catalog: CATALOGS.erab, ssp: readOut('ssp.json'), ar: readOut('assessment-results.json') };
  for (const model of ['catalog', 'ssp', 'ar'] as const) {
    const off = official(model);
    assert.ok(sub[model](docs[model]) && off(docs[model]), model);
    const looser: string[] = [];
    let rejected = 0;
    for (const m of mutants(docs[model])) {
      const officialOk = off(m.doc);
      if (!officialOk) rejected++;
      if (!officialOk && sub[model](m.doc)) looser.push(m.what);
    }
    assert.deepEqual(looser, [], `${model}: changes the official schema rejects and the subset accepts`);
    assert.ok(rejected > 50, `${model}: the official schema rejected only ${rejected} changes`);
  }
});
