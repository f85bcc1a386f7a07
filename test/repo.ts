/** Where the repository and its `erab` launcher are, for tests that run the command as a user does. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (holds package.json and bin/erab.js), found upwards from this compiled file. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'bin', 'erab.js')) || !existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root (bin/erab.js) not found');
    dir = up;
  }
  return dir;
}

export const REPO_ROOT = repoRoot();
/** bin/erab.js: the launcher `npx erab` runs. */
export const ERAB_BIN = join(REPO_ROOT, 'bin', 'erab.js');
