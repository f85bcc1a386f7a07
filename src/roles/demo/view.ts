/**
 * The demo's live terminal view: target vs delivered per event as sparklines, event state,
 * participants and security refusals. `renderView` is pure (tested); `LiveView` redraws it on a
 * TTY and prints plain log lines instead when stdout is not a terminal.
 */
import { formatJst, jstClock } from '../../core/jst.js';

export interface PowerSample {
  /** Simulated time, epoch ms. */
  t: number;
  targetW: number;
  deliveredW: number | null;
}

export interface EventView {
  id: string;
  issuer: string;
  /** e.g. "reduce 60 kW (三次②)" */
  title: string;
  state: 'pending' | 'far' | 'near' | 'active' | 'completed' | 'cancelled' | 'refused';
  samples: PowerSample[];
}

export interface RefusalView {
  time: number;
  by: string;
  what: string;
  reason: string;
}

export interface DemoViewState {
  title: string;
  simTime: number | null;
  speed: number;
  participants: { name: string; state: string }[];
  events: EventView[];
  refusals: RefusalView[];
  notes: string[];
}

const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/** One character per value, scaled to [0, max]; null is a space. */
export function sparkline(values: (number | null)[], max: number): string {
  return values
    .map((v) => {
      if (v === null || !Number.isFinite(v)) return ' ';
      if (max <= 0) return BARS[0];
      const i = Math.round((Math.max(0, Math.min(v, max)) / max) * (BARS.length - 1));
      return BARS[i];
    })
    .join('');
}

const kw = (w: number | null): string => (w === null ? '   -  ' : `${(w / 1000).toFixed(1).padStart(6)}`);

/** JST wall clock: the grid business runs on Japan time. */
function hhmm(t: number): string {
  return jstClock(t);
}

/** Renders the whole dashboard as text lines, `width` columns wide. */
export function renderView(s: DemoViewState, width = 100): string {
  const lines: string[] = [];
  const clock = s.simTime === null ? '' : `  sim ${hhmm(s.simTime)} JST  x${s.speed}`;
  lines.push(`${s.title}${clock}`);
  const byState = new Map<string, number>();
  for (const p of s.participants) byState.set(p.state, (byState.get(p.state) ?? 0) + 1);
  lines.push(`participants: ${s.participants.length}  ${[...byState].map(([k, n]) => `${k} ${n}`).join('  ')}`);
  lines.push('');
  const chartWidth = Math.max(10, width - 24);
  for (const e of s.events) {
    const samples = e.samples.slice(-chartWidth);
    const last = samples[samples.length - 1];
    const max = Math.max(1, ...samples.map((x) => Math.max(Math.abs(x.targetW), Math.abs(x.deliveredW ?? 0))));
    const pct = last && last.deliveredW !== null && last.targetW !== 0 ? ` ${Math.round((last.deliveredW / last.targetW) * 100)}%` : '';
    lines.push(`[${e.state}] ${e.issuer} ${e.id}: ${e.title}${pct}`);
    lines.push(`  target    ${kw(last?.targetW ?? null)} kW |${sparkline(samples.map((x) => Math.abs(x.targetW)), max)}`);
    lines.push(`  delivered ${kw(last?.deliveredW ?? null)} kW |${sparkline(samples.map((x) => (x.deliveredW === null ? null : Math.abs(x.deliveredW))), max)}`);
  }
  if (s.events.length === 0) lines.push('(no events yet)');
  lines.push('');
  lines.push(`refusals: ${s.refusals.length}`);
  for (const r of s.refusals.slice(-6)) lines.push(`  ✗ ${r.by}: ${r.what} — ${r.reason}`.slice(0, width));
  for (const n of s.notes.slice(-4)) lines.push(`  · ${n}`.slice(0, width));
  return lines.join('\n');
}

/** Redraws in place on a TTY (at most every `intervalMs`); otherwise prints `log()` lines only. */
export class LiveView {
  private lastDraw = 0;
  private drawnLines = 0;
  constructor(
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly intervalMs = 250,
    /** True when the dashboard is drawn (a TTY), false for plain log lines. */
    readonly enabled = Boolean(out.isTTY),
  ) {}

  draw(state: DemoViewState, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    // A pseudo-terminal may report 0 columns: fall back to 100 rather than cutting every line.
    const text = renderView(state, this.out.columns || 100);
    const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F` : '';
    this.out.write(`${up}\x1b[J${text}\n`);
    this.drawnLines = text.split('\n').length;
  }

  /** A plain progress line; on a TTY the dashboard already shows it, so it is suppressed. */
  log(line: string): void {
    if (this.enabled) return;
    // Real time, as operators read it: JST with +09:00.
    this.out.write(`${formatJst(Date.now())} ${line}\n`);
  }
}
