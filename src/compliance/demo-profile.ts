/**
 * The compliance profile of one participant of an `erab demo` work folder (src/roles/demo/layout.ts
 * puts each participant's config at <dir>/<id>/config.json): by default resource aggregator AGG-A,
 * assessed from its own configuration, store and audit log, its report signed with its key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { explain, InvalidInputError } from '../core/errors.js';
import { IDS } from '../roles/demo/layout.js';
import { complianceProfileSchema, type ComplianceProfile } from './profile.js';

export function demoProfile(dir: string, opts: { participant?: string; kubun?: 'A' | 'B' | 'C' } = {}): ComplianceProfile {
  const id = opts.participant ?? IDS.aggregators[0];
  const tsoLike = id === IDS.tso ? 'tso' : id === IDS.retailer ? 'retailer' : undefined;
  const configFile = join(dir, tsoLike ?? id, 'config.json');
  if (!existsSync(configFile)) throw new InvalidInputError(explain('compliance.demoNotFound', { file: configFile, dir, id }));
  const cfg = JSON.parse(readFileSync(configFile, 'utf8')) as { tls?: { keyFile?: string; certFile?: string } };
  return complianceProfileSchema.parse({
    participant: { id, name: `erab demo ${id}` },
    roles: [tsoLike ?? 'aggregator'],
    ...(opts.kubun ? { kubun: opts.kubun } : {}),
    configs: { [tsoLike ?? 'aggregator']: configFile },
    store: join(dir, 'compliance', `${id}.db`),
    audit: { dir: join(dir, 'compliance', `${id}-audit`) },
    ...(cfg.tls?.keyFile ? { signing: { keyFile: cfg.tls.keyFile, ...(cfg.tls.certFile ? { certFile: cfg.tls.certFile } : {}) } } : {}),
  });
}
