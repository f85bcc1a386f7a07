/**
 * Active/standby for a role over one PostgreSQL store (ERAB §3.5 事業継続): the process waits
 * here until it holds the role's leader lease, then serves; when it loses the lease (another
 * process took over after a pause, or the database could not be reached for a whole lease
 * period) it must stop serving at once, since two active aggregators would dispatch twice.
 */
import { openStore, type Store } from '../../store/store.js';
import { LeaderLease, leaseMigrations, type LeaseHolder } from '../../store/lease.js';

export interface StandbyOptions {
  storeUrl: string;
  /** The lease's name, one per role instance (e.g. `aggregator:AGG1`). */
  name: string;
  ttlMs: number;
  /** Told while waiting: who holds the lease now (undefined: nobody, or expired). */
  onWaiting?: (holder: LeaseHolder | undefined) => void;
  /** Told once the lease is lost: the caller stops serving. */
  onLost: (reason: string) => void;
  onError?: (err: unknown) => void;
}

export interface HeldLease {
  readonly epoch: number;
  readonly holder: string;
  /** Gives the lease up (a clean stop: the standby need not wait for the expiry). */
  release(): Promise<void>;
}

/**
 * Resolves once this process holds the lease, or undefined when `cancelled` resolves first.
 * @example const held = await holdLease({ storeUrl, name: 'aggregator:AGG1', ttlMs: 10_000, onLost: () => process.exit(75) }, stopped);
 */
export async function holdLease(o: StandbyOptions, cancelled: Promise<unknown>): Promise<HeldLease | undefined> {
  const store: Store = await openStore({ url: o.storeUrl, migrations: leaseMigrations, ignoreUnknownMigrations: true });
  let acquired!: (epoch: number) => void;
  const got = new Promise<number>((resolve) => { acquired = resolve; });
  const lease = new LeaderLease(store, {
    name: o.name, ttlMs: o.ttlMs,
    onAcquired: (epoch) => acquired(epoch),
    onLost: (reason) => o.onLost(reason),
    ...(o.onError ? { onError: o.onError } : {}),
  });
  lease.start();
  let waiting: NodeJS.Timeout | undefined;
  if (o.onWaiting) {
    // Told when the holder changes, not every round: a standby may wait for months.
    let told: string | undefined;
    const tell = (): void => {
      void lease.current().then((h) => {
        const live = h && h.expiresAt > Date.now() ? h : undefined;
        const key = live ? `${live.holder}#${live.epoch}` : '';
        if (lease.isHolder || key === told) return;
        told = key;
        o.onWaiting?.(live);
      }, () => {});
    };
    // Not at once: the first attempt may still be under way and win.
    waiting = setInterval(tell, Math.max(1000, o.ttlMs));
  }
  const release = async (): Promise<void> => {
    clearInterval(waiting);
    await lease.stop();
    await store.close();
  };
  const epoch = await Promise.race([got, cancelled.then(() => undefined)]);
  clearInterval(waiting);
  if (epoch === undefined) {
    await release();
    return undefined;
  }
  return { epoch, holder: lease.holder, release };
}
