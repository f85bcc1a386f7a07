/**
 * `erab device ...`: ECHONET Lite device simulators (the `device` role) and a probe.
 *
 *   erab device site  --address 127.0.0.2 [--battery [kWh:kW]] [--pv [kW]] [--ev [kWh:kW]]
 *                     [--water-heater [L]] [--aircon] [--lighting [W]] [--fuel-cell [W]] [--pcs] [--ev-hours 18-8] [--pv-noise 0.2]
 *                     [--speed 60] [--peer ADDR ...] [--multicast]
 *                     [--maker-code 0xFFFFFE] [--serial-prefix S] [--config site.json] [--duration s]
 *                     [--webapi-port P --webapi-cert F --webapi-key F --webapi-ca F [--webapi-crl F]
 *                      --webapi-client-id ID --webapi-secret-file F] [--audit-dir DIR]
 *                     (the ECHONET Lite Web API beside UDP: HTTPS, mutual TLS, OAuth 2.0; docs/echonet.md)
 *   erab device sites --count N --base-address 127.0.1.1 [same device options]
 *   erab device probe --from 127.0.0.1 ADDRESS... [--json]    discover, identify and read a node
 *
 * A site runs until SIGINT/SIGTERM (or --duration seconds) and prints one JSON line per site at
 * start-up. Exit codes: 0 ok, 1 failure, 2 usage error.
 */
import { untilStopped } from '../until-stopped.js';
import { Command } from 'commander';
import { integerIn, OptionValueError, positiveNumber } from '../option-values.js';
import { dirname, resolve } from 'node:path';
import { deepMerge, readConfigFile, resolvePathsFrom } from '../../core/config.js';
import { describeError, explain, inBoth } from '../../core/errors.js';
import { EchonetController, describeProperty } from '../../protocols/echonet/controller.js';
import { eojClass, formatEoj } from '../../protocols/echonet/eoj.js';
import { DeviceSite, parseSiteConfig, type SiteConfigInput } from '../../roles/device/site.js';
import { openSiteRuntime } from '../../roles/device/site-runtime.js';
import { startSites } from '../../roles/device/sites.js';
import { UsageError } from '../usage.js';

/**
 * One `--peer address[:port]`, collected into a list (the option is repeatable). Commander's
 * variadic form needed the placeholder to end in a word character before "...": the former
 * `<address[:port]...>` was not variadic, so a single string reached `.map` and crashed.
 */
function collectPeer(v: string, prev: string[] | undefined): string[] {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(v);
  if (!m || (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535))) {
    throw new OptionValueError('cli.option.ipv4Peer', { value: v });
  }
  return [...(prev ?? []), v];
}

/** "a:b" → [a, b] with both optional. */
function pair(spec: string | true, name: string): [number | undefined, number | undefined] {
  if (spec === true) return [undefined, undefined];
  const m = /^(\d+(?:\.\d+)?)?(?::(\d+(?:\.\d+)?))?$/.exec(spec);
  if (!m) throw new UsageError(explain('cli.device.notPair', { name, value: spec }));
  return [m[1] !== undefined ? Number(m[1]) : undefined, m[2] !== undefined ? Number(m[2]) : undefined];
}

interface DeviceFlags {
  battery?: string | true;
  pv?: string | true;
  ev?: string | true;
  waterHeater?: string | true;
  aircon?: boolean;
  lighting?: string | true;
  fuelCell?: string | true;
  pcs?: boolean;
  evHours?: string;
  pvNoise?: number;
  speed?: number;
  tickMs?: number;
  peer?: string[];
  multicast?: boolean;
  makerCode?: number;
  serialPrefix?: string;
  config?: string;
  duration?: number;
  port?: number;
  replySource?: boolean;
  start?: string;
}

/** The Web API and audit flags of `erab device site` (one node, one device certificate). */
interface WebApiFlags {
  webapiPort?: number;
  webapiCert?: string;
  webapiKey?: string;
  webapiCa?: string;
  webapiCrl?: string;
  webapiClientId?: string;
  webapiSecretFile?: string;
  auditDir?: string;
}

