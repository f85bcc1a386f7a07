/**
 * Detection as a module attached to a running role (src/roles/common/composition.ts): the role
 * knows nothing of it; the CLI (`erab aggregator run`, `erab tso|retailer run`) and tests attach
 * it the same way. Reads the role's `detection` settings (data in its configuration), tails the
 * role's audit log and store, takes the closed loop's delivery samples, and delivers alerts to an
 * in-process inbox, the extra channels given, and e-mail/webhook when `notify` is configured.
 *
 * @example
 * const detection = detectionAttachment(cfg.detection);
 * const agg = await startAggregator(cfg, { extraMigrations: DETECTION_MIGRATIONS, attach: [detection.attach] });
 * await detection.running?.alerts.list({ status: 'open' });
 */
import type { Attach, RoleContext } from '../../roles/common/composition.js';
import type { DetectionConfig } from '../../roles/common/detection-config.js';
import type { Migration } from '../../store/migrations.js';
import { ConfigError, explain } from '../../core/errors.js';
import { configIssueLines } from '../../core/config.js';
import { createNotifier, notifyConfigSchema } from '../notify/config.js';
import { notifyMigrations } from '../notify/tables.js';
import { detectMigrations } from './alerts.js';
import { InProcessChannel, type AlertChannel } from './channels.js';
import { alertRecipients, NotifyAlertChannel } from './notify-channel.js';
import { loadRules } from './rules.js';
import { startDetection, type RunningDetection } from './service.js';

/** The tables detection (and its mail/webhook deliveries) keeps in the role's store. */
export const DETECTION_MIGRATIONS: readonly Migration[] = [...detectMigrations, ...notifyMigrations];

export interface DetectionAttachment {
  /** Pass to the role's `attach`. */
  readonly attach: Attach;
  /** The running detection once attached (undefined before, when disabled, or when the role has no audit log of its own). */
  readonly running: RunningDetection | undefined;
  /** Every alert delivered in this process (the console, status messages, tests). */
  readonly inbox: InProcessChannel;
}

export interface DetectionAttachOptions {
  /** More channels (e.g. the console); built with the role's context when a function. */
  channels?: readonly AlertChannel[] | ((ctx: RoleContext) => readonly AlertChannel[]);
  /** Where the notify settings read secrets from (SMTP password variable); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Read the gateway telemetry the role's store keeps (default true; a gateway's store has none). */
  telemetry?: boolean;
}

/** Detection for one role, from its `detection` settings. */
export function detectionAttachment(settings: DetectionConfig, o: DetectionAttachOptions = {}): DetectionAttachment {
  const inbox = new InProcessChannel();
  let running: RunningDetection | undefined;
  const attach: Attach = async (ctx) => {
    if (!settings.enabled) return;
    if (!ctx.auditLog) {
      ctx.log?.('detection not started: the role writes to an injected audit sink, not a log of its own', {}, 'warn');
      return;
    }
    // A broken override stops start-up naming the rule and the field (loadRules throws).
    const rules = loadRules({ ...(settings.rulesFile ? { file: settings.rulesFile } : {}), overrides: settings.overrides });
    const channels: AlertChannel[] = [inbox, ...(typeof o.channels === 'function' ? o.channels(ctx) : o.channels ?? [])];
    let notifier: ReturnType<typeof createNotifier> | undefined;
    if (settings.notify) {
      const parsed = notifyConfigSchema.safeParse(settings.notify, { reportInput: true });
      if (!parsed.success) throw new ConfigError(explain('config.sectionInvalid', { section: 'detection.notify' }), { details: configIssueLines(parsed.error.issues) });
      notifier = createNotifier(ctx.store, parsed.data, { audit: ctx.audit, clock: ctx.clock, ...(o.env ? { env: o.env } : {}) });
      channels.push(new NotifyAlertChannel(notifier, alertRecipients(ctx.store, settings.recipients), `${ctx.role}:${ctx.id}`));
      notifier.start(); // retries deliveries a failed attempt (or a crash) left pending
    }
    const d = await startDetection({
      store: ctx.store, auditLog: ctx.auditLog, audit: ctx.audit, rules, channels, clock: ctx.clock, pollMs: settings.pollMs,
      telemetry: o.telemetry ?? ctx.role !== 'gateway',
      ...(ctx.log ? { log: (m: string, f?: Record<string, unknown>) => ctx.log!(m, f, 'warn') } : {}),
    }).catch(async (err: unknown) => {
      await notifier?.stop();
      throw err;
    });
    running = d;
    const unsubscribe = ctx.onDeliverySample((s) => d.observe({ time: s.t, type: 'telemetry.delivery', target: s.key, value: s.deliveredW, reference: s.instructedW }));
    return {
      async stop() {
        unsubscribe();
        await d.stop();
        await notifier?.stop();
      },
    };
  };
  return { attach, get running() { return running; }, inbox };
}
