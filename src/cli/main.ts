/**
 * The `erab` command. Exit codes: 0 ok, 1 failure, 2 usage error.
 * Each command group lives in its own module under ./commands and registers itself.
 */
import { Command, CommanderError, Option } from 'commander';
import { errorText } from '../core/error-messages.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../core/logger.js';
import { setTlsLogger } from '../security/tls/material.js';
import { commandGroups } from './commands/index.js';
import { AuditLog } from '../security/audit/log.js';
import { checkReleaseIntegrity } from '../secops/updates/release.js';
import { UsageError } from './usage.js';
import { endQuietlyWhenStdoutCloses, failureLine } from './failure.js';
import { CLI_LANGUAGES, cliLanguage, currentLanguage, setCliLanguage } from './i18n.js';
import { ErabCommand } from './command.js';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return '0.0.0';
  }
}

/** Commands that start a role (a long-running participant): each checks erab's own files first. */
const ROLE_COMMANDS = new Set(['run', 'vtn', 'ven', 'demo', 'host', 'site']);

/**
 * 自家用GL 7-1: a role runs only the released code. Throws (the role does not start) when an
 * installed file differs from the signed release manifest, unless the audited override is set;
 * a development checkout without a manifest starts with a warning that nothing was checked.
 */
function verifyOwnCode(role: string): void {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const log = createLogger('integrity');
  const r = checkReleaseIntegrity(root, {
    role,
    // The override's record goes to its own tamper-evident log (the role's log is not open yet).
    audit: {
      append: (rec) => {
        const audit = AuditLog.open({ dir: process.env.ERAB_INTEGRITY_AUDIT_DIR || '.erab/integrity-audit', origin: 'erab/integrity/audit' });
        try { audit.append(rec); } finally { audit.close(); }
      },
    },
  });
  if (!r.checked) log.warn({ role }, r.reason);
  else if (r.overridden) log.warn({ role, modified: r.modified.slice(0, 20), reason: process.env.ERAB_ALLOW_MODIFIED_CODE_REASON }, 'MODIFIED CODE started under the audited override');
  else log.info({ role, version: r.version, files: r.files, signer: r.signer }, 'code integrity verified');
  log.flush?.();
}

/**
 * Every command takes `--lang ja|en` (main() reads it before parsing: cliLanguage). It is each
 * command's own option, not the program's: a program option would take `--lang` from the
 * commands that already have one with their own meaning (`erab incident report --lang`, the
 * report's language).
 */
function acceptLanguageOption(cmd: Command): void {
  // A group that runs an action of its own (`erab demo`) is a command too.
  const runs = cmd.commands.length === 0 || (cmd instanceof ErabCommand && cmd.runsItself);
  if (runs && !cmd.options.some((o) => o.long === '--lang')) {
    cmd.addOption(new Option('--lang <lang>', 'language of the messages and tables (default: ja when LANG=ja_JP*, else en)').choices([...CLI_LANGUAGES]));
  }
  for (const sub of cmd.commands) acceptLanguageOption(sub);
}

export function buildProgram(): Command {
  // ErabCommand: commander's own usage errors in the CLI's language (set before this is called).
  const program = new ErabCommand('erab')
    .description('Secure-by-design platform for Japan\'s Energy Resource Aggregation Business (VPP)')
    .version(packageVersion())
    .showHelpAfterError(errorText(currentLanguage(), 'cli.usage.helpHint')!)
    .configureHelp({ showGlobalOptions: true });
  for (const register of commandGroups) register(program);
  acceptLanguageOption(program);
  program.hook('preAction', (_cmd, action) => {
    if (ROLE_COMMANDS.has(action.name())) verifyOwnCode(`${action.parent?.name() ?? 'erab'} ${action.name()}`);
  });
  // Every sub-command turns usage problems into exit code 2 instead of commander's process.exit.
  const override = (cmd: Command): void => {
    cmd.exitOverride();
    for (const sub of cmd.commands) override(sub);
  };
  override(program);
  return program;
}

/** Runs the CLI with `argv` (as process.argv) and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  // CRL status and reloads of every TLS endpoint this command opens (created on first use).
  setTlsLogger(() => createLogger('tls'));
  endQuietlyWhenStdoutCloses();
  setCliLanguage(cliLanguage(argv.slice(2)));
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2; // commander printed the message (ErabCommand: in the CLI's language)
    }
    if (err instanceof UsageError) {
      process.stderr.write(`erab: ${failureLine(err)}\n`);
      return 2;
    }
    process.stderr.write(`erab: ${failureLine(err)}\n`);
    return 1;
  }
}
