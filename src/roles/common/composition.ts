/**
 * How modules above the roles (secops: detection, vulnerability re-evaluation, incidents) attach
 * to a running role without the role importing them (layering: roles ← secops ← cli). The CLI
 * (or a test, the same way) passes `attach` functions; the role calls each once its store is open
 * with what it owns, and stops what they return when it stops (in reverse order).
 *
 * @example
 * startAggregator(cfg, { extraMigrations: detectMigrations, attach: [detection.attach] });
 */
import type { AuditSink } from '../../core/audit-port.js';
import type { Clock } from '../../core/clock.js';
import type { LogFn } from '../../core/logger.js';
import type { AuditLog } from '../../security/audit/log.js';
import type { Store } from '../../store/store.js';
import { OperatorRoutes, type OperatorRoute } from './operator-routes.js';

/** One closed-loop sample of an active event: what the fleet delivered against what was instructed. */
export interface DeliverySample {
  /** The event, `<party>/<eventID>`. */
  key: string;
  /** Time of the sample (the role's clock), epoch ms. */
  t: number;
  deliveredW: number;
  instructedW: number;
}

/** What a running role hands an attached module. */
export interface RoleContext {
  readonly role: 'aggregator' | 'tso' | 'retailer' | 'gateway';
  readonly id: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly store: Store<any>;
  /** Where the role audits (its log, or the sink a caller injected). */
  readonly audit: AuditSink;
  /** The role's tamper-evident log, when it has one (detection tails its directory). */
  readonly auditLog: AuditLog | undefined;
  readonly clock: Clock;
  readonly log: LogFn | undefined;
  /**
   * Subscribes to the closed loop's delivery samples (the aggregator's; a TSO has none).
   * @returns the unsubscribe
   */
  onDeliverySample(fn: (s: DeliverySample) => void): () => void;
}

/** What an attached module may give back. */
export interface RoleAttachment {
  /** A gateway's declared inventory changed (aggregator). */
  inventoryChanged?(gatewayId: string): void;
  /**
   * JSON routes served on the role's operator endpoint (the aggregator's console, the TSO/retailer
   * operator API), behind its mutual TLS and operator allow-list, each request audited with the
   * operator's certificate identity (operator-routes.ts).
   */
  routes?: readonly OperatorRoute[];
  stop?(): Promise<void> | void;
}

export type Attach = (ctx: RoleContext) => Promise<RoleAttachment | void> | RoleAttachment | void;

/** Fans the closed loop's samples out to the attached modules. */
export class DeliveryFeed {
  private readonly subscribers = new Set<(s: DeliverySample) => void>();
  get wanted(): boolean {
    return this.subscribers.size > 0;
  }
  subscribe(fn: (s: DeliverySample) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }
  publish(s: DeliverySample): void {
    for (const fn of this.subscribers) {
      try {
        fn(s);
      } catch {
        // One failing subscriber must not stop the closed loop or the others.
      }
    }
  }
}

/** The attachments of a role, together. */
export interface Attached {
  inventoryChanged(gatewayId: string): void;
  /** Every attachment's routes, for the operator endpoint. */
  readonly routes: OperatorRoutes;
  stop(): Promise<void>;
}

/**
 * Calls every `attach` in order; if one throws, the ones already attached are stopped and the
 * error is passed on (the role's start-up fails naming it).
 */
export async function attachAll(attach: readonly Attach[], ctx: RoleContext): Promise<Attached> {
  const done: RoleAttachment[] = [];
  const routes = new OperatorRoutes();
  const stop = async (): Promise<void> => {
    for (const a of done.splice(0).reverse()) await a.stop?.();
  };
  try {
    for (const fn of attach) {
      const a = await fn(ctx);
      if (!a) continue;
      done.push(a);
      for (const r of a.routes ?? []) routes.add(r);
    }
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  return {
    inventoryChanged(gatewayId) {
      for (const a of done) a.inventoryChanged?.(gatewayId);
    },
    routes,
    stop,
  };
}
