/**
 * The CLI's language: Japanese or English, through i18next. `--lang ja|en` wins, then the
 * POSIX locale variables in their order of precedence (LC_ALL, LC_MESSAGES, LANG: `ja_JP.UTF-8`
 * → Japanese); English otherwise. Times an operator reads are JST, ISO 8601 with +09:00, in both.
 */
import i18next, { type i18n } from 'i18next';
import { formatJst } from '../core/jst.js';
import { en } from './locales/en.js';
import { ja } from './locales/ja.js';

export const CLI_LANGUAGES = ['en', 'ja'] as const;
export type CliLanguage = (typeof CLI_LANGUAGES)[number];

/**
 * The language asked for by the command line or the environment.
 * @example cliLanguage(['node', 'erab', 'alerts', 'list', '--lang', 'ja'], {}) // 'ja'
 */
export function cliLanguage(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CliLanguage {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    const v = a === '--lang' ? argv[i + 1] : a.startsWith('--lang=') ? a.slice(7) : undefined;
    if (v !== undefined) return v.toLowerCase().startsWith('ja') ? 'ja' : 'en';
  }
  // POSIX: the first of these that is set and not empty decides.
  const locale = [env.LC_ALL, env.LC_MESSAGES, env.LANG].find((v) => v !== undefined && v !== '') ?? '';
  return /^ja(_|-|\.|$)/i.test(locale) ? 'ja' : 'en';
}

let instance: i18n | undefined;

function make(lng: CliLanguage): i18n {
  const t = i18next.createInstance();
  // initAsync is false: resources are in memory, init completes before it returns.
  void t.init({ lng, fallbackLng: 'en', resources: { en: { translation: en }, ja: { translation: ja } }, initAsync: false, interpolation: { escapeValue: false } });
  return t;
}

/** Sets the language of every message printed from now on (main() calls it from argv). */
export function setCliLanguage(lng: CliLanguage): void {
  instance = make(lng);
}

/** The language in use. */
export function currentLanguage(): CliLanguage {
  return (instance?.language as CliLanguage | undefined) ?? cliLanguage([], process.env);
}

/**
 * One message in the current language.
 * @example t('aggregator.held', { id, why }) // 'command … held: …'
 */
export function t(key: string, vars: Record<string, string | number> = {}): string {
  instance ??= make(cliLanguage([], process.env));
  return instance.t(key, vars) as string;
}

/** An instant as operators read it: JST, ISO 8601 with +09:00; '–' when unknown. */
export function jstTime(ms: number | null | undefined): string {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? '–' : formatJst(ms);
}

/** Watts as kW with one decimal; '–' when unknown. */
export function kw(w: number | null | undefined): string {
  return w === null || w === undefined || !Number.isFinite(w) ? '–' : (w / 1000).toFixed(1);
}
