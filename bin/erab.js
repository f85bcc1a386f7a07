#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run automatically by `npm ci` / `npm install`).
// With one CPU it first relaunches Node with GC flags suited to one CPU (dist/src/cli/launch.js says why).
import { availableParallelism } from 'node:os';
import { relaunch, relaunchFlags } from '../dist/src/cli/launch.js';

const flags = relaunchFlags({
  cpus: availableParallelism(),
  execArgv: process.execArgv,
  tuning: process.env.ERAB_NODE_TUNING,
  hasIpc: typeof process.send === 'function',
});

if (flags.length > 0) {
  relaunch(flags);
} else {
  const { main } = await import('../dist/src/cli/main.js');
  main(process.argv).then(
    (code) => { process.exitCode = code; },
    (err) => { console.error(err instanceof Error ? err.message : String(err)); process.exitCode = 1; },
  );
}
