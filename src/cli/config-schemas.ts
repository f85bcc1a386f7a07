/**
 * Every role's configuration schema in one list, for `erab config check|schema` and for the
 * configuration reference in docs/config (generated from these by scripts/gen-config-docs.mjs).
 * `source` names the file and the exported const that declares the schema, so the generator can
 * take each field's description from its JSDoc comment.
 */
import type { z } from 'zod';
import { aggregatorConfigSchema } from '../roles/aggregator/runtime/config.js';
import { tsoConfigSchema } from '../roles/tso/config.js';
import { gatewayConfigSchema } from '../roles/gateway/gateway.js';
import { SiteConfigSchema } from '../roles/device/site.js';
import { notifyConfigSchema } from '../secops/notify/config.js';

export interface RoleConfigSchema {
  /** What the file configures, one line. */
  title: string;
  /** The command that reads such a file. */
  usedBy: string;
  schema: z.ZodType;
  /** Repository path and exported const of the schema (for its JSDoc). */
  source: { file: string; name: string };
  /** Prefix of the environment variables the role reads over the file (core/config.ts); null = none. */
  envPrefix: string | null;
}

export const ROLE_CONFIG_SCHEMAS = {
  tso: {
    title: 'TSO simple dispatch system (簡易指令システム) or retailer: the OpenADR 2.0b VTN for contracted aggregators',
    usedBy: 'erab tso run --config <file>, erab retailer run --config <file> (kind: "retailer")',
    schema: tsoConfigSchema,
    source: { file: 'src/roles/tso/config.ts', name: 'tsoConfigSchema' },
    envPrefix: 'ERAB_',
  },
  aggregator: {
    title: 'Aggregator: VEN towards TSOs, retailers and coordinators, VTN towards gateways, dispatch engine',
    usedBy: 'erab aggregator run --config <file>',
    schema: aggregatorConfigSchema,
    source: { file: 'src/roles/aggregator/runtime/config.ts', name: 'aggregatorConfigSchema' },
    envPrefix: 'ERAB_',
  },
  gateway: {
    title: 'Gateway (HEMS/BEMS): VEN towards the aggregator, ECHONET Lite controller towards the devices',
    usedBy: 'erab gateway run --config <file>, erab gateway check --config <file>',
    schema: gatewayConfigSchema,
    source: { file: 'src/roles/gateway/gateway.ts', name: 'gatewayConfigSchema' },
    envPrefix: 'ERAB_',
  },
  site: {
    title: 'Simulated home: ECHONET Lite device nodes with simple physics (device role)',
    usedBy: 'erab device site --config <file> (command-line flags override it)',
    schema: SiteConfigSchema,
    source: { file: 'src/roles/device/site.ts', name: 'SiteConfigSchema' },
    envPrefix: null,
  },
  notify: {
    title: 'Simultaneous notification of vulnerability notices (SMTP, webhooks)',
    usedBy: 'erab notify … --config <file>',
    schema: notifyConfigSchema,
    source: { file: 'src/secops/notify/config.ts', name: 'notifyConfigSchema' },
    envPrefix: 'ERAB_NOTIFY_',
  },
} satisfies Record<string, RoleConfigSchema>;

export type ConfigRole = keyof typeof ROLE_CONFIG_SCHEMAS;
export const CONFIG_ROLES = Object.keys(ROLE_CONFIG_SCHEMAS) as ConfigRole[];
