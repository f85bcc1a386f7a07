/** Private key files are readable by their owner only (no group or other bits). */
import { statSync } from 'node:fs';
import type { Check, Evidence } from '../registry.js';
import { tlsFileSets } from './tls-files.js';

export const keyFileModeCheck: Check = {
  id: 'keys.file-mode',
  title: 'Private key files readable by their owner only',
  reads: "mode bits of role configs' tls.keyFile (and the report signing key)",
  async run(ctx) {
    const files = new Map<string, string>();
    for (const s of tlsFileSets(ctx)) files.set(s.keyFile, s.owner);
    if (ctx.profile.signing) files.set(ctx.profile.signing.keyFile, 'report signing key');
    if (files.size === 0) return { status: 'not-applicable', evidence: [{ source: 'role configs', observed: 'no key file configured', at: ctx.now }] };
    const evidence: Evidence[] = [];
    let ok = true;
    for (const [file, owner] of files) {
      try {
        const mode = statSync(file).mode & 0o777;
        const tight = (mode & 0o077) === 0;
        if (!tight) ok = false;
        evidence.push({ source: file, observed: `${owner}: mode ${mode.toString(8).padStart(4, '0')}${tight ? '' : ' (group/other may read it)'}`, at: ctx.now });
      } catch (err) {
        ok = false;
        evidence.push({ source: file, observed: `${owner}: ${(err as Error).message}`, at: ctx.now });
      }
    }
    return { status: ok ? 'satisfied' : 'not-satisfied', evidence };
  },
};
