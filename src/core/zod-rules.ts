/**
 * The rule a zod issue states, in English and Japanese: what a configuration check
 * (config.ts `configIssueLines`) and an operator API's request check (roles/common/operator-api.ts)
 * tell an operator. The English rule is the issue's own message; the Japanese one is zod's ja
 * locale, with the type names in Japanese (the ja locale leaves them in English), unless the
 * schema wrote its own rule (a refinement's message), which stays as written in both.
 *
 * @example issueRule(schema.safeParse(v, { reportInput: true }).error!.issues[0]!) // { en: 'Invalid input: expected string, received number', ja: '文字列を指定してください（数値が指定されています）' }
 */
import { z } from 'zod';
import type { ExplainedLine } from './errors.js';

const zodEn = z.locales.en();
const zodJa = z.locales.ja();

function localeText(locale: ReturnType<typeof z.locales.en>, issue: z.core.$ZodIssue): string | undefined {
  const out = locale.localeError(issue as never);
  return typeof out === 'string' ? out : out?.message;
}

/** zod's type names in Japanese (its ja locale leaves most of them in English). */
const JA_TYPE: Readonly<Record<string, string>> = {
  string: '文字列', number: '数値', int: '整数', boolean: '真偽値（true / false）', object: 'オブジェクト', array: '配列', null: 'null', bigint: '整数', date: '日時',
  nan: '数値でない値',
};

/**
 * The Japanese rule of a wrong or missing value (zod's ja text names the types in English);
 * needs the issue of a parse with `reportInput: true` (it names what was received).
 */
function jaTypeRule(issue: z.core.$ZodIssue): string | undefined {
  if (issue.code !== 'invalid_type') return undefined;
  const expected = JA_TYPE[String(issue.expected)] ?? String(issue.expected);
  if (!('input' in issue)) return undefined;
  const input: unknown = issue.input;
  if (input === undefined) return `必須の項目がありません（${expected}）`;
  const got = input === null ? 'null' : Array.isArray(input) ? 'array' : Number.isNaN(input) ? 'nan'
    : typeof input === 'number' && Number.isInteger(input) && issue.expected === 'int' ? 'int' : typeof input;
  return `${expected}を指定してください（${JA_TYPE[got] ?? got}が指定されています）`;
}

/** zod's ja text of a size rule names the value's type in English ("numberは1以上"): in Japanese here. */
function jaSizeRule(issue: z.core.$ZodIssue, text: string): string {
  if (issue.code !== 'too_small' && issue.code !== 'too_big') return text;
  const name = JA_TYPE[issue.origin];
  return name ? text.replace(`: ${issue.origin}は`, `: ${name}は`) : text;
}

/**
 * The rule one zod issue states, `{ en, ja }`. Parse with `reportInput: true` so a wrong type is
 * named in Japanese too; the input itself is never part of the rule.
 * @example issueRule(z.number().min(1).safeParse(0, { reportInput: true }).error!.issues[0]!) // { en: 'Too small: expected number to be >=1', ja: '小さすぎる値: 数値は1以上である必要があります' }
 */
export function issueRule(issue: z.core.$ZodIssue): ExplainedLine {
  const own = issue.message !== localeText(zodEn, issue);
  if (own) return { en: issue.message, ja: issue.message };
  const ja = jaTypeRule(issue) ?? jaSizeRule(issue, localeText(zodJa, issue) ?? issue.message);
  return { en: issue.message, ja };
}
