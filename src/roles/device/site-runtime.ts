/**
 * What a site configuration's files become at start-up (the `webApi` and `audit` sections of
 * ./site.ts): the device process's audit log, opened as the other roles open theirs, and the
 * ECHONET Lite Web API server's material (the node's device certificate), its OAuth 2.0 clients
 * (secrets read from their files) and who may connect. `erab device site` runs through this; tests
 * and embedders may pass the runtime options to DeviceSite.start directly.
 */
import type { Clock } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import { readSecretFile } from '../../core/config.js';
import { ConfigError, explain } from '../../core/errors.js';
import { AuditLog } from '../../security/audit/log.js';
import { loadTlsMaterial } from '../../security/tls.js';
import type { SiteConfig, SiteRuntimeOptions } from './site.js';

export interface OpenedSiteRuntime {
  runtime: SiteRuntimeOptions;
  /** The audit log opened here (undefined when the configuration asks for none). */
  audit: AuditLog | undefined;
  /** Closes the audit log (after the site closed). */
  close(): void;
}

/**
 * Opens the audit log and loads the Web API material a validated site configuration names; a
 * certificate that is not a device's, an unreadable file or an empty secret stop start-up naming
 * the field.
 * @example
 *   const opened = await openSiteRuntime(config);
 *   const site = await DeviceSite.start(config, opened.runtime);
 *   ... await site.close(); opened.close();
 */
export async function openSiteRuntime(config: SiteConfig, clock: Clock = systemClock): Promise<OpenedSiteRuntime> {
  const w = config.webApi;
  const material = w ? await loadTlsMaterial(w.tls) : undefined;
  const me = material?.credentials[0]?.identity;
  if (w && me && me.role !== 'device') {
    throw new ConfigError(explain('config.deviceCertIssuedTo', { file: w.tls.certFile, role: me.role, id: me.id, address: config.address }));
  }
  const clients = w ? w.clients.map((c, i) => ({ id: c.id, secret: readSecretFile(c.secretFile, `webApi.clients[${i}].secretFile`) })) : [];
  const audit = w || config.audit
    ? AuditLog.open({ dir: config.audit?.dir ?? 'audit', origin: config.audit?.origin ?? `erab/device-${config.address}/audit`, clock })
    : undefined;
  const runtime: SiteRuntimeOptions = {
    clock,
    ...(audit ? { audit } : {}),
    ...(w && material && audit ? {
      webApi: {
        material, clients, audit, port: w.port,
        allowList: w.gateways ? { participants: w.gateways.map((id) => `gateway:${id}`) } : { roles: ['gateway'] },
      },
    } : {}),
  };
  return { runtime, audit, close: () => audit?.close() };
}
