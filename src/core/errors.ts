/**
 * The project's error hierarchy. Every error erab throws on purpose is an ErabError,
 * so callers can tell "a peer sent us garbage" from "our own bug" from "policy said no".
 */

import { errorText, type ErrorKey, type ErrorParams } from './error-messages.js';

/**
 * A message an operator reads: a key of error-messages.ts and its placeholders' values. Thrown
 * errors keep its English text as `message`; the CLI and the console render the key in the
 * operator's language.
 */
export interface Explained {
  readonly key: ErrorKey;
  readonly params: ErrorParams;
  /** The English text (the error's `message`). */
  readonly text: string;
}

/**
 * A keyed message for an error's constructor.
 * @example throw new NotFoundError(explain('notFound.alert', { id })) // message 'alert 7: no such alert', key 'notFound.alert'
 */
export function explain(key: ErrorKey, params: ErrorParams = {}): Explained {
  return { key, params, text: errorText('en', key, params) ?? key };
}

/** One line under an error's message (a configuration problem), or a rule within one, in both languages. */
export interface ExplainedLine {
  readonly en: string;
  readonly ja: string;
}

/**
 * A keyed text in both languages, for a value that is itself text (the rule of a bad query
 * parameter, request.badQuery's `rule` and `ruleJa`).
 * @example inBoth('rule.givenTwice') // { en: 'given twice', ja: '二度指定されています' }
 */
export function inBoth(key: ErrorKey, params: ErrorParams = {}): ExplainedLine {
  return { en: errorText('en', key, params) ?? key, ja: errorText('ja', key, params) ?? key };
}

export interface ErabErrorOptions {
  cause?: unknown;
  /** Lines that belong to the message (e.g. one per configuration problem), in both languages. */
  details?: readonly ExplainedLine[];
}

/** Root of every intentional error in erab. `code` is a stable machine-readable tag. */
export class ErabError extends Error {
  readonly code: string;
  /** The operator-readable message's key (error-messages.ts), when it was thrown with one. */
  readonly key: ErrorKey | undefined;
  readonly params: ErrorParams | undefined;
  readonly details: readonly ExplainedLine[] | undefined;
  constructor(code: string, message: string | Explained, options?: ErabErrorOptions) {
    const explained = typeof message === 'string' ? undefined : message;
    const text = explained ? explained.text : (message as string);
    const details = options?.details;
    super(details?.length ? `${text}\n${details.map((d) => d.en).join('\n')}` : text, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.key = explained?.key;
    this.params = explained?.params;
    this.details = details;
  }
}

/** Bad input from outside: a peer's frame or payload, a file, a CLI argument. Never our bug. */
export class InvalidInputError extends ErabError {
  constructor(message: string | Explained, options?: ErabErrorOptions & { code?: string }) {
    super(options?.code ?? 'invalid_input', message, options);
  }
}

/** Configuration that fails validation; the message names the file, the field and the rule. */
export class ConfigError extends ErabError {
  constructor(message: string | Explained, options?: ErabErrorOptions) {
    super('invalid_config', message, options);
  }
}

/** The request was understood but a policy (command limits, allow-list, hours...) refuses it. */
export class PolicyRefusedError extends ErabError {
  constructor(message: string | Explained, options?: ErabErrorOptions & { code?: string }) {
    super(options?.code ?? 'policy_refused', message, options);
  }
}

/** The peer or operator is not who they must be (certificate, signature, allow-list). */
export class NotAuthorizedError extends ErabError {
  constructor(message: string | Explained, options?: ErabErrorOptions & { code?: string }) {
    super(options?.code ?? 'not_authorized', message, options);
  }
}

/** Tampering or corruption detected in data we own (audit log, store). Never silently repaired. */
export class IntegrityError extends ErabError {
  constructor(message: string | Explained, options?: ErabErrorOptions & { code?: string }) {
    super(options?.code ?? 'integrity', message, options);
  }
}

/** A condition that should be impossible: a bug in erab. */
export class InternalError extends ErabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('internal', message, options);
  }
}

/** A short human-readable description of any thrown value, for logs and CLI output (English). */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * The description of a cause, as the placeholders `why` (English) and `whyJa` of a message that
 * names it (an ErabError with a key is given in Japanese too; an OS error's text stays as it is).
 * @example explain('cli.cannotRead', { file, ...becauseOf(err) })
 */
export function becauseOf(err: unknown): { why: string; whyJa: string } {
  return { why: describeError(err), whyJa: describeInLanguage(err, 'ja') };
}

/**
 * The description of `err` in `lang`: a keyed ErabError in that language (with its detail lines),
 * anything else — or a key the language lacks — as describeError's English.
 * @example describeInLanguage(new NotFoundError(explain('notFound.alert', { id: 7 })), 'ja') // 'アラート 7 はありません'
 */
export function describeInLanguage(err: unknown, lang: 'en' | 'ja'): string {
  if (lang === 'en' || !(err instanceof ErabError) || !err.key) {
    if (lang === 'ja' && err instanceof ErabError && err.details?.length) return [err.message.split('\n')[0], ...err.details.map((d) => d.ja)].join('\n');
    return describeError(err);
  }
  const text = errorText(lang, err.key, err.params);
  if (text === undefined) return describeError(err);
  return [text, ...(err.details ?? []).map((d) => d[lang])].join('\n');
}
