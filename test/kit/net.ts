/**
 * Loopback ports and erab processes for tests that start a real external program (Prometheus,
 * rsyslogd) or the erab CLI as a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a program that cannot listen on port 0
 * and tell us its port (Prometheus's web listener, rsyslog's TLS input).
 */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

/** A running `erab` child process with what it printed so far. */
export type ErabProcess = ChildProcess & { out: string; err: string };

const mainJs = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/**
 * Starts `erab <args>` as a separate Node.js process (the compiled CLI), collecting stdout and stderr.
 * @example const vtn = spawnErab(['openadr', 'vtn', '--cert', ...]); await waitFor('up', () => vtn.out.includes('listening'));
 */
export function spawnErab(args: string[], env: NodeJS.ProcessEnv = process.env): ErabProcess {
  const p = spawn(process.execPath, ['--input-type=module', '-e', `import { main } from ${JSON.stringify(mainJs)}; process.exitCode = await main(['node', 'erab', ...process.argv.slice(1)]);`, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env }) as ErabProcess;
  p.out = '';
  p.err = '';
  p.stdout?.on('data', (d: Buffer) => { p.out += d.toString(); });
  p.stderr?.on('data', (d: Buffer) => { p.err += d.toString(); });
  return p;
}
