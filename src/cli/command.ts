/**
 * erab's commands: commander's Command, with the usage errors commander detects itself (an unknown
 * option or command, a missing argument or value, a required option left out, too many arguments,
 * options that exclude each other, a value a parser or a list of choices refuses) printed in the
 * CLI's language as `erab: <message>`, exit code 2, like the usage errors erab detects itself.
 *
 * commander builds those messages in English inside the methods that detect each problem, from
 * the facts at hand (the flag, the option, the arguments); erab overrides those methods and
 * renders the same facts from its keys (error-messages.ts `cli.usage.*`), then leaves the output
 * and the exit to commander's `error()` (configureOutput, showHelpAfterError, exitOverride with
 * the CommanderError code all still apply). The methods are commander 14's; COMMANDER_SEAMS lists
 * them, and a test fails when an upgrade renames one.
 */
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { errorText, type ErrorKey, type ErrorParams } from '../core/error-messages.js';
import { currentLanguage } from './i18n.js';
import { OptionValueError } from './option-values.js';

/** The methods of commander's Command that ErabCommand replaces. */
export const COMMANDER_SEAMS = [
  'unknownOption', 'unknownCommand', 'missingArgument', 'optionMissingArgument', 'missingMandatoryOptionValue',
  '_conflictingOption', '_excessArguments', '_callParseArg',
] as const;

/** A keyed text in the CLI's language. */
function text(key: ErrorKey, params: ErrorParams = {}): string {
  return errorText(currentLanguage(), key, params) ?? errorText('en', key, params) ?? key;
}

/** Edit distance with transpositions (optimal string alignment): `--jsno` is one step from `--json`. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The names closest to a mistyped one (at most 3 edits away, and closer than a guess), as
 * commander suggests them: the nearest ones, sorted.
 * @example similarNames('--jsn', ['--json', '--lang']) // ['--json']
 */
export function similarNames(word: string, candidates: readonly string[]): string[] {
  const dashes = word.startsWith('--') ? '--' : '';
  const bare = (s: string) => (dashes && s.startsWith(dashes) ? s.slice(dashes.length) : s);
  const w = bare(word);
  let best = 3;
  let found: string[] = [];
  for (const c of new Set(candidates)) {
    const n = bare(c);
    if (n.length <= 1) continue;
    const distance = editDistance(w, n);
    const length = Math.max(w.length, n.length);
    if (distance > best || (length - distance) / length <= 0.4) continue;
    if (distance < best) {
      best = distance;
      found = [];
    }
    found.push(c);
  }
  return found.sort((a, b) => a.localeCompare(b));
}

/** A message followed by "did you mean …?" when there is something to suggest. */
function withSuggestion(message: string, names: string[]): string {
  if (names.length === 0) return message;
  return text(names.length === 1 ? 'cli.usage.didYouMean' : 'cli.usage.didYouMeanOneOf', { message, names: names.join(', ') });
}

/** Settings of commander's that decide whether a problem is one (they have no getters). */
interface CommanderFlags {
  _allowUnknownOption?: boolean;
  _allowExcessArguments?: boolean;
}

export class ErabCommand extends Command {
  /** Whether the command has an action of its own; a group may (`erab demo` runs the demo). */
  runsItself = false;

  override action(fn: Parameters<Command['action']>[0]): this {
    this.runsItself = true;
    return super.action(fn);
  }

  /** Sub-commands (`.command(name)`) are ErabCommands too. */
  override createCommand(name?: string): ErabCommand {
    return new ErabCommand(name);
  }

  /** `erab alerts rules`: the command as typed, from the program down. */
  commandPath(): string {
    const names: string[] = [];
    for (let c: Command | null = this; c; c = c.parent) names.unshift(c.name());
    return names.join(' ');
  }

  private usageError(key: ErrorKey, params: ErrorParams, code: string): never {
    this.error(`erab: ${text(key, params)}`, { code, exitCode: 2 });
  }

  unknownOption(flag: string): void {
    if ((this as unknown as CommanderFlags)._allowUnknownOption) return;
    const candidates: string[] = [];
    if (flag.startsWith('--')) {
      // The options of this command and of the commands above it (commander reads those too).
      for (let c: Command | null = this; c; c = c.parent) {
        for (const o of c.createHelp().visibleOptions(c)) if (o.long) candidates.push(o.long);
      }
    }
    this.error(`erab: ${withSuggestion(text('cli.usage.unknownOption', { flag }), similarNames(flag, candidates))}`, { code: 'commander.unknownOption', exitCode: 2 });
  }

  unknownCommand(): void {
    const name = this.args[0] ?? '';
    const candidates = this.createHelp().visibleCommands(this).flatMap((c) => [c.name(), ...(c.alias() ? [c.alias()] : [])]);
    this.error(`erab: ${withSuggestion(text('cli.usage.unknownCommand', { command: `${this.commandPath()} ${name}` }), similarNames(name, candidates))}`, { code: 'commander.unknownCommand', exitCode: 2 });
  }

  missingArgument(name: string): void {
    this.usageError('cli.usage.missingArgument', { name }, 'commander.missingArgument');
  }

  optionMissingArgument(option: Option): void {
    this.usageError('cli.usage.optionValueMissing', { flags: option.flags }, 'commander.optionMissingArgument');
  }

  missingMandatoryOptionValue(option: Option): void {
    this.usageError('cli.usage.optionRequired', { flags: option.flags }, 'commander.missingMandatoryOptionValue');
  }

  /** (commander also names an environment variable that set an option; no erab option reads one.) */
  _conflictingOption(option: Option, other: Option): void {
    this.usageError('cli.usage.conflictingOptions', { option: option.flags, other: other.flags }, 'commander.conflictingOption');
  }

  _excessArguments(received: string[]): void {
    if ((this as unknown as CommanderFlags)._allowExcessArguments) return;
    this.usageError('cli.usage.tooManyArguments', { command: this.commandPath(), expected: this.registeredArguments.length, got: received.length }, 'commander.excessArguments');
  }

  /** Runs an option's or argument's parser; a value it refuses is named with the rule it broke. */
  _callParseArg(target: Option | Argument, value: string, previous: unknown, _englishMessage: string): unknown {
    try {
      return target.parseArg!(value, previous);
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) throw err;
      const choices = target.argChoices;
      const why = err instanceof OptionValueError ? text(err.key, err.params)
        : choices && !choices.includes(value) ? text('cli.option.choices', { choices: choices.join(', ') })
          : err.message;
      if (target instanceof Argument) this.usageError('cli.usage.argumentValue', { name: target.name(), value, why }, err.code);
      this.usageError('cli.usage.optionValue', { flags: target.flags, value, why }, err.code);
    }
  }
}
