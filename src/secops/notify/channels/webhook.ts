/**
 * Signed webhooks, as the Standard Webhooks specification (standardwebhooks.com) defines them:
 * headers `webhook-id` (stable across retries, so the receiver can drop duplicates),
 * `webhook-timestamp` (seconds of this attempt, for replay protection) and `webhook-signature`
 * (`v1,` + base64 HMAC-SHA256 over `${id}.${timestamp}.${body}` with the contact's `whsec_`
 * secret). POST over HTTPS only, the server certificate verified against the configured CA.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { request } from 'node:https';
import { systemClock, type Clock } from '../../../core/clock.js';
import { ConfigError, InvalidInputError, NotAuthorizedError, explain } from '../../../core/errors.js';
import { webhookSecretKey } from '../contacts.js';
import type { Contact } from '../types.js';
import type { NoticeChannel, NoticeMessage } from './channel.js';

/** The body erab POSTs: the notice's one timestamp and its text for this recipient. */
export interface WebhookNoticeBody {
  type: 'erab.notice';
  /** ISO 8601 UTC; the notice's issue time, the same for every recipient. */
  timestamp: string;
  data: {
    noticeId: string;
    template: string;
    subject: string | null;
    language: string;
    title: string;
    text: string;
    recipient: { participantId: string; siteId: string | null; role: string };
    content: Record<string, unknown>;
  };
}

export interface WebhookChannelOptions {
  /** PEM of the CA(s) that sign receivers' certificates; default the system store. */
  caPem?: string | string[];
  /** A client certificate to present (receivers that require mutual TLS). */
  clientCert?: { certPem: string; keyPem: string };
  /** Per-request timeout, ms; default 15 000. */
  timeoutMs?: number;
  clock?: Clock;
}

/** Signs `body` for a webhook: the three Standard Webhooks headers. */
export function signWebhook(secret: string, id: string, timestampS: number, body: string): Record<string, string> {
  const sig = createHmac('sha256', webhookSecretKey(secret)).update(`${id}.${timestampS}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(timestampS), 'webhook-signature': `v1,${sig}` };
}

/**
 * Checks a received webhook (for receivers written with erab, and the tests): a `v1` signature
 * matches and the timestamp is within `toleranceS` of now (default 300 s, the spec's).
 * @throws NotAuthorizedError naming the rule broken
 */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  options: { toleranceS?: number; now?: number } = {},
): void {
  const h = (n: string): string => {
    const v = headers[n];
    if (typeof v !== 'string' || v === '') throw new NotAuthorizedError(`webhook: header ${n} is missing`);
    return v;
  };
  const id = h('webhook-id');
  const ts = h('webhook-timestamp');
  if (!/^\d{1,12}$/.test(ts)) throw new InvalidInputError('webhook: webhook-timestamp must be integer seconds');
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(now - Number(ts)) > (options.toleranceS ?? 300)) throw new NotAuthorizedError('webhook: webhook-timestamp is outside the tolerance (replay?)');
  const expected = Buffer.from(signWebhook(secret, id, Number(ts), body)['webhook-signature']!.slice(3), 'base64');
  for (const part of h('webhook-signature').split(' ')) {
    const [version, sig] = part.split(',', 2);
    if (version !== 'v1' || !sig) continue;
    const got = Buffer.from(sig, 'base64');
    if (got.length === expected.length && timingSafeEqual(got, expected)) return;
  }
  throw new NotAuthorizedError('webhook: no v1 signature matches the body');
}

const MAX_RESPONSE = 64 * 1024;

/** POSTs a signed notice to the contact's webhook; a 2xx answer is a delivery. */
export class WebhookChannel implements NoticeChannel {
  readonly kind = 'webhook' as const;
  private readonly clock: Clock;

  constructor(private readonly options: WebhookChannelOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  address(contact: Contact): string | undefined {
    const url = contact.channels.webhook?.url;
    if (!url) return undefined;
    const u = new URL(url);
    return `${u.origin}${u.pathname}`; // a query may carry a token: not recorded
  }

  async send(m: NoticeMessage): Promise<void> {
    const hook = m.contact.channels.webhook;
    if (!hook) throw new ConfigError(explain('notify.noWebhook', { id: m.contact.id }));
    const url = new URL(hook.url);
    if (url.protocol !== 'https:') throw new ConfigError(explain('notify.httpsOnly', { url: hook.url }));
    const body: WebhookNoticeBody = {
      type: 'erab.notice',
      timestamp: new Date(m.notice.issuedAt).toISOString(),
      data: {
        noticeId: m.notice.id,
        template: m.notice.template,
        subject: m.notice.subject ?? null,
        language: m.rendered.language,
        title: m.rendered.subject,
        text: m.rendered.text,
        recipient: { participantId: m.contact.participantId, siteId: m.contact.siteId ?? null, role: m.contact.role },
        content: { ...m.notice.data },
      },
    };
    const text = JSON.stringify(body);
    const headers = {
      ...signWebhook(hook.secret, m.deliveryId, Math.floor(this.clock.now() / 1000), text),
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
    };
    const o = this.options;
    await new Promise<void>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          headers,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
          ...(o.caPem ? { ca: o.caPem } : {}),
          ...(o.clientCert ? { cert: o.clientCert.certPem, key: o.clientCert.keyPem } : {}),
          timeout: o.timeoutMs ?? 15_000,
          agent: false,
        },
        (res) => {
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_RESPONSE) res.destroy(new Error(`response larger than ${MAX_RESPONSE} bytes`));
          });
          res.on('error', (err) => reject(new Error(`webhook ${url.origin}${url.pathname}: ${err.message}`)));
          res.on('end', () => {
            const s = res.statusCode ?? 0;
            if (s >= 200 && s < 300) resolve();
            else reject(new Error(`webhook ${url.origin}${url.pathname} answered HTTP ${s}`));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => reject(new Error(`webhook ${url.origin}${url.pathname}: ${err.message}`, { cause: err })));
      req.end(text);
    });
  }
}
