/**
 * deploy/compose/compose.yaml, run: the staging rehearsal of docs/production.md §10. The guide's
 * PKI ceremony and configuration files are made as the guide says, with the hosts' addresses
 * replaced by the Compose service names (`tso`, `aggregator`, `db`), listeners on 0.0.0.0 and each
 * server certificate issued with `--dns <service>` (and 127.0.0.1 for the published operator
 * ports); the stack is built and started with the `rehearsal` profile (simulated devices); then,
 * from this host through the published ports, the operator steps of the guide run: GW2's pending
 * devices admitted from the aggregator, both gateways online, the TSO listing AGG1, a fleet
 * command held and approved by a second operator and delivered by the batteries.
 *
 * It needs a Docker engine with Compose and the images the files name (node:20-bookworm-slim,
 * postgres:16-bookworm), takes minutes (it builds erab's image), and publishes 9443/9444 on this
 * host: it runs only when ERAB_COMPOSE_TEST=1, and skips with the reason otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../kit/index.js';
import { guideSteps } from './guide-blocks.js';
import { guideWaits } from './guide-waits.js';
import { runSync, shSync, type Ran } from './shell.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const composeDir = join(repo, 'deploy/compose');
const project = 'erab-rehearsal';

function compose(): string[] | string {
  if (process.env.ERAB_COMPOSE_TEST !== '1') return 'set ERAB_COMPOSE_TEST=1 to build and run the Compose stack (needs a Docker engine; takes minutes; publishes 9443/9444)';
  if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status !== 0) return 'no Docker engine answers `docker info`';
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  return 'neither `docker compose` nor `docker-compose` is installed';
}
const tool = compose();
const SKIP = typeof tool === 'string' ? tool : false;

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = composeDir): Ran => runSync(cmd, args, env, cwd);

/** Every file under `dir` readable by the container's service user; private keys its own, 0600. */
function handOver(dir: string, uid: number, gid: number): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    chownSync(p, 0, gid);
    if (st.isDirectory()) { chmodSync(p, 0o750); handOver(p, uid, gid); continue; }
    chmodSync(p, 0o640);
    if (name === 'key.pem' || name.endsWith('.pass')) { chownSync(p, uid, gid); chmodSync(p, 0o600); }
  }
}