/** The `webApi` and `audit` sections the flags give (over the file's, when --config has them). */
function webApiFrom(flags: WebApiFlags): Record<string, unknown> {
  const t: Record<string, unknown> = {};
  const tls = { certFile: flags.webapiCert, keyFile: flags.webapiKey, caFile: flags.webapiCa, crlFile: flags.webapiCrl };
  const given = Object.entries({ ...tls, port: flags.webapiPort, clientId: flags.webapiClientId, secretFile: flags.webapiSecretFile }).filter(([, v]) => v !== undefined);
  if (given.length > 0) {
    const w: Record<string, unknown> = {};
    if (flags.webapiPort !== undefined) w.port = flags.webapiPort;
    const files = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined));
    if (Object.keys(files).length > 0) w.tls = files;
    if ((flags.webapiClientId === undefined) !== (flags.webapiSecretFile === undefined)) throw new UsageError(explain('cli.device.webApiClient'));
    if (flags.webapiClientId !== undefined) w.clients = [{ id: flags.webapiClientId, secretFile: flags.webapiSecretFile }];
    t.webApi = w;
  }
  if (flags.auditDir !== undefined) t.audit = { dir: flags.auditDir };
  return t;
}

/** Builds a site configuration from the CLI flags (over an optional JSON file). */
function templateFrom(flags: DeviceFlags): Omit<SiteConfigInput, 'address'> {
  const t: Record<string, unknown> = {};
  if (flags.battery !== undefined) {
    const [kwh, kw] = pair(flags.battery, '--battery');
    t.battery = { ...(kwh ? { capacityWh: kwh * 1000 } : {}), ...(kw ? { maxChargeW: kw * 1000, maxDischargeW: kw * 1000 } : {}) };
  }
  if (flags.pv !== undefined) {
    const [kw] = pair(flags.pv, '--pv');
    t.pv = { ...(kw ? { ratedW: kw * 1000 } : {}), ...(flags.pvNoise !== undefined ? { noise: flags.pvNoise } : {}) };
  }
  if (flags.ev !== undefined) {
    const [kwh, kw] = pair(flags.ev, '--ev');
    t.ev = { ...(kwh ? { vehicleCapacityWh: kwh * 1000 } : {}), ...(kw ? { maxChargeW: kw * 1000, maxDischargeW: kw * 1000 } : {}) };
    if (flags.evHours !== undefined) {
      const m = /^(\d{1,2})-(\d{1,2})$/.exec(flags.evHours);
      if (!m || Number(m[1]) > 24 || Number(m[2]) > 24) throw new UsageError(explain('cli.device.badEvHours', { value: flags.evHours }));
      (t.ev as Record<string, unknown>).pluggedHours = [Number(m[1]), Number(m[2])];
    }
  } else if (flags.evHours !== undefined) {
    throw new UsageError(explain('cli.device.evHoursNeedsEv'));
  }
  if (flags.waterHeater !== undefined) {
    const [l] = pair(flags.waterHeater, '--water-heater');
    t.waterHeater = l ? { tankLitres: l } : {};
  }
  if (flags.aircon) t.aircon = {};
  if (flags.lighting !== undefined) {
    const [w] = pair(flags.lighting, '--lighting');
    t.lighting = w ? { ratedW: w } : {};
  }
  if (flags.fuelCell !== undefined) {
    const [w] = pair(flags.fuelCell, '--fuel-cell');
    t.fuelCell = w ? { ratedW: w } : {};
  }
  if (flags.pcs) t.pcs = {};
  if (flags.speed !== undefined) t.speed = flags.speed;
  if (flags.tickMs !== undefined) t.tickMs = flags.tickMs;
  if (flags.port !== undefined) t.port = flags.port;
  if (flags.replySource) t.replyPort = 'source';
  if (flags.peer?.length) t.peers = flags.peer.map((p) => {
    const [address, port] = p.split(':');
    return port ? { address, port: Number(port) } : { address };
  });
  if (flags.multicast) t.multicast = true;
  if (flags.makerCode !== undefined) t.makerCode = flags.makerCode;
  if (flags.serialPrefix !== undefined) t.serialPrefix = flags.serialPrefix;
  if (flags.start !== undefined) {
    const ms = Date.parse(flags.start);
    if (Number.isNaN(ms)) throw new UsageError(explain('cli.device.badStart', { value: flags.start }));
    t.startTime = ms;
  }
  // Files a configuration names are relative to its folder, as in every role's configuration.
  const fromFile = flags.config ? resolvePathsFrom(readConfigFile(flags.config), dirname(resolve(flags.config))) : {};
  return deepMerge(fromFile, t) as Omit<SiteConfigInput, 'address'>;
}

