/**
 * Real receivers for the notification tests, on loopback: an SMTP server (smtp-server from npm)
 * that offers STARTTLS with a certificate from the test PKI and requires AUTH, and an HTTPS
 * webhook receiver (mutual TLS, erab's own listener) that checks the Standard Webhooks
 * signature with its own HMAC code, independent of the sender's.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { createMutualTlsServer } from '../../../src/security/tls.js';
import { MemoryAuditSink } from '../../../src/core/audit-port.js';
import { after, before } from 'node:test';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';

/** One mail as the SMTP server received it. */
export interface ReceivedMail {
  from: string;
  to: string[];
  /** STARTTLS was in force when the message was sent. */
  secure: boolean;
  user: string | undefined;
  headers: Map<string, string>;
  subject: string;
  body: string;
}

export interface SmtpReceiver {
  port: number;
  mails: ReceivedMail[];
  close(): Promise<void>;
}

export const SMTP_USER = 'erab-notify';
export const SMTP_PASS = 'Sm7p-pass-never-logged';

/** An SMTP server on 127.0.0.1 with STARTTLS (unless `noStartTls`) and AUTH PLAIN/LOGIN. */
export async function startSmtp(world: PkiWorld, name: string, opts: { noStartTls?: boolean; port?: number } = {}): Promise<SmtpReceiver> {
  const cert = world.get(name);
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    secure: false,
    key: cert.keyPem,
    cert: cert.certPem,
    // hideSTARTTLS alone still answers a STARTTLS nodemailer sends unasked (requireTLS).
    ...(opts.noStartTls ? { hideSTARTTLS: true, disabledCommands: ['STARTTLS'] } : {}),
    // Without STARTTLS smtp-server would refuse AUTH in clear text anyway; allow it so the
    // refusal we test is the client's (requireTLS), not the server's.
    allowInsecureAuth: opts.noStartTls ?? false,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASS) cb(null, { user: auth.username });
      else cb(new Error('invalid credentials'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          ...parseMail(Buffer.concat(chunks).toString('utf8')),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure,
          user: typeof session.user === 'string' ? session.user : undefined,
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Headers (unfolded, names lower-case), the decoded Subject and the decoded text body. */
function parseMail(raw: string): Pick<ReceivedMail, 'headers' | 'subject' | 'body'> {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers = new Map<string, string>();
  for (const l of head.split('\r\n')) {
    const i = l.indexOf(':');
    headers.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim());
  }
  const subject = (headers.get('subject') ?? '').replace(/=\?utf-8\?([bq])\?([^?]*)\?=\s*/gi, (_m, enc: string, text: string) =>
    enc.toLowerCase() === 'b' ? Buffer.from(text, 'base64').toString('utf8') : decodeQp(text.replace(/_/g, ' ')),
  );
  const bodyRaw = raw.slice(split + 4);
  const cte = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const body = cte === 'base64' ? Buffer.from(bodyRaw.replace(/\s+/g, ''), 'base64').toString('utf8') : cte === 'quoted-printable' ? decodeQp(bodyRaw.replace(/=\r\n/g, '')) : bodyRaw;
  return { headers, subject, body: body.replace(/\r\n/g, '\n').replace(/\n$/, '') };
}

function decodeQp(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '=' && /^[0-9A-F]{2}$/i.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** One POST as the webhook receiver got it. */
export interface ReceivedHook {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The signature matched the secret registered for the path. */
  signatureOk: boolean;
}

export interface WebhookReceiver {
  port: number;
  hooks: ReceivedHook[];
  close(): Promise<void>;
}

/**
 * A mutual-TLS HTTPS receiver that accepts `allowed` participants; `secrets` maps a path to its
 * whsec_ secret. Answers 204 when the signature matches, 401 otherwise.
 */
export async function startWebhookReceiver(world: PkiWorld, name: string, allowed: string[], secrets: Map<string, string>, port = 0): Promise<WebhookReceiver> {
  const hooks: ReceivedHook[] = [];
  const { server } = createMutualTlsServer(
    { material: await world.material(name), profile: 'console', audit: new MemoryAuditSink(), allowList: { participants: allowed } },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = req.url ?? '';
        const secret = secrets.get(path);
        const id = String(req.headers['webhook-id']);
        const ts = String(req.headers['webhook-timestamp']);
        let ok = false;
        if (secret) {
          const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
          const want = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest();
          const got = Buffer.from(String(req.headers['webhook-signature']).replace(/^v1,/, ''), 'base64');
          ok = got.length === want.length && timingSafeEqual(got, want) && Math.abs(Date.now() / 1000 - Number(ts)) < 300;
        }
        hooks.push({ path, headers: req.headers, body, signatureOk: ok });
        res.statusCode = ok ? 204 : 401;
        res.end();
      });
    },
  );
  const s = server as Server;
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (s.address() as AddressInfo).port,
    hooks,
    close: () => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); }),
  };
}

/** The PKI world and the two receivers a notification test file shares, live between its before and after. */
export interface NotifyServers {
  world: PkiWorld;
  smtp: SmtpReceiver;
  hooks: WebhookReceiver;
  /** Path → whsec_ secret, read by `hooks` as each POST arrives. */
  readonly secrets: Map<string, string>;
}

/**
 * Registers the test file's before/after: a PKI world with the aggregator AGG1 (`agg`), the SMTP
 * server's certificate (`mail`) and the webhook receiver's (`hook`, accepting AGG1), plus `extra`
 * participants; the SMTP server and the webhook receiver started on it, all closed after.
 * @example const servers = notifyServers('erab-notify-'); // in a test: servers.smtp.mails
 */
export function notifyServers(prefix: string, extra: Readonly<Record<string, string>> = {}): NotifyServers {
  const s = { secrets: new Map<string, string>() } as NotifyServers;
  before(async () => {
    s.world = await pkiWorld({ agg: 'aggregator:AGG1', mail: 'operator:MAIL1', hook: 'operator:HOOK1', ...extra }, { prefix });
    s.smtp = await startSmtp(s.world, 'mail');
    s.hooks = await startWebhookReceiver(s.world, 'hook', ['aggregator:AGG1'], s.secrets);
  });
  after(async () => {
    await s.smtp?.close();
    await s.hooks?.close();
    s.world?.close();
  });
  return s;
}
