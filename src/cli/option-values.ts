/**
 * The parsers of option values that several commands share (commander's argParser), and the
 * error they throw: the rule the value broke, keyed (error-messages.ts `cli.option.*`), which
 * the command (ErabCommand) prints in the CLI's language within "option '--x <n>' argument 'v'
 * is invalid: …", exit code 2.
 */
import { InvalidArgumentError } from 'commander';
import { errorText, type ErrorKey, type ErrorParams } from '../core/error-messages.js';

/** A value an option's parser refuses; its `message` is the English text of its key. */
export class OptionValueError extends InvalidArgumentError {
  readonly key: ErrorKey;
  readonly params: ErrorParams;
  constructor(key: ErrorKey, params: ErrorParams = {}) {
    super(errorText('en', key, params) ?? key);
    this.key = key;
    this.params = params;
  }
}

/** Decimal digits with an optional sign, or 0x and hex digits (ECHONET Lite codes are written so). */
function integerValue(v: string): number {
  if (/^-?\d{1,15}$/.test(v)) return Number(v);
  if (/^0x[0-9a-f]{1,12}$/i.test(v)) return Number.parseInt(v.slice(2), 16);
  return Number.NaN;
}

/** A decimal number as an operator writes it (not '', ' ', 'Infinity' or '1e3'). */
function numberValue(v: string): number {
  return /^-?(\d+(\.\d*)?|\.\d+)$/.test(v) ? Number(v) : Number.NaN;
}

/**
 * An integer from `min` to `max`.
 * @example .option('--sites <n>', 'homes', integerIn('--sites', 2, 5000), 20)
 */
export function integerIn(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = integerValue(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new OptionValueError('cli.option.integerRange', { name, min, max });
    return n;
  };
}

/** An integer ≥ `min` (e.g. a record index from 0). */
export function integerFrom(name: string, min: number): (v: string) => number {
  return (v) => {
    const n = integerValue(v);
    if (!Number.isSafeInteger(n) || n < min) throw new OptionValueError('cli.option.integerAtLeast', { name, min });
    return n;
  };
}

/** A number from `min` to `max`. */
export function numberIn(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = numberValue(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new OptionValueError('cli.option.numberRange', { name, min, max });
    return n;
  };
}

/** A number ≥ `min`. */
export function numberFrom(name: string, min: number): (v: string) => number {
  return (v) => {
    const n = numberValue(v);
    if (!Number.isFinite(n) || n < min) throw new OptionValueError('cli.option.numberAtLeast', { name, min });
    return n;
  };
}

/** A number > 0 (a speed, a duration, a power). */
export function positiveNumber(name: string): (v: string) => number {
  return (v) => {
    const n = numberValue(v);
    if (!Number.isFinite(n) || n <= 0) throw new OptionValueError('cli.option.positiveNumber', { name });
    return n;
  };
}

/**
 * `host:port`, an IPv6 host in brackets.
 * @example hostPort('--listen')('[::1]:8443') // { host: '::1', port: 8443 }
 */
export function hostPort(name: string): (v: string) => { host: string; port: number } {
  return (v) => {
    const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(v);
    if (!m || Number(m[2]) > 65535) throw new OptionValueError('cli.option.hostPort', { name });
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  };
}