function addDeviceOptions(cmd: Command): Command {
  return cmd
    .option('--battery [kWh:kW]', 'storage battery (default 9.8 kWh, 3 kW)')
    .option('--pv [kW]', 'household PV (default 4.5 kW)')
    .option('--ev [kWh:kW]', 'EV charger/discharger with a vehicle (default 40 kWh, 6 kW)')
    .option('--water-heater [L]', 'heat-pump water heater (default 460 L tank)')
    .option('--aircon', 'home air conditioner')
    .option('--lighting [W]', 'general lighting, dimmable (default 120 W)')
    .option('--fuel-cell [W]', 'household fuel cell, ENE-FARM (default 700 W, load following)')
    .option('--pcs', 'a multi-input PCS shared by the PV system and the battery (needs --pv or --battery)')
    .option('--ev-hours <from-to>', 'EV plugged in only between these JST hours, e.g. 18-8 (commuter)')
    .option('--pv-noise <fraction>', 'PV output noise, 0–1 (passing clouds)', positiveNumber('--pv-noise'))
    .option('--speed <x>', 'simulated time runs x times faster than real time', positiveNumber('--speed'))
    .option('--tick-ms <ms>', 'real ms between physics steps (default 1000)', integerIn('--tick-ms', 10, 60_000))
    .option('--port <n>', 'UDP port (default 3610)', integerIn('--port', 0, 65535))
    .option('--reply-source', 'answer to the request\'s source port instead of 3610')
    .option('--peer <address[:port]>', 'unicast announcement target, e.g. the gateway (repeatable)', collectPeer)
    .option('--multicast', 'join and announce to 224.0.23.0 (needs a multicast route)')
    .option('--maker-code <code>', 'maker code (default 0xFFFFFE)', integerIn('--maker-code', 0, 0xffffff))
    .option('--serial-prefix <s>', 'production number prefix (default from the address)')
    .option('--start <iso>', 'simulated start instant (default now)')
    .option('--config <file>', 'JSON site configuration (flags override it)')
    .option('--duration <s>', 'stop after s real seconds (default: run until interrupted)', positiveNumber('--duration'));
}

function siteLine(site: DeviceSite): string {
  return JSON.stringify({
    address: site.config.address,
    port: site.node.port,
    speed: site.config.speed,
    instances: site.node.hosted().map((o) => formatEoj(o.eoj)),
    productionNumber: site.node.profile.get(site.node.profile.definition.props.productionNumber),
    ...(site.webApiUrl ? { webApiUrl: site.webApiUrl } : {}),
  });
}

