/**
 * E-mail over SMTP with nodemailer. STARTTLS is required (a server that does not offer it is
 * refused, so a notice never crosses the network in clear text), the server certificate is
 * verified against the configured CA and host name, and credentials never reach a log.
 */
import { readFileSync } from 'node:fs';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { ConfigError, describeError, explain } from '../../../core/errors.js';
import type { Contact } from '../types.js';
import type { NoticeChannel, NoticeMessage } from './channel.js';

export interface SmtpChannelOptions {
  host: string;
  /** Default 587 (submission). */
  port?: number;
  /** Envelope and header From. */
  from: string;
  /** PEM file of the CA(s) that sign the server's certificate; default the system store. */
  caFile?: string;
  /** SMTP AUTH; sent only after STARTTLS. */
  auth?: { user: string; pass: string };
  /** Name checked against the server certificate when `host` is an address. */
  servername?: string;
  /** Per-connection timeout, ms; default 30 000. */
  timeoutMs?: number;
}

/** Sends a notice as a plain-text e-mail, one per recipient (recipients never see each other). */
export class SmtpChannel implements NoticeChannel {
  readonly kind = 'email' as const;
  private readonly transport: Transporter<SMTPTransport.SentMessageInfo>;
  private readonly from: string;
  private readonly where: string;

  constructor(options: SmtpChannelOptions) {
    if (!options.host) throw new ConfigError(explain('config.required', { field: 'notify.smtp.host' }));
    if (!options.from) throw new ConfigError(explain('config.required', { field: 'notify.smtp.from' }));
    let ca: string | undefined;
    if (options.caFile) {
      try {
        ca = readFileSync(options.caFile, 'utf8');
      } catch (err) {
        throw new ConfigError(explain('config.fileUnreadable', { field: 'notify.smtp.caFile', file: options.caFile, why: describeError(err) }));
      }
    }
    const port = options.port ?? 587;
    this.where = `smtp://${options.host}:${port}`;
    this.from = options.from;
    const timeout = options.timeoutMs ?? 30_000;
    this.transport = nodemailer.createTransport({
      host: options.host,
      port,
      secure: false,
      requireTLS: true, // STARTTLS or nothing
      ...(options.auth ? { auth: { user: options.auth.user, pass: options.auth.pass } } : {}),
      tls: {
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        ...(ca ? { ca } : {}),
        ...(options.servername ? { servername: options.servername } : {}),
      },
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      logger: false, // nodemailer's logger would print the AUTH exchange
      debug: false,
    });
  }

  address(contact: Contact): string | undefined {
    return contact.channels.email;
  }

  async send(m: NoticeMessage): Promise<void> {
    const to = m.contact.channels.email;
    if (!to) throw new ConfigError(explain('notify.noEmail', { id: m.contact.id }));
    try {
      await this.transport.sendMail({
        from: this.from,
        to,
        subject: m.rendered.subject,
        text: m.rendered.text,
        // The notice's one timestamp, the same in every recipient's mail.
        date: new Date(m.notice.issuedAt),
        messageId: `<${m.deliveryId}@erab.notice>`,
        headers: {
          'Content-Language': m.rendered.language,
          'X-Erab-Notice-Id': m.notice.id,
          'X-Erab-Notice-Time': new Date(m.notice.issuedAt).toISOString(),
        },
      });
    } catch (err) {
      // nodemailer's messages carry the server's reply, never the password.
      throw new Error(`${this.where}: mail to ${to} not accepted: ${describeError(err)}`, { cause: err });
    }
  }

  close(): void {
    this.transport.close();
  }
}
