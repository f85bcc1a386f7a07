/**
 * Device admission (connection control): the gateway controls only devices an operator admitted.
 *
 * 自家用電気工作物 cybersecurity guideline 6-2-4 asks that only permitted devices connect; ECHONET
 * Lite (R5) has no authentication of its own in most homes, so the compensating control is an
 * allow-list keyed by what the device says it is: identification number (EPC 0x83 of the node
 * profile), maker code (0x8A), product code (0x8C) and serial number (0x8D).
 *
 * - A device seen for the first time is `pending`: reported to the aggregator, read for
 *   telemetry, never sent a Set. An entry of the configured allow-list is admitted at first sight.
 * - The operator admits or rejects it through the aggregator. The decision travels as a signed
 *   OpenADR event (so it passes the command guard like any command) with the signal
 *   `x-ERAB_DEVICE_ADMISSION` / `level` targeting the device's resourceID: value = the record's
 *   revision to admit (the revision the operator saw in the inventory, so an identity that
 *   changed in between is not admitted by accident), value 0 = reject.
 * - A device whose identity changed — a different identity answering at the same address and
 *   object instance, or the same identification number with a different maker, product or
 *   serial — is `quarantined`: not controlled, reported, until the operator admits the new
 *   identity or rejects it.
 * Every transition is written to the audit log. Records persist in an AdmissionStore.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import type { EpochMillis } from '../../core/units.js';
import type { AuditSink } from '../../security/audit/types.js';
import { isWebApiAddress } from '../../protocols/echonet/webapi/client.js';
import type { DeviceClass } from './types.js';
import type { AdmissionStateName } from '../common/admission-signal.js';

/** The signal name of an admission decision sent by the aggregator (see header); shared with the aggregator. */
export { ADMISSION_SIGNAL_NAME } from '../common/admission-signal.js';

/** What a device says it is. Codes as upper-case hex without 0x; texts as decoded ASCII. */
export interface DeviceIdentity {
  /** Node profile 0x83 identification number, hex (e.g. "FE00007B..."). */
  identificationNumber?: string | undefined;
  /** 0x8A maker code, 3 bytes hex (e.g. "00007B"). */
  makerCode: string;
  /** 0x8C product code (ASCII, trailing spaces/NULs trimmed). */
  productCode?: string | undefined;
  /** 0x8D serial number (ASCII, trimmed). */
  serialNumber?: string | undefined;
}

/** A device as the ECHONET Lite controller discovered it. */
export interface ObservedDevice {
  /** IP address of the node. */
  address: string;
  /** Object: class group + class + instance, 6 hex digits (e.g. "027D01"). */
  eoj: string;
  class: DeviceClass;
  identity: DeviceIdentity;
}

export type AdmissionState = AdmissionStateName;

/** How the gateway reaches a device: ECHONET Lite over UDP on the home LAN, or the ECHONET Lite Web API (HTTPS, mutual TLS). */
export type DeviceTransport = 'echonet-lite-udp' | 'echonet-lite-web-api';

/**
 * The transport of a device, told by its pinned address: a Web API node is pinned to its
 * https:// base URL, a UDP node to its IP address. The address is the one fact the gateway
 * acts on (src/roles/gateway/echonet-site.ts picks the client by it), so a separate field could
 * only disagree with it; records written before the Web API existed need no migration.
 */
export function deviceTransport(record: { address: string }): DeviceTransport {
  return isWebApiAddress(record.address) ? 'echonet-lite-web-api' : 'echonet-lite-udp';
}

export interface DeviceRecord {
  /** Stable device id = OpenADR resourceID: `<eoj>-<10 hex of SHA-256 of the identity key>`. */
  deviceId: string;
  class: DeviceClass;
  eoj: string;
  address: string;
  /** The identity as first seen (pending) or as admitted. */
  identity: DeviceIdentity;
  /** When quarantined: the identity that was observed instead. */
  observedIdentity?: DeviceIdentity | undefined;
  state: AdmissionState;
  /** Increments on every change of state or identity; an admission names the revision it admits. */
  revision: number;
  firstSeen: EpochMillis;
  lastSeen: EpochMillis;
  reason?: string | undefined;
  decidedBy?: string | undefined;
}

/** Where records live: SQLite in the running gateway, memory in tests. */
export interface AdmissionStore {
  load(): DeviceRecord[];
  save(record: DeviceRecord): void;
}

