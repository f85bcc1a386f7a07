// A tiny supervised participant for the supervisor tests: `ready`, `fail`, `crash`, `hang` or `ignore-stop`.
import { reportReady, reportFailed, reportStatus, runUntilStopped } from '../../../src/roles/common/lifecycle.js';

const mode = process.argv[2] ?? 'ready';
if (mode === 'crash') {
  process.stderr.write('listen EADDRINUSE: address already in use 127.0.0.1:8443\n');
  process.exit(3);
}
if (mode === 'fail') {
  reportFailed('child', 'port 8443 is already in use');
}
if (mode === 'ready' || mode === 'ignore-stop') {
  const timer = setInterval(() => reportStatus('child', { tick: Date.now() }), 20);
  if (mode === 'ready') {
    runUntilStopped(() => { clearInterval(timer); }, (command, args) => {
      if (command === 'add') return (args.a as number) + (args.b as number);
      throw new Error(`unknown command ${command}`);
    });
  }
  else process.on('message', () => { /* ignores stop */ });
  reportReady('child', { port: 1234 });
}
if (mode === 'hang') setInterval(() => {}, 1000);