test('the Compose file runs the guide\'s deployment: devices admitted and online, a dispatch delivered', { timeout: 1_800_000, skip: SKIP }, async () => {
  const [bin, ...pre] = tool as string[];
  const root = mkdtempSync(join(tmpdir(), 'erab-compose-'));
  const etc = join(root, 'etc');
  const pgPassword = randomBytes(18).toString('base64url');
  const dbUrl = `postgres://erab:${pgPassword}@db:5432/erab_aggregator`;
  const env: NodeJS.ProcessEnv = { ...process.env, ERAB_ETC: etc, LANG: 'C.UTF-8', LC_ALL: '', ERAB_LOG_LEVEL: 'warn' };
  const dc = (...args: string[]) => run(bin!, [...pre, '-p', project, ...args], env);
  // The operator's host reaches the published ports; the roles reach each other by service name.
  const toHost = (s: string) => s.replaceAll('https://192.0.2.20:9444', 'https://127.0.0.1:9444').replaceAll('https://192.0.2.10:9443', 'https://127.0.0.1:9443');
  const inContainers = (s: string) => s
    .replaceAll('postgres://erab@192.0.2.30:5432/erab_aggregator', dbUrl)
    .replaceAll('https://192.0.2.10:8443', 'https://tso:8443')
    .replaceAll('https://192.0.2.20:8444', 'https://aggregator:8444')
    .replace(/"host": "192\.0\.2\.\d+"/g, '"host": "0.0.0.0"');
  const erabBin = join(root, 'bin');
  mkdirSync(erabBin, { recursive: true });
  writeFileSync(join(erabBin, 'erab'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(repo, 'bin/erab.js'))} "$@"\n`);
  chmodSync(join(erabBin, 'erab'), 0o755);
  const hostEnv = { ...env, PATH: `${erabBin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  const steps = guideSteps(readFileSync(join(repo, 'docs/production.md'), 'utf8'));
  try {
    // 1. The PKI ceremony and the configuration files, on this host, into ERAB_ETC.
    // As the guide says (`compose build`); where the engine's build containers have no network of
    // their own, ERAB_COMPOSE_BUILD_NETWORK=host builds the same Dockerfile on the host's network.
    const buildNetwork = process.env.ERAB_COMPOSE_BUILD_NETWORK;
    const build = buildNetwork
      ? run('docker', ['build', '--network', buildNetwork, '-t', 'erab:local', '-f', join(composeDir, 'Dockerfile'), repo], env)
      : dc('build');
    assert.equal(build.code, 0, `build: ${build.out.slice(-2000)}${build.err.slice(-3000)}`);
    for (const step of steps) {
      if (step.kind === 'file') {
        const file = step.arg.replace('/etc/erab', etc);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, inContainers(step.body));
      } else if (step.kind === 'run' && step.body.includes('erab pki ')) {
        const body = step.body.replaceAll('/etc/erab', etc)
          .replace('--ip 192.0.2.10', '--dns tso --ip 127.0.0.1')
          .replace('--ip 192.0.2.20', '--dns aggregator --ip 127.0.0.1')
          .replace(/--ip 192\.0\.2\.4\d/g, '');
        const r = shSync(body, root, hostEnv);
        assert.equal(r.code, 0, `${step.line}: ${r.err}`);
      }
    }
    writeFileSync(join(etc, 'secrets/pg.pass'), pgPassword);
    // The service user of erab's image owns the keys it must read (erab refuses a shared key).
    const ids = run('docker', ['run', '--rm', '--entrypoint', 'id', 'erab:local'], env);
    const [uid, gid] = [Number(/uid=(\d+)/.exec(ids.out)?.[1]), Number(/gid=(\d+)/.exec(ids.out)?.[1])];
    assert.ok(uid > 0 && gid > 0, `the image's user: ${ids.out}${ids.err}`);
    handOver(etc, uid, gid);
    chmodSync(etc, 0o755);
    // PostgreSQL first, the portfolio imported as the guide does (from the aggregator's image).
    let r = dc('up', '-d', '--no-build', 'db');
    assert.equal(r.code, 0, r.err);
    await waitFor('PostgreSQL healthy', () => /healthy/.test(run('docker', ['inspect', '-f', '{{.State.Health.Status}}', `${project}_db_1`], env).out + run('docker', ['inspect', '-f', '{{.State.Health.Status}}', `${project}-db-1`], env).out), 180_000);
    r = dc('run', '--rm', '--no-deps', 'aggregator', 'aggregator', 'portfolio', 'import', '/etc/erab/portfolio.json', '--db', dbUrl, '--operator', 'alice');
    assert.equal(r.code, 0, `portfolio import: ${r.out}${r.err}`);
    r = dc('--profile', 'rehearsal', 'up', '-d', '--no-build');
    assert.equal(r.code, 0, `up: ${r.err}`);
    // 2. The operator's steps of the guide, from this host through the published ports.
    const operatorSteps = steps.filter((s) => (s.kind === 'run' && /erab aggregator (devices|command|approve)/.test(s.body)) || s.kind === 'wait');
    let commandId = '';
    const waits = guideWaits({ pendingGw2: new Map(), commandId: () => commandId });
    for (const step of operatorSteps) {
      if (step.kind === 'wait' && step.arg === 'tso-event-at-aggregator') continue; // the TSO dispatch waits for a コマ: the guide test covers it
      const body = () => toHost(step.body).replaceAll('/etc/erab', etc).replaceAll('<command-id>', commandId);
      if (step.kind === 'run') {
        const out = shSync(body(), root, hostEnv);
        assert.equal(out.code, 0, `docs/production.md:${step.line}: ${out.err}${out.out}\n${dc('logs', '--tail', '40').out}`);
        commandId = /command ([0-9a-f-]{36}) held/.exec(out.out)?.[1] ?? commandId;
        continue;
      }
      const check = waits[step.arg];
      assert.ok(check, `docs/production.md:${step.line}: no condition for wait ${step.arg}`);
      await waitFor(`docs/production.md:${step.line} (${step.arg})`, async () => {
        const out = shSync(body(), root, hostEnv);
        if (out.code !== 0) return false;
        return check(out.out, async () => JSON.parse(shSync(`${body().trimEnd()} --json`, root, hostEnv).out));
      }, 300_000).catch((e: Error) => { throw new Error(`${e.message}\n${dc('logs', '--tail', '60').out}`); });
    }
    assert.ok(commandId, 'the fleet command was held for a second operator');
    // Every role still running: nothing restarted on the way.
    const ps = dc('ps');
    assert.doesNotMatch(ps.out, /Restarting|Exit /, ps.out);
  } finally {
    dc('--profile', 'rehearsal', 'down', '-v', '--timeout', '30');
    rmSync(root, { recursive: true, force: true });
  }
});