export class MemoryAdmissionStore implements AdmissionStore {
  readonly records = new Map<string, DeviceRecord>();
  load(): DeviceRecord[] {
    return [...this.records.values()].map((r) => structuredClone(r));
  }
  save(record: DeviceRecord): void {
    this.records.set(record.deviceId, structuredClone(record));
  }
}

/** An allow-list entry of the configuration; fields left out match anything. */
export interface AllowListEntry {
  identificationNumber?: string | undefined;
  makerCode?: string | undefined;
  productCode?: string | undefined;
  serialNumber?: string | undefined;
  eoj?: string | undefined;
}

/** The key that names a device independently of its address (0x83, else maker/product/serial). */
export function identityKey(id: DeviceIdentity): string {
  if (id.identificationNumber) return `id:${id.identificationNumber.toUpperCase()}`;
  return `mps:${id.makerCode.toUpperCase()}/${id.productCode ?? ''}/${id.serialNumber ?? ''}`;
}

/** True when two identities are the same device (all four fields equal, case-insensitive hex). */
export function sameIdentity(a: DeviceIdentity, b: DeviceIdentity): boolean {
  const n = (s: string | undefined) => (s ?? '').toUpperCase();
  return n(a.identificationNumber) === n(b.identificationNumber) && n(a.makerCode) === n(b.makerCode)
    && (a.productCode ?? '') === (b.productCode ?? '') && (a.serialNumber ?? '') === (b.serialNumber ?? '');
}

/** The stable device id of an object of a node with this identity. */
export function deviceIdOf(eoj: string, id: DeviceIdentity): string {
  const h = createHash('sha256').update(identityKey(id)).digest('hex').slice(0, 10);
  return `${eoj.toUpperCase()}-${h}`;
}

function matchesEntry(e: AllowListEntry, eoj: string, id: DeviceIdentity): boolean {
  const eq = (want: string | undefined, got: string | undefined, hex: boolean) =>
    want === undefined || (hex ? want.toUpperCase() === (got ?? '').toUpperCase() : want === (got ?? ''));
  const specific = e.identificationNumber !== undefined || e.serialNumber !== undefined;
  return specific && eq(e.identificationNumber, id.identificationNumber, true) && eq(e.makerCode, id.makerCode, true)
    && eq(e.productCode, id.productCode, false) && eq(e.serialNumber, id.serialNumber, false) && eq(e.eoj, eoj, true);
}

export interface ObserveResult {
  record: DeviceRecord;
  /** What changed with this observation. */
  change: 'none' | 'new' | 'moved' | 'quarantined' | 'conflict';
}

/**
 * The admission registry of one gateway.
 * @example
 *   const reg = new AdmissionRegistry(store, clock, audit, { allowList: [] });
 *   const { record } = reg.observe({ address: '127.0.0.2', eoj: '027D01', class: 'battery', identity });
 *   reg.isControllable(record.deviceId); // false: pending until reg.admit(record.deviceId, record.revision, 'op:alice')
 */
export class AdmissionRegistry {
  private readonly byId = new Map<string, DeviceRecord>();

  constructor(
    private readonly store: AdmissionStore,
    private readonly clock: Clock,
    private readonly audit: AuditSink,
    private readonly options: { allowList?: readonly AllowListEntry[] | undefined } = {},
  ) {
    for (const r of store.load()) this.byId.set(r.deviceId, r);
  }

  /** Every known record (a copy). */
  list(): DeviceRecord[] {
    return [...this.byId.values()].map((r) => structuredClone(r));
  }

  get(deviceId: string): DeviceRecord | undefined {
    const r = this.byId.get(deviceId);
    return r ? structuredClone(r) : undefined;
  }

  /**
   * The operator confirms that an admitted device really moved (e.g. a new DHCP lease): its pin
   * becomes `address`. Recorded in the audit log as the operator's decision.
   */
  repin(deviceId: string, revision: number, address: string, by: string, reason?: string): { ok: true; record: DeviceRecord } | { ok: false; reason: string } {
    const r = this.byId.get(deviceId);
    if (!r) return this.refusedDecision(deviceId, 'repin', by, 'unknown device');
    if (r.revision !== revision) return this.refusedDecision(deviceId, 'repin', by, `revision ${revision} is stale (now ${r.revision})`);
    const from = r.address;
    r.address = address;
    r.revision += 1;
    this.store.save(r);
    this.audit.append({ actor: { kind: 'operator', id: by }, action: 'gateway.device.repinned', target: deviceId, outcome: 'success', ...(reason ? { reason } : {}), details: { from, to: address } });
    return { ok: true, record: structuredClone(r) };
  }

