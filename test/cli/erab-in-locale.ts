/**
 * `erab <args>` as its own process under one locale, for the CLI language tests: LANG set, LC_ALL
 * and LC_MESSAGES unset (they would win over LANG), and the variables that would supply what a
 * case leaves out unset (an incident database, audit folders, passphrases, key-encryption keys).
 */
import { spawnErab } from '../kit/index.js';

const UNSET = ['LC_ALL', 'LC_MESSAGES', 'ERAB_BACKUP_PASSPHRASE', 'ERAB_AGGREGATOR_AUDIT_DIR', 'ERAB_NOTIFY_CONFIG', 'ERAB_INCIDENT_DB', 'ERAB_INCIDENT_AUDIT_DIR', 'ERAB_CA_PASSPHRASE'];

/** Its exit code, stdout, stderr, and stderr's `erab: ` lines (`said`). */
export async function erabInLocale(args: string[], lang: string): Promise<{ code: number | null; out: string; err: string; said: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, LANG: lang };
  for (const k of UNSET) delete env[k];
  for (const k of Object.keys(env)) if (/KEK/.test(k)) delete env[k];
  const p = spawnErab(args, env);
  const code = await new Promise<number | null>((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (c) => resolve(c));
  });
  return { code, out: p.out, err: p.err, said: p.err.split('\n').filter((l) => l.startsWith('erab: ')).join('\n') };
}
