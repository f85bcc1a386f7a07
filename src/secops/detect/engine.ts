/**
 * The rule engine: routes each observation to the rules that look at its type, checks their
 * conditions, and collects firings. Pure and synchronous (no I/O): ./service.ts feeds it from the
 * audit log and the telemetry store and persists its state.
 */
import { evaluatorFor, type Firing, type KindEvaluator, type MatchRole } from './kinds.js';
import type { Observation, ObservationField } from './observation.js';
import type { Rule, RuleMatch } from './rules.js';

type Predicate = (o: Observation) => boolean;

function compile(m: RuleMatch): Predicate {
  const checks: Predicate[] = [];
  for (const [f, c] of Object.entries(m.where ?? {})) {
    const field = f as ObservationField;
    if (!c) continue;
    if ('in' in c) {
      const set = new Set(c.in);
      checks.push((o) => set.has(o[field] as string));
    } else if ('eq' in c) {
      checks.push((o) => o[field] === c.eq);
    } else {
      checks.push((o) => typeof o[field] === 'string' && (o[field] as string).startsWith(c.prefix));
    }
  }
  if (checks.length === 0) return () => true;
  return (o) => {
    for (const c of checks) if (!c(o)) return false;
    return true;
  };
}

interface Route {
  rule: Rule;
  evaluator: KindEvaluator;
  role: MatchRole;
  accepts: Predicate;
  key: (o: Observation) => string;
}

function keyFn(fields: readonly ObservationField[]): (o: Observation) => string {
  if (fields.length === 1) {
    const f = fields[0]!;
    return (o) => (o[f] as string | undefined) ?? '?';
  }
  return (o) => fields.map((f) => (o[f] as string | undefined) ?? '?').join('|');
}

/**
 * @example
 * const engine = new DetectionEngine(loadRules());
 * for (const f of engine.observe(obs)) console.log(f.rule.id, f.key);
 */
export class DetectionEngine {
  private readonly routes = new Map<string, Route[]>();
  private readonly evaluators = new Map<string, KindEvaluator>();
  readonly rules: readonly Rule[];
  /** Observations evaluated since start. */
  evaluated = 0;
  /** Rules whose state changed since the last {@link takeDirty}. */
  private readonly dirty = new Set<string>();

  constructor(rules: readonly Rule[]) {
    this.rules = rules.filter((r) => r.enabled);
    for (const rule of this.rules) {
      const evaluator = evaluatorFor(rule);
      this.evaluators.set(rule.id, evaluator);
      const key = keyFn(rule.groupBy);
      const add = (m: RuleMatch, role: MatchRole): void => {
        const accepts = compile(m);
        for (const t of m.types) {
          const list = this.routes.get(t) ?? [];
          list.push({ rule, evaluator, role, accepts, key });
          this.routes.set(t, list);
        }
      };
      if (rule.kind === 'sequence') {
        if (JSON.stringify(rule.match) === JSON.stringify(rule.then)) add(rule.match, 'both');
        else {
          add(rule.match, 'first');
          add(rule.then, 'then');
        }
      } else add(rule.match, 'first');
    }
  }

  /** True when some enabled rule looks at this observation type (others need not even be parsed). */
  wants(type: string): boolean {
    return this.routes.has(type);
  }

  /** Evaluates one observation; returns the firings it caused (usually none). */
  observe(o: Observation, out: Firing[] = []): Firing[] {
    this.evaluated++;
    const routes = this.routes.get(o.type);
    if (!routes) return out;
    for (const r of routes) {
      if (!r.accepts(o)) continue;
      this.dirty.add(r.rule.id);
      const f = r.evaluator.observe(o, r.key(o), r.role);
      if (f) out.push(f);
    }
    return out;
  }

  /** Lets time-based rules (silence) look at the clock. */
  tick(now: number): Firing[] {
    const out: Firing[] = [];
    for (const [id, e] of this.evaluators) {
      const fired = e.tick(now);
      if (fired.length > 0) {
        this.dirty.add(id);
        out.push(...fired);
      }
    }
    return out;
  }

  /** Every rule's state, JSON-serialisable, by rule id. */
  saveState(): Record<string, unknown> {
    const s: Record<string, unknown> = {};
    for (const [id, e] of this.evaluators) s[id] = e.save();
    return s;
  }

  /** Restores what saveState returned (rules not in it start empty; unknown ids are ignored). */
  loadState(state: Record<string, unknown>): void {
    for (const [id, e] of this.evaluators) if (state[id] !== undefined) e.load(state[id]);
  }

  /** The state of each rule that changed since the last call (what needs persisting). */
  takeDirty(): Record<string, unknown> {
    const s: Record<string, unknown> = {};
    for (const id of this.dirty) s[id] = this.evaluators.get(id)?.save();
    this.dirty.clear();
    return s;
  }
}