  /** Only admitted devices are ever sent a command. */
  isControllable(deviceId: string): boolean {
    return this.byId.get(deviceId)?.state === 'admitted';
  }

  /** Registers a discovery or a re-read of a device; returns its record and what changed. */
  observe(dev: ObservedDevice): ObserveResult {
    const now = this.clock.now();
    const eoj = dev.eoj.toUpperCase();
    const key = identityKey(dev.identity);
    const records = [...this.byId.values()].filter((r) => r.eoj === eoj);
    const byKey = records.find((r) => identityKey(r.identity) === key || (r.observedIdentity && identityKey(r.observedIdentity) === key && r.state === 'quarantined'));
    const bySlot = records.find((r) => r.address === dev.address && r.state !== 'rejected');

    if (byKey) {
      if (byKey.state === 'quarantined') {
        byKey.lastSeen = now;
        this.store.save(byKey);
        return { record: structuredClone(byKey), change: 'none' };
      }
      if (!sameIdentity(byKey.identity, dev.identity)) {
        return this.quarantine(byKey, dev, `identification number ${dev.identity.identificationNumber ?? '?'} now reports maker ${dev.identity.makerCode}, product ${dev.identity.productCode ?? '?'}, serial ${dev.identity.serialNumber ?? '?'} (was ${describeIdentity(byKey.identity)})`);
      }
      const moved = byKey.address !== dev.address;
      if (moved && byKey.state === 'admitted') {
        // Protected R5: an admitted device is pinned to the address it was admitted at. ECHONET
        // Lite has no authentication, so the same identity from another source is a clone or a
        // spoofed node until the operator decides otherwise; the pin stays, nothing is moved.
        byKey.lastSeen = now;
        this.store.save(byKey);
        this.audit.append({
          actor: { kind: 'system', id: 'gateway.admission' }, action: 'gateway.security.source_changed', target: byKey.deviceId,
          outcome: 'refused',
          reason: `${describeIdentity(dev.identity)} ${eoj} answered from ${dev.address}, but the admitted device is pinned to ${byKey.address}: a duplicate identity or a spoofed source; ignored`,
          details: { pinned: byKey.address, observed: dev.address, eoj },
        });
        return { record: structuredClone(byKey), change: 'conflict' };
      }
      const previous = byKey.address;
      byKey.address = dev.address;
      byKey.lastSeen = now;
      this.store.save(byKey);
      if (moved) {
        this.audit.append({
          actor: { kind: 'system', id: 'gateway.admission' }, action: 'gateway.device.moved', target: byKey.deviceId,
          outcome: 'success', details: { from: previous, to: dev.address },
        });
      }
      return { record: structuredClone(byKey), change: moved ? 'moved' : 'none' };
    }

    if (bySlot) {
      return this.quarantine(bySlot, dev, `a different device answers at ${dev.address} ${eoj}: ${describeIdentity(dev.identity)} instead of ${describeIdentity(bySlot.identity)}`);
    }

    const allowed = (this.options.allowList ?? []).some((e) => matchesEntry(e, eoj, dev.identity));
    const record: DeviceRecord = {
      deviceId: deviceIdOf(eoj, dev.identity),
      class: dev.class,
      eoj,
      address: dev.address,
      identity: structuredClone(dev.identity),
      state: allowed ? 'admitted' : 'pending',
      revision: 1,
      firstSeen: now,
      lastSeen: now,
      reason: allowed ? 'on the configured allow-list' : 'newly discovered; awaiting the operator',
      decidedBy: allowed ? 'allow-list' : undefined,
    };
    this.byId.set(record.deviceId, record);
    this.store.save(record);
    this.audit.append({
      actor: { kind: 'system', id: 'gateway.admission' }, action: 'gateway.device.discovered', target: record.deviceId,
      outcome: 'success', reason: record.reason,
      details: { state: record.state, address: dev.address, eoj, class: dev.class, identity: dev.identity },
    });
    return { record: structuredClone(record), change: 'new' };
  }