export function register(program: Command): void {
  const device = program.command('device').description('ECHONET Lite device simulators (device role) and a probe');

  addDeviceOptions(device.command('site').description('run one simulated home on one ECHONET Lite node')
    .requiredOption('--address <ip>', 'address to bind (e.g. 127.0.0.2)'))
    .option('--webapi-port <n>', 'serve the ECHONET Lite Web API (HTTPS, mutual TLS, OAuth 2.0) on this TCP port too (0 = any)', integerIn('--webapi-port', 0, 65535))
    .option('--webapi-cert <file>', "the Web API node's device certificate (erab pki issue --role device)")
    .option('--webapi-key <file>', 'its private key')
    .option('--webapi-ca <file>', 'the CA the gateways\' certificates chain to')
    .option('--webapi-crl <file>', 'the CA\'s CRL')
    .option('--webapi-client-id <id>', 'the OAuth 2.0 client id a gateway obtains tokens with')
    .option('--webapi-secret-file <file>', 'file holding that client\'s secret')
    .option('--audit-dir <dir>', 'the site\'s audit log (default ./audit when the Web API is served)')
    .action(async (opts: DeviceFlags & WebApiFlags & { address: string }) => {
      const config = parseSiteConfig(deepMerge({ ...templateFrom(opts), address: opts.address }, webApiFrom(opts)), opts.config ?? inBoth('config.source.commandLine'));
      const opened = await openSiteRuntime(config);
      let site: DeviceSite;
      try {
        site = await DeviceSite.start(config, opened.runtime);
      } catch (err) {
        opened.close();
        throw err;
      }
      const stopped = untilStopped({ afterMs: opts.duration === undefined ? undefined : opts.duration * 1000 });
      process.stdout.write(`${siteLine(site)}\n`);
      await stopped;
      await site.close();
      opened.close();
    });

  addDeviceOptions(device.command('sites').description('run many simulated homes in one process (scale tests)')
    .requiredOption('--count <n>', 'number of sites', integerIn('--count', 1, 20_000))
    .requiredOption('--base-address <ip>', 'address of the first site; the next ones follow'))
    .action(async (opts: DeviceFlags & { count: number; baseAddress: string }) => {
      const template = templateFrom(opts);
      const checked = parseSiteConfig({ ...template, address: opts.baseAddress }, opts.config ?? inBoth('config.source.commandLine'));
      // One device certificate names one node's address: many sites in one process cannot share it.
      if (checked.webApi) {
        const source = opts.config ? { en: opts.config, ja: opts.config } : inBoth('cli.device.thisConfiguration');
        throw new UsageError(explain('cli.device.webApiOnePerProcess', { source: source.en, sourceJa: source.ja }));
      }
      const sites = await startSites({ count: opts.count, baseAddress: opts.baseAddress, template });
      const stopped = untilStopped({ afterMs: opts.duration === undefined ? undefined : opts.duration * 1000 });
      for (const s of sites) process.stdout.write(`${siteLine(s)}\n`);
      await stopped;
      await Promise.all(sites.map((s) => s.close()));
    });

  device.command('probe').description('discover, identify and read ECHONET Lite nodes at the given addresses')
    .requiredOption('--from <ip>', 'controller address to bind (port 3610 unless --port)')
    .option('--port <n>', 'controller port (default 3610)', integerIn('--port', 0, 65535))
    .option('--timeout-ms <ms>', 'wait per request (default 3000, at most 20000)', integerIn('--timeout-ms', 1, 20_000))
    .option('--json', 'print JSON')
    .argument('<address...>', 'node addresses')
    .action(async (addresses: string[], opts: { from: string; port?: number; timeoutMs?: number; json?: boolean }) => {
      const c = await EchonetController.start({ address: opts.from, ...(opts.port !== undefined ? { port: opts.port } : {}), timeoutMs: opts.timeoutMs ?? 3000, retries: 1 });
      try {
        const nodes = await c.discover({ addresses });
        const out = [];
        for (const n of nodes) {
          const objects = [];
          for (const inst of n.instances) {
            const readable = (n.maps.get(inst)?.get ?? []).filter((e) => e >= 0xa0 && e !== 0x9d && e !== 0x9e && e !== 0x9f);
            const values: Record<string, unknown> = {};
            for (let i = 0; i < readable.length; i += 8) {
              try {
                const r = await c.getProperties(n.address, inst, readable.slice(i, i + 8));
                for (const p of r.filter((x) => x.ok)) {
                  const d = describeProperty(eojClass(inst), p.epc, p.edt);
                  values[d.name] = d.value instanceof Uint8Array ? Buffer.from(d.value).toString('hex') : d.value;
                }
              } catch (err) {
                values.error = describeError(err);
              }
            }
            objects.push({ eoj: formatEoj(inst), release: n.releases.get(inst), values });
          }
          out.push({ address: n.address, version: n.version, identity: n.identity, objects });
        }
        const missing = addresses.filter((a) => !nodes.some((n) => n.address === a));
        if (opts.json) process.stdout.write(`${JSON.stringify({ nodes: out, unreachable: missing }, null, 2)}\n`);
        else {
          for (const n of out) {
            process.stdout.write(`${n.address}  ECHONET Lite ${n.version ?? '?'}  maker 0x${(n.identity.makerCode ?? 0).toString(16).toUpperCase()}  product ${n.identity.productCode ?? '-'}  serial ${n.identity.productionNumber ?? '-'}\n`);
            for (const o of n.objects) process.stdout.write(`  ${o.eoj} (Release ${o.release ?? '?'}) ${JSON.stringify(o.values)}\n`);
          }
          for (const a of missing) process.stdout.write(`${a}  no answer\n`);
        }
        if (missing.length > 0) process.exitCode = 1;
      } finally {
        await c.close();
      }
    });
}
