/**
 * `erab config ...`: every role's configuration file, checked the way the role itself loads it.
 *
 *   erab config roles
 *   erab config check <role> --config <file> [--json]
 *
 * `check` loads the file as the role does (defaults < file < environment, unknown keys refused)
 * and prints the effective configuration with every default filled in; an invalid file exits 1
 * with a message naming the file, the field and the rule. The reference of every field is in
 * docs/config/<role>.md (generated from the same schemas).
 */
import { Argument, type Command } from 'commander';
import { loadConfig } from '../../core/config.js';
import { CONFIG_ROLES, ROLE_CONFIG_SCHEMAS, type ConfigRole } from '../config-schemas.js';

export function register(program: Command): void {
  const config = program.command('config').description('role configuration files: list the roles, check a file (reference: docs/config/)');

  config.command('roles')
    .description('list the configurable roles and the commands that read their files')
    .action(() => {
      for (const role of CONFIG_ROLES) {
        const r = ROLE_CONFIG_SCHEMAS[role];
        process.stdout.write(`${role.padEnd(11)} ${r.title}\n${' '.repeat(12)}read by: ${r.usedBy}; reference: docs/config/${role}.md\n`);
      }
    });

  config.command('check')
    .description('validate a configuration file as the role loads it and print it with every default filled in')
    .addArgument(new Argument('<role>', 'whose configuration').choices(CONFIG_ROLES))
    .requiredOption('--config <file>', 'JSON configuration file')
    .action((role: ConfigRole, opts: { config: string }) => {
      const r = ROLE_CONFIG_SCHEMAS[role];
      const effective = r.envPrefix === null
        ? loadConfig(r.schema, { file: opts.config, env: {} })
        : loadConfig(r.schema, { file: opts.config, envPrefix: r.envPrefix });
      process.stdout.write(`${JSON.stringify(effective, null, 2)}\n`);
    });
}
