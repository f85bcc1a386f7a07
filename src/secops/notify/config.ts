/**
 * The notification settings of a participant, one validated object (loadConfig: file < ERAB_*
 * environment), and the one way to build a Notifier from them. Secrets stay out of the file:
 * the SMTP password is read from the environment variable the file names.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { AuditSink } from '../../core/audit-port.js';
import type { Clock } from '../../core/clock.js';
import { ConfigError, describeError, explain } from '../../core/errors.js';
import { vaultFromEnvironment } from '../../store/vault.js';
import type { Store } from '../../store/store.js';
import type { NoticeChannel } from './channels/channel.js';
import { SmtpChannel } from './channels/smtp.js';
import { WebhookChannel } from './channels/webhook.js';
import { GatewayChannel, type GatewayNoticeBoard } from './gateway-board.js';
import { Notifier } from './notifier.js';

export const notifyConfigSchema = z.object({
  /** E-mail notices over SMTP with STARTTLS; absent = no e-mail channel. */
  smtp: z.object({
    /** The mail server. */
    host: z.string().min(1),
    /** Its submission port. */
    port: z.number().int().min(1).max(65535).default(587),
    /** Envelope and header From. */
    from: z.string().min(3).max(254),
    /** CA(s) of the mail server's certificate; default the system store. */
    caFile: z.string().min(1).optional(),
    /** Name checked against the certificate when `host` is an address. */
    servername: z.string().min(1).optional(),
    /** Login name, with `passwordEnv`. */
    user: z.string().min(1).optional(),
    /** Environment variable holding the SMTP password (never the password itself). */
    passwordEnv: z.string().regex(/^[A-Z_][A-Z0-9_]{0,63}$/, 'an environment variable name').optional(),
    /** Give up one delivery attempt after this long, ms. */
    timeoutMs: z.number().int().min(1000).max(300_000).default(30_000),
  }).strict().refine((s) => (s.user === undefined) === (s.passwordEnv === undefined), 'user and passwordEnv go together').optional(),
  /** HTTPS webhooks (recipients with a webhook URL). */
  webhook: z.object({
    /** CA(s) of receivers' certificates; default the system store. */
    caFile: z.string().min(1).optional(),
    /** Client certificate for receivers that require mutual TLS. */
    certFile: z.string().min(1).optional(),
    /** Key of `certFile`. */
    keyFile: z.string().min(1).optional(),
    /** Give up one delivery attempt after this long, ms. */
    timeoutMs: z.number().int().min(1000).max(300_000).default(15_000),
  }).strict().refine((w) => (w.certFile === undefined) === (w.keyFile === undefined), 'certFile and keyFile go together').prefault({}),
  /** Retries of failed deliveries: attempt n waits min(maxMs, baseMs·2^(n−1)). */
  retry: z.object({
    /** Wait before the first retry, ms. */
    baseMs: z.number().int().min(0).max(86_400_000).default(30_000),
    /** Longest wait between retries, ms. */
    maxMs: z.number().int().min(0).max(7 * 86_400_000).default(3_600_000),
    /** How often due retries are looked for, ms. */
    pollMs: z.number().int().min(100).max(3_600_000).default(5_000),
  }).strict().prefault({}),
  /** Deliveries in flight at once (every one carries the notice's one timestamp whatever its turn). */
  concurrency: z.number().int().min(1).max(1000).default(64),
}).strict();
export type NotifyConfigInput = z.input<typeof notifyConfigSchema>;
export type NotifyConfig = z.output<typeof notifyConfigSchema>;

function readFile(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(explain('config.fileUnreadable', { field, file: path, why: describeError(err) }));
  }
}

/** The channels `config` sets up: e-mail when `smtp` is given, webhooks always, gateways when a board is given. */
export function buildChannels(config: NotifyConfig, options: { board?: GatewayNoticeBoard; env?: NodeJS.ProcessEnv } = {}): NoticeChannel[] {
  const out: NoticeChannel[] = [];
  const s = config.smtp;
  if (s) {
    let auth: { user: string; pass: string } | undefined;
    if (s.user !== undefined && s.passwordEnv !== undefined) {
      const pass = (options.env ?? process.env)[s.passwordEnv];
      if (!pass) throw new ConfigError(explain('config.envNotSet', { field: 'notify.smtp.passwordEnv', name: s.passwordEnv }));
      auth = { user: s.user, pass };
    }
    out.push(new SmtpChannel({
      host: s.host, port: s.port, from: s.from, timeoutMs: s.timeoutMs,
      ...(s.caFile ? { caFile: s.caFile } : {}), ...(s.servername ? { servername: s.servername } : {}), ...(auth ? { auth } : {}),
    }));
  }
  const w = config.webhook;
  out.push(new WebhookChannel({
    timeoutMs: w.timeoutMs,
    ...(w.caFile ? { caPem: readFile(w.caFile, 'notify.webhook.caFile') } : {}),
    ...(w.certFile && w.keyFile ? { clientCert: { certPem: readFile(w.certFile, 'notify.webhook.certFile'), keyPem: readFile(w.keyFile, 'notify.webhook.keyFile') } } : {}),
  }));
  if (options.board) out.push(new GatewayChannel(options.board));
  return out;
}

/**
 * A Notifier with the channels and retry schedule of `config`.
 * @example const notifier = createNotifier(store, loadConfig(notifyConfigSchema, { file }), { audit, board });
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function createNotifier(store: Store<any>, config: NotifyConfig, deps: { audit?: AuditSink; clock?: Clock; board?: GatewayNoticeBoard; env?: NodeJS.ProcessEnv } = {}): Notifier {
  return new Notifier(store, {
    // Contacts and delivery addresses sealed with the key-encryption key the environment names.
    vault: vaultFromEnvironment(deps.env ?? process.env) ?? null,
    channels: buildChannels(config, { ...(deps.board ? { board: deps.board } : {}), ...(deps.env ? { env: deps.env } : {}) }),
    backoff: { baseMs: config.retry.baseMs, maxMs: config.retry.maxMs },
    pollMs: config.retry.pollMs,
    concurrency: config.concurrency,
    ...(deps.audit ? { audit: deps.audit } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
}
