/** The subset OSCAL 1.1.2 schemas of test/fixtures/oscal (ours, not NIST's), compiled with ajv. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { REPO_ROOT } from '../repo.js';

const FIX = join(REPO_ROOT, 'test', 'fixtures', 'oscal');

export function subsetValidators() {
  const ajv = new Ajv.default({ allErrors: true, strict: false, unicodeRegExp: true });
  addFormats.default(ajv);
  ajv.addSchema(JSON.parse(readFileSync(join(FIX, 'erab-oscal-1.1.2-common.schema.json'), 'utf8')));
  const compile = (f: string) => ajv.compile(JSON.parse(readFileSync(join(FIX, f), 'utf8')));
  return { catalog: compile('erab-oscal-1.1.2-catalog.schema.json'), ssp: compile('erab-oscal-1.1.2-ssp.schema.json'), ar: compile('erab-oscal-1.1.2-assessment-results.schema.json') };
}
