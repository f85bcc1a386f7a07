#!/usr/bin/env node
/**
 * Writes docs/config (the configuration reference and JSON Schemas) from the zod schemas.
 * Run after `npm run build`: node scripts/gen-config-docs.mjs
 * See scripts/config-docs.mjs for how descriptions are found.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateConfigDocs } from './config-docs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const [path, text] of await generateConfigDocs(root)) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
  process.stdout.write(`wrote ${path}\n`);
}
