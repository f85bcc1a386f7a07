/**
 * The configuration of a test gateway in a folder of flat PKI files (ca.pem, agg.pem, <id>.pem and
 * <id>.key, as `pkiWorld(..., { flatFiles })` writes them), reaching its aggregator AGG1 on a
 * loopback port and its simulated homes over ECHONET Lite on a 127.x.y.0/24 block. Tests keep
 * what differs (database, timings, admission) visible at the call.
 *
 * @example
 * const gw = await Gateway.start(localGatewayConfig({ dir, port, net: `127.${net}`, serialPrefixes: ['F1'] }), { clock: systemClock, audit });
 */
import { join } from 'node:path';
import { gatewayConfigSchema, type GatewayConfig } from '../../src/roles/gateway/gateway.js';

export interface LocalGateway {
  dir: string;
  /** The aggregator's downstream (R4) port on 127.0.0.1. */
  port: number;
  /** `127.x.y`: the controller binds `127.x.y.1` and polls the home `127.x.y.2`, unless `controller` and `homes` say otherwise. */
  net: string;
  controller?: string;
  /** Serial-number prefixes the gateway admits. */
  serialPrefixes: string[];
  gatewayId?: string;
  /** Certificate file stem in `dir`; `gw` unless given. */
  certStem?: string;
  homes?: string[];
  database?: string;
  engineTickMs?: number;
}

export function localGatewayConfig(o: LocalGateway): GatewayConfig {
  const stem = o.certStem ?? 'gw';
  return gatewayConfigSchema.parse({
    gatewayId: o.gatewayId ?? 'GW1',
    database: o.database ?? join(o.dir, 'gw.db'),
    tls: { certFile: join(o.dir, `${stem}.pem`), keyFile: join(o.dir, `${stem}.key`), caFile: join(o.dir, 'ca.pem') },
    aggregator: { id: 'AGG1', vtnUrl: `https://127.0.0.1:${o.port}`, certificateFile: join(o.dir, 'agg.pem') },
    echonet: { address: o.controller ?? `${o.net}.1`, devices: o.homes ?? [`${o.net}.2`], pollMs: 500, timeoutMs: 2000, retries: 1 },
    telemetry: { minPeriodMs: 1000 },
    admission: { allowList: o.serialPrefixes.map((serialNumber) => ({ serialNumber })) },
    engine: { tickMs: o.engineTickMs ?? 200 },
  });
}
