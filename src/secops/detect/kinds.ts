/**
 * The rule KINDS: the few evaluation patterns the data rules (./rules.ts) instantiate. Each keeps
 * its state per key (one source address, one device...) in a bounded map that can be saved as
 * JSON and loaded after a restart, so a pattern that straddles a restart is still seen and one
 * already reported is not reported again.
 *
 * Windows run on the observations' own times (not the wall clock), so re-reading the same records
 * gives the same result; only `absence` looks at the clock, since silence has no record.
 */
import { jstFields } from '../../core/jst.js';
import type { Observation } from './observation.js';
import type { Rule } from './rules.js';

/** A rule matched: the key it fired for and the observations that made it fire. */
export interface Firing {
  rule: Rule;
  key: string;
  time: number;
  evidence: Observation[];
  summary: string;
}

/** Which half of a sequence rule an observation matched (other kinds have one matcher: 'first'). */
export type MatchRole = 'first' | 'then' | 'both';

export interface KindEvaluator {
  observe(o: Observation, key: string, role: MatchRole): Firing | undefined;
  /** Called periodically with the clock's time (only absence does anything). */
  tick(now: number): Firing[];
  save(): unknown;
  load(state: unknown): void;
}

/** Keys kept per rule; the least recently added go first (a flood of new keys cannot exhaust memory). */
export const MAX_KEYS_PER_RULE = 10_000;
/** Evidence observations kept per key. */
export const MAX_EVIDENCE = 5;

