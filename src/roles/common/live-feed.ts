/**
 * Live updates for the operator console as server-sent events: deltas, never the world.
 *
 * A feed watches a few collections (events, gateways, commands...), each a function answering
 * `id → value`. While somebody listens it compares them with what it sent last, every
 * `intervalMs` and at once after an operator's action (`poke()`), and sends one SSE message per
 * changed item: `event: <kind>` with `{"op":"upsert","id":...,"value":...}` or
 * `{"op":"remove","id":...}`. A new listener gets `event: hello` and the deltas from then on; it
 * reads the current state from the paginated lists first.
 *
 * @example
 * const feed = new LiveFeed({ event: () => new Map(agg.status().events.map((e) => [e.key, e])) }, 1000);
 * feed.subscribe(res); // res: the ServerResponse of GET /api/events/stream
 */
import type { ServerResponse } from 'node:http';

export type LiveSource = () => ReadonlyMap<string, unknown>;

const KEEPALIVE_MS = 15_000;

export class LiveFeed {
  private readonly listeners = new Set<ServerResponse>();
  private last = new Map<string, Map<string, string>>();
  private timer: NodeJS.Timeout | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private seq = 0;

  constructor(private readonly sources: Readonly<Record<string, LiveSource>>, private readonly intervalMs: number) {}

  get listening(): number {
    return this.listeners.size;
  }

  /** Answers `res` as an event stream until the client goes away. */
  subscribe(res: ServerResponse, hello: Record<string, unknown> = {}): void {
    if (this.listeners.size === 0) {
      this.last = this.snapshot(); // the baseline: only what changes from now on is sent
      this.timer = setInterval(() => this.poke(), this.intervalMs);
      this.keepalive = setInterval(() => { for (const l of this.listeners) l.write(': keep-alive\n\n'); }, KEEPALIVE_MS);
      this.timer.unref();
      this.keepalive.unref();
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`event: hello\ndata: ${JSON.stringify({ ...hello, kinds: Object.keys(this.sources) })}\n\n`);
    this.listeners.add(res);
    res.on('close', () => {
      this.listeners.delete(res);
      if (this.listeners.size === 0) this.stop();
    });
  }

  /** Compares now and sends what changed (called on a timer, and after an action). */
  poke(): void {
    if (this.listeners.size === 0) return;
    const now = this.snapshot();
    let out = '';
    for (const [kind, items] of now) {
      const before = this.last.get(kind) ?? new Map<string, string>();
      for (const [id, text] of items) {
        if (before.get(id) !== text) out += `id: ${++this.seq}\nevent: ${kind}\ndata: {"op":"upsert","id":${JSON.stringify(id)},"value":${text}}\n\n`;
      }
      for (const id of before.keys()) {
        if (!items.has(id)) out += `id: ${++this.seq}\nevent: ${kind}\ndata: {"op":"remove","id":${JSON.stringify(id)}}\n\n`;
      }
    }
    this.last = now;
    if (out) for (const l of this.listeners) l.write(out);
  }

  /** Ends every stream (the listener closes). */
  close(): void {
    for (const l of this.listeners) l.end();
    this.listeners.clear();
    this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    clearInterval(this.keepalive);
    this.timer = undefined;
    this.keepalive = undefined;
  }

  private snapshot(): Map<string, Map<string, string>> {
    const out = new Map<string, Map<string, string>>();
    for (const [kind, source] of Object.entries(this.sources)) {
      out.set(kind, new Map([...source()].map(([id, v]) => [id, JSON.stringify(v)])));
    }
    return out;
  }
}
