/** `erab <args>` as a child process (the kit's spawnErab), resolved when it exits. */
import { spawnErab } from '../../kit/index.js';

export function runErab(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = spawnErab(args, env);
  return new Promise((resolve) => {
    p.on('close', (code) => resolve({ code: code ?? 1, stdout: p.out, stderr: p.err }));
  });
}