class KeyedState<S> {
  readonly map = new Map<string, S>();
  get(key: string): S | undefined {
    return this.map.get(key);
  }
  set(key: string, s: S): void {
    if (!this.map.has(key) && this.map.size >= MAX_KEYS_PER_RULE) this.map.delete(this.map.keys().next().value as string);
    this.map.set(key, s);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
  save(): [string, S][] {
    return [...this.map];
  }
  load(state: unknown): void {
    this.map.clear();
    if (!Array.isArray(state)) return;
    for (const e of state) if (Array.isArray(e) && typeof e[0] === 'string') this.map.set(e[0], e[1] as S);
  }
}

function keepEvidence(list: Observation[], o: Observation): void {
  list.push(o);
  if (list.length > MAX_EVIDENCE) list.shift();
}

/** N matching observations for one key within a window. Fires at the Nth and starts counting again. */
class Threshold implements KindEvaluator {
  private readonly s = new KeyedState<{ t: number[]; ev: Observation[] }>();
  constructor(private readonly rule: Extract<Rule, { kind: 'threshold' }>) {}
  observe(o: Observation, key: string): Firing | undefined {
    const { count, windowMs } = this.rule.params;
    let st = this.s.get(key);
    if (!st) {
      st = { t: [], ev: [] };
      this.s.set(key, st);
    }
    st.t.push(o.time);
    if (st.t.length > count) st.t.shift();
    keepEvidence(st.ev, o);
    if (st.t.length < count || o.time - st.t[0]! > windowMs) return undefined;
    const evidence = st.ev;
    this.s.delete(key);
    return { rule: this.rule, key, time: o.time, evidence, summary: `${count} × ${o.type} for ${key} within ${Math.round((o.time - st.t[0]!) / 1000)} s (limit ${count} in ${windowMs / 1000} s)` };
  }
  tick(): Firing[] { return []; }
  save(): unknown { return this.s.save(); }
  load(state: unknown): void { this.s.load(state); }
}

/** A `then` observation for a key that had a `first` one within the window (a refused peer trying again). */
class Sequence implements KindEvaluator {
  private readonly s = new KeyedState<{ t: number; ev: Observation }>();
  constructor(private readonly rule: Extract<Rule, { kind: 'sequence' }>) {}
  observe(o: Observation, key: string, role: MatchRole): Firing | undefined {
    const st = this.s.get(key);
    let fired: Firing | undefined;
    if (role !== 'first' && st && o.time - st.t <= this.rule.params.windowMs && o.seq !== st.ev.seq) {
      fired = { rule: this.rule, key, time: o.time, evidence: [st.ev, o], summary: `${o.type} for ${key} after ${st.ev.type} ${Math.round((o.time - st.t) / 1000)} s earlier` };
    }
    if (role !== 'then' && (!st || o.time - st.t > this.rule.params.windowMs)) this.s.set(key, { t: o.time, ev: o });
    return fired;
  }
  tick(): Firing[] { return []; }
  save(): unknown { return this.s.save(); }
  load(state: unknown): void { this.s.load(state); }
}

/** A key seen before that has not been seen for `silenceMs` (a gateway gone silent). Fires once per silence. */
class Absence implements KindEvaluator {
  private readonly s = new KeyedState<{ t: number; fired: boolean; ev: Observation }>();
  constructor(private readonly rule: Extract<Rule, { kind: 'absence' }>) {}
  observe(o: Observation, key: string): Firing | undefined {
    const st = this.s.get(key);
    if (!st || o.time >= st.t) this.s.set(key, { t: o.time, fired: false, ev: o });
    return undefined;
  }
  tick(now: number): Firing[] {
    const out: Firing[] = [];
    for (const [key, st] of this.s.map) {
      if (st.fired || now - st.t <= this.rule.params.silenceMs) continue;
      st.fired = true;
      out.push({ rule: this.rule, key, time: now, evidence: [st.ev], summary: `nothing from ${key} for ${Math.round((now - st.t) / 1000)} s (last ${new Date(st.t).toISOString()}; limit ${this.rule.params.silenceMs / 1000} s)` });
    }
    return out;
  }
  save(): unknown { return this.s.save(); }
  load(state: unknown): void { this.s.load(state); }
}

/** A value that moved more than `maxDelta` between two samples at most `withinMs` apart. */
class Jump implements KindEvaluator {
  private readonly s = new KeyedState<{ t: number; v: number; ev: Observation }>();
  constructor(private readonly rule: Extract<Rule, { kind: 'jump' }>) {}
  observe(o: Observation, key: string): Firing | undefined {
    if (o.value === undefined || !Number.isFinite(o.value)) return undefined;
    const st = this.s.get(key);
    this.s.set(key, { t: o.time, v: o.value, ev: o });
    if (!st || o.time < st.t) return undefined;
    const { maxDelta, withinMs } = this.rule.params;
    const delta = o.value - st.v;
    if (Math.abs(delta) <= maxDelta || o.time - st.t > withinMs) return undefined;
    return { rule: this.rule, key, time: o.time, evidence: [st.ev, o], summary: `${o.type} of ${key} went from ${st.v} to ${o.value} in ${Math.round((o.time - st.t) / 1000)} s (more than ${maxDelta} within ${withinMs / 1000} s)` };
  }
  tick(): Firing[] { return []; }
  save(): unknown { return this.s.save(); }
  load(state: unknown): void { this.s.load(state); }
}

/** A value outside [min, max] during given hours of the day in Japan time (PV output at night). */
class Range implements KindEvaluator {
  constructor(private readonly rule: Extract<Rule, { kind: 'range' }>) {}
  observe(o: Observation, key: string): Firing | undefined {
    const v = o.value;
    if (v === undefined || !Number.isFinite(v)) return undefined;
    const { hoursJst, min, max } = this.rule.params;
    if ((min === undefined || v >= min) && (max === undefined || v <= max)) return undefined;
    const h = jstFields(o.time).hour;
    const inHours = hoursJst.from <= hoursJst.to ? h >= hoursJst.from && h < hoursJst.to : h >= hoursJst.from || h < hoursJst.to;
    if (!inHours) return undefined;
    return { rule: this.rule, key, time: o.time, evidence: [o], summary: `${o.type} of ${key} is ${v} at ${String(h).padStart(2, '0')}h JST (allowed ${min ?? '-∞'}..${max ?? '∞'} between ${hoursJst.from}h and ${hoursJst.to}h)` };
  }
  tick(): Firing[] { return []; }
  save(): unknown { return null; }
  load(): void {}
}

/** `consecutive` samples whose value is farther from their reference than fraction × |reference| + absolute. */
class Deviation implements KindEvaluator {
  private readonly s = new KeyedState<{ n: number; ev: Observation[] }>();
  constructor(private readonly rule: Extract<Rule, { kind: 'deviation' }>) {}
  observe(o: Observation, key: string): Firing | undefined {
    if (o.value === undefined || o.reference === undefined || !Number.isFinite(o.value) || !Number.isFinite(o.reference)) return undefined;
    const { fraction, absolute, consecutive } = this.rule.params;
    const allowed = fraction * Math.abs(o.reference) + absolute;
    const off = Math.abs(o.value - o.reference) > allowed;
    if (!off) {
      this.s.delete(key);
      return undefined;
    }
    const st = this.s.get(key) ?? { n: 0, ev: [] };
    st.n++;
    keepEvidence(st.ev, o);
    this.s.set(key, st);
    if (st.n < consecutive) return undefined;
    this.s.delete(key);
    return { rule: this.rule, key, time: o.time, evidence: st.ev, summary: `${key}: ${consecutive} samples in a row off the instruction (last ${o.value} against ${o.reference}, allowed ±${allowed})` };
  }
  tick(): Firing[] { return []; }
  save(): unknown { return this.s.save(); }
  load(state: unknown): void { this.s.load(state); }
}

export function evaluatorFor(rule: Rule): KindEvaluator {
  switch (rule.kind) {
    case 'threshold': return new Threshold(rule);
    case 'sequence': return new Sequence(rule);
    case 'absence': return new Absence(rule);
    case 'jump': return new Jump(rule);
    case 'range': return new Range(rule);
    case 'deviation': return new Deviation(rule);
  }
}