  /**
   * Admits a device (pending, quarantined or rejected) at the revision the operator saw. For a
   * quarantined device, the newly observed identity becomes its admitted identity.
   * Returns the updated record, or a reason for refusing.
   */
  admit(deviceId: string, revision: number, by: string): { ok: true; record: DeviceRecord } | { ok: false; reason: string } {
    const r = this.byId.get(deviceId);
    if (!r) return this.refusedDecision(deviceId, 'admit', by, 'unknown device');
    if (r.revision !== revision) {
      return this.refusedDecision(deviceId, 'admit', by, `the decision names revision ${revision}, the device is at revision ${r.revision} (its record changed since the operator saw it)`);
    }
    if (r.state === 'admitted') return { ok: true, record: structuredClone(r) };
    if (r.observedIdentity) {
      r.identity = r.observedIdentity;
      r.observedIdentity = undefined;
    }
    r.state = 'admitted';
    r.revision += 1;
    r.decidedBy = by;
    r.reason = 'admitted by the operator';
    this.store.save(r);
    this.audit.append({
      actor: { kind: 'operator', id: by }, action: 'gateway.device.admitted', target: deviceId, outcome: 'success',
      details: { identity: r.identity, revision: r.revision },
    });
    return { ok: true, record: structuredClone(r) };
  }

  /** Rejects a device: it stays known (so it is not "new" again) and is never controlled. */
  reject(deviceId: string, by: string): { ok: true; record: DeviceRecord } | { ok: false; reason: string } {
    const r = this.byId.get(deviceId);
    if (!r) return this.refusedDecision(deviceId, 'reject', by, 'unknown device');
    r.state = 'rejected';
    r.revision += 1;
    r.decidedBy = by;
    r.reason = 'rejected by the operator';
    this.store.save(r);
    this.audit.append({ actor: { kind: 'operator', id: by }, action: 'gateway.device.rejected', target: deviceId, outcome: 'success' });
    return { ok: true, record: structuredClone(r) };
  }

  /**
   * The operator quarantines a device (an incident playbook: a device suspected of compromise):
   * not controlled from now on, until the operator admits it again at its new revision.
   * Audited as the operator's decision. Returns the record, or undefined for an unknown device.
   */
  quarantineByOperator(deviceId: string, by: string, reason: string): DeviceRecord | undefined {
    const r = this.byId.get(deviceId);
    if (!r) return undefined;
    if (r.state !== 'quarantined') {
      r.state = 'quarantined';
      r.observedIdentity = structuredClone(r.identity);
      r.revision += 1;
      r.reason = `quarantined by the operator: ${reason}`;
      r.decidedBy = by;
      this.store.save(r);
    }
    this.audit.append({ actor: { kind: 'operator', id: by }, action: 'gateway.device.quarantined', target: deviceId, outcome: 'success', reason, details: { revision: r.revision } });
    return structuredClone(r);
  }

  private quarantine(r: DeviceRecord, dev: ObservedDevice, reason: string): ObserveResult {
    const now = this.clock.now();
    r.state = 'quarantined';
    r.observedIdentity = structuredClone(dev.identity);
    r.address = dev.address;
    r.revision += 1;
    r.lastSeen = now;
    r.reason = reason;
    r.decidedBy = undefined;
    this.store.save(r);
    this.audit.append({
      actor: { kind: 'system', id: 'gateway.admission' }, action: 'gateway.device.quarantined', target: r.deviceId,
      outcome: 'refused', reason, details: { expected: r.identity, observed: dev.identity, address: dev.address, eoj: r.eoj },
    });
    return { record: structuredClone(r), change: 'quarantined' };
  }

  private refusedDecision(deviceId: string, verb: string, by: string, reason: string): { ok: false; reason: string } {
    this.audit.append({ actor: { kind: 'operator', id: by }, action: `gateway.device.${verb}`, target: deviceId, outcome: 'refused', reason });
    return { ok: false, reason };
  }
}

function describeIdentity(id: DeviceIdentity): string {
  return `maker ${id.makerCode} product ${id.productCode ?? '?'} serial ${id.serialNumber ?? '?'}${id.identificationNumber ? ` id ${id.identificationNumber}` : ''}`;
}
