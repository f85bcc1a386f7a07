/**
 * Detection rules are data: a versioned file (./rules/detection-rules.json, shipped in the
 * package) lists each rule's id, severity, description (ja + en), the guideline item it serves,
 * what it matches and its thresholds; a small set of rule KINDS implemented in ./kinds.ts gives
 * them meaning. Operators tune thresholds (or disable a rule) through overrides in their
 * configuration, never by editing code.
 *
 * @example
 * const rules = loadRules({ overrides: { 'command-flood': { params: { count: 200 } } } });
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, explain } from '../../core/errors.js';
import { configIssueLines } from '../../core/config.js';
import { OBSERVATION_FIELDS } from './observation.js';
// Imported (not only read) so the compiler ships the file beside this module in dist/.
import shippedRules from './rules/detection-rules.json' with { type: 'json' };

/** The rule file shipped with erab. */
export const SHIPPED_RULES_FILE = new URL('./rules/detection-rules.json', import.meta.url);

const field = z.enum(OBSERVATION_FIELDS);
const condition = z.union([
  z.object({ in: z.array(z.string()).min(1) }).strict(),
  z.object({ eq: z.string() }).strict(),
  z.object({ prefix: z.string().min(1) }).strict(),
]);
const matchSchema = z.object({
  /** Observation types (audit actions, telemetry metrics) the rule looks at. */
  types: z.array(z.string().min(1)).min(1),
  /** Every condition must hold. */
  where: z.partialRecord(field, condition).optional(),
}).strict();
export type RuleMatch = z.output<typeof matchSchema>;

const ms = z.number().int().min(1).max(31 * 86_400_000);
const text = z.object({ ja: z.string().min(1), en: z.string().min(1) }).strict();

const common = {
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be 1-64 lowercase letters, digits and -'),
  severity: z.enum(['low', 'medium', 'high', 'critical']),
  /** The guideline items this rule serves, e.g. "ERAB §3.5 検知", "自家用GL 8-1-4". */
  guideline: z.array(z.string().min(1)).min(1),
  description: text,
  match: matchSchema,
  /** Fields whose values make the key an alert is raised for (one source, one device...). */
  groupBy: z.array(field).min(1).max(4),
  enabled: z.boolean().default(true),
  /** Firings of the same rule and key within this long raise one alert with a count. */
  dedupWindowMs: ms.default(600_000),
  /** New alerts per rule and hour delivered to channels; the rest are stored and counted. */
  maxAlertsPerHour: z.number().int().min(1).max(100_000).default(60),
};

export const thresholdParams = z.object({ count: z.number().int().min(1).max(1_000_000), windowMs: ms }).strict();
export const sequenceParams = z.object({ windowMs: ms }).strict();
export const absenceParams = z.object({ silenceMs: ms }).strict();
export const jumpParams = z.object({ maxDelta: z.number().positive(), withinMs: ms }).strict();
export const rangeParams = z.object({
  /** Hours of the day in Japan time [from, to); from > to wraps over midnight (19 → 5 = night). */
  hoursJst: z.object({ from: z.number().int().min(0).max(23), to: z.number().int().min(0).max(24) }).strict(),
  min: z.number().optional(),
  max: z.number().optional(),
}).strict().refine((p) => p.min !== undefined || p.max !== undefined, 'give min or max');
export const deviationParams = z.object({
  /** Allowed deviation: fraction × |reference| + absolute. */
  fraction: z.number().min(0).max(10),
  absolute: z.number().min(0),
  /** Consecutive samples out of band before the rule fires. */
  consecutive: z.number().int().min(1).max(1000),
}).strict();

export const ruleSchema = z.discriminatedUnion('kind', [
  z.object({ ...common, kind: z.literal('threshold'), params: thresholdParams }).strict(),
  z.object({ ...common, kind: z.literal('sequence'), then: matchSchema, params: sequenceParams }).strict(),
  z.object({ ...common, kind: z.literal('absence'), params: absenceParams }).strict(),
  z.object({ ...common, kind: z.literal('jump'), params: jumpParams }).strict(),
  z.object({ ...common, kind: z.literal('range'), params: rangeParams }).strict(),
  z.object({ ...common, kind: z.literal('deviation'), params: deviationParams }).strict(),
]);
export type Rule = z.output<typeof ruleSchema>;
export type RuleKind = Rule['kind'];

export const ruleFileSchema = z.object({
  version: z.literal(1),
  rules: z.array(ruleSchema).min(1),
}).strict().superRefine((f, ctx) => {
  const ids = new Set<string>();
  f.rules.forEach((r, i) => {
    if (ids.has(r.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id "${r.id}"` });
    ids.add(r.id);
  });
});

/** What an operator may change per rule in configuration. */
export const ruleOverrideSchema = z.object({
  enabled: z.boolean().optional(),
  severity: z.enum(['low', 'medium', 'high', 'critical']).optional(),
  dedupWindowMs: ms.optional(),
  maxAlertsPerHour: z.number().int().min(1).max(100_000).optional(),
  params: z.record(z.string(), z.unknown()).optional(),
}).strict();
export const ruleOverridesSchema = z.record(z.string(), ruleOverrideSchema);
export type RuleOverrides = z.output<typeof ruleOverridesSchema>;

/** Parses a rule file's content; throws ConfigError naming the file, the field and the rule broken. */
export function parseRules(json: unknown, file = '(built in)'): Rule[] {
  const r = ruleFileSchema.safeParse(json, { reportInput: true });
  if (!r.success) throw new ConfigError(explain('config.rulesInvalid', { file }), { details: configIssueLines(r.error.issues) });
  return r.data.rules;
}

/**
 * The rules to run: the shipped file (or `file`), with the operator's overrides applied and
 * checked again (an override that breaks a rule stops start-up naming the rule and field).
 */
export function loadRules(opts: { file?: string | URL; overrides?: RuleOverrides | Record<string, Record<string, unknown>> } = {}): Rule[] {
  const file = opts.file ?? SHIPPED_RULES_FILE;
  let json: unknown = shippedRules;
  if (opts.file !== undefined) {
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(explain('config.rulesUnreadable', { file: String(file), why: (err as Error).message }), { cause: err });
    }
  }
  const rules = parseRules(json, String(file));
  const o = ruleOverridesSchema.safeParse(opts.overrides ?? {}, { reportInput: true });
  if (!o.success) throw new ConfigError(explain('config.overridesInvalid'), { details: configIssueLines(o.error.issues) });
  return applyOverrides(rules, o.data);
}

export function applyOverrides(rules: readonly Rule[], overrides: RuleOverrides): Rule[] {
  const known = new Set(rules.map((r) => r.id));
  for (const id of Object.keys(overrides)) {
    if (!known.has(id)) throw new ConfigError(explain('config.unknownRule', { id, known: [...known].join(', ') }));
  }
  return rules.map((rule) => {
    const o = overrides[rule.id];
    if (!o) return rule;
    const merged = { ...rule, ...o, params: { ...rule.params, ...(o.params ?? {}) } };
    const r = ruleSchema.safeParse(merged, { reportInput: true });
    if (!r.success) throw new ConfigError(explain('config.overrideInvalid', { id: rule.id }), { details: configIssueLines(r.error.issues) });
    return r.data;
  });
}
