/**
 * Where alerts go. `AlertChannel` is the port: the notification channels (SMTP, webhook; built in
 * src/secops/notify) implement it as well as the two here, which need no network: an in-process
 * list (the operator console and API read it; tests subscribe to it) and the console (one line
 * per alert on a stream).
 */
import type { Writable } from 'node:stream';
import type { Alert } from './alerts.js';

export interface DeliveryResult {
  ok: boolean;
  /** Why it failed, in words (never a secret). */
  error?: string | undefined;
}

export interface AlertChannel {
  /** Shown in the alert's delivery record, e.g. "console", "smtp:soc@example.jp". */
  readonly name?: string;
  deliver(alert: Alert): Promise<DeliveryResult>;
}

/**
 * Keeps the latest alerts in memory and tells subscribers.
 * @example
 * const inbox = new InProcessChannel();
 * inbox.subscribe((a) => console.log(a.ruleId));
 */
export class InProcessChannel implements AlertChannel {
  readonly name = 'in-process';
  readonly received: Alert[] = [];
  private readonly listeners = new Set<(a: Alert) => void>();
  constructor(private readonly keep = 1000) {}
  subscribe(fn: (a: Alert) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  async deliver(alert: Alert): Promise<DeliveryResult> {
    this.received.push(alert);
    if (this.received.length > this.keep) this.received.shift();
    for (const l of this.listeners) {
      try {
        l(alert);
      } catch {
        // A failing listener must not stop the others or the delivery.
      }
    }
    return { ok: true };
  }
}

/** One readable line per alert (the language of the operator's choice). */
export function formatAlert(a: Alert, lang: 'ja' | 'en' = 'en'): string {
  const when = new Date(a.lastAt).toISOString();
  const count = a.count > 1 ? ` ×${a.count}` : '';
  const ack = a.status === 'acknowledged' ? ` [ack ${a.ackedBy ?? '?'}]` : '';
  return `#${a.id} ${a.severity.toUpperCase()} ${a.ruleId} key=${a.key}${count} ${when}${ack}: ${a.description[lang]} — ${a.summary} (${a.guideline.join(', ')}; ${a.evidence.length} evidence)`;
}

/** Writes each alert as one line to a stream (default stderr). */
export class ConsoleChannel implements AlertChannel {
  readonly name = 'console';
  constructor(private readonly out: Writable = process.stderr, private readonly lang: 'ja' | 'en' = 'en') {}
  async deliver(alert: Alert): Promise<DeliveryResult> {
    this.out.write(`ALERT ${formatAlert(alert, this.lang)}\n`);
    return { ok: true };
  }
}

/** Delivers one alert to every channel (each bounded by `timeoutMs`); never throws. */
export async function deliverToChannels(alert: Alert, channels: readonly AlertChannel[], now: () => number, timeoutMs = 10_000): Promise<Alert['deliveries']> {
  return Promise.all(channels.map(async (c, i) => {
    const channel = c.name ?? `channel-${i}`;
    let timer: NodeJS.Timeout | undefined;
    try {
      const r = await Promise.race([
        c.deliver(alert),
        new Promise<DeliveryResult>((resolve) => { timer = setTimeout(() => resolve({ ok: false, error: `no answer within ${timeoutMs} ms` }), timeoutMs); }),
      ]);
      return { channel, ok: r.ok, ...(r.error !== undefined ? { error: r.error.slice(0, 300) } : {}), at: now() };
    } catch (err) {
      return { channel, ok: false, error: String((err as Error)?.message ?? err).slice(0, 300), at: now() };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }));
}
