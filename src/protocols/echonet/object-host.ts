/**
 * The objects one ECHONET Lite node hosts (its node profile plus device or controller objects)
 * and how a request to them is answered (ECHONET Lite Specification Ver.1.14 Part 2 §3.2.5 and Appendix 2, error handling on reception):
 * which objects a DEOJ addresses, per-property Set/Get results, and the _SNA refusals. Pure: the
 * node and the controller own the sockets and send what this returns.
 */
import { InvalidInputError } from '../../core/errors.js';
import { ClassCode, eojClass, eojInstance, formatEoj, type Eoj } from './eoj.js';
import { hex8 } from './errors.js';
import { Esv, esvName } from './esv.js';
import { emptyProperty, type Frame, type Property } from './frame.js';
import { EchonetObject } from './object.js';
import { NodeProfile } from './objects/node-profile.js';
import type { RefusalKind } from './security-events.js';

/** Identity of the node (node profile 0x83, 0x8A, 0x8C, 0x8D). */
export interface NodeIdentity {
  /** Maker code (3 bytes) assigned by the ECHONET Consortium; 0xFFFFFE-range values for tests. */
  makerCode: number;
  productCode?: string;
  productionNumber?: string;
  /** 13 bytes (26 hex digits) unique to the maker; derived from the production number if absent. */
  uniqueId?: string;
}

/** Derives 13 bytes of unique ID from a production number (stable, so identity survives restarts). */
export function uniqueIdFrom(text: string): string {
  const b = Buffer.alloc(13);
  Buffer.from(text, 'latin1').copy(b, 13 - Math.min(13, text.length), Math.max(0, text.length - 13));
  return b.toString('hex').toUpperCase();
}

export type RefusalReporter = (kind: RefusalKind, reason: string, details?: Record<string, unknown>) => void;

/** What to send for one request: zero or more responses; `silent` when the standard says discard. */
export interface ServeResult {
  responses: Frame[];
  silent: boolean;
}

const SERVED = new Set<number>([Esv.SetI, Esv.SetC, Esv.Get, Esv.INF_REQ, Esv.SetGet, Esv.INFC]);

export class ObjectHost {
  readonly profile: EchonetObject<typeof NodeProfile.props>;
  private readonly objects = new Map<Eoj, EchonetObject>();

  /** `fallbackSerial` seeds the unique ID when the identity has no production number. */
  constructor(objects: EchonetObject[], identity: NodeIdentity, fallbackSerial: string) {
    for (const o of objects) {
      if (this.objects.has(o.eoj)) throw new InvalidInputError(`object ${formatEoj(o.eoj)} is hosted twice`);
      this.objects.set(o.eoj, o);
    }
    const list = objects.map((o) => o.eoj);
    const classes = [...new Set(list.map(eojClass))];
    this.profile = new EchonetObject(NodeProfile, {
      instance: 1,
      values: {
        operationStatus: 'on',
        versionInformation: { major: 1, minor: 14, specifiedFormat: true, arbitraryFormat: false },
        identificationNumber: { makerCode: identity.makerCode, unique: identity.uniqueId ?? uniqueIdFrom(identity.productionNumber ?? fallbackSerial) },
        faultStatus: 'noFault',
        makerCode: identity.makerCode,
        ...(identity.productCode !== undefined ? { productCode: identity.productCode } : {}),
        ...(identity.productionNumber !== undefined ? { productionNumber: identity.productionNumber } : {}),
        instanceCount: list.length,
        classCount: classes.length + 1, // 0xD4 counts the node profile class too (Part 2 §6.11.1)
        instanceListNotification: list.slice(0, 84),
        instanceList: list.slice(0, 84),
        classList: classes,
      },
    });
  }

  /** The hosted objects (node profile excluded). */
  hosted(): EchonetObject[] {
    return [...this.objects.values()];
  }

  /** Objects a DEOJ addresses: instance 0x00 means every instance of the class (Part 2 §3.2.4). */
  targets(deoj: Eoj): EchonetObject[] {
    if (eojClass(deoj) === ClassCode.nodeProfile) {
      // 0x0EF000 (all node profiles) and 0x0EF001 address our profile; 0x0EF002 is send-only.
      return eojInstance(deoj) === 0 || eojInstance(deoj) === 1 ? [this.profile] : [];
    }
    if (eojInstance(deoj) === 0) return [...this.objects.values()].filter((o) => eojClass(o.eoj) === eojClass(deoj));
    const o = this.objects.get(deoj);
    return o ? [o] : [];
  }

  /** Answers one decoded request frame; refusals are reported through `report`. */
  serve(f: Frame, report: RefusalReporter): ServeResult {
    if (!SERVED.has(f.esv)) {
      // Responses and notifications are for the controller side; nothing to answer here.
      if (f.esv !== Esv.INF) report('unexpected_service', `${esvName(f.esv)} is not a request this node serves`);
      return { responses: [], silent: true };
    }
    const targets = this.targets(f.deoj);
    if (targets.length === 0) {
      // Part 2 Appendix 2 (error handling on reception): a request to an object the node does
      // not hold is discarded without a response.
      report('unknown_object', `DEOJ ${formatEoj(f.deoj)} is not hosted here`, { esv: esvName(f.esv) });
      return { responses: [], silent: true };
    }
    if (f.properties.length === 0 && (f.getProperties?.length ?? 0) === 0) {
      // Some controllers send OPC=0 (e.g. a SetC with no property); answer with the _SNA, never fail.
      report('empty_request', `${esvName(f.esv)} with OPC=0`);
    }
    const responses: Frame[] = [];
    for (const target of targets) {
      const reply = this.respond(target, f, report);
      if (reply) responses.push(reply);
    }
    return { responses, silent: false };
  }

  private respond(target: EchonetObject, f: Frame, report: RefusalReporter): Frame | null {
    const base = { tid: f.tid, seoj: target.eoj, deoj: f.seoj };
    switch (f.esv) {
      case Esv.SetI:
      case Esv.SetC: {
        const { list, failed } = this.applySets(target, f.properties, report);
        const refused = failed || f.properties.length === 0;
        // SetI is answered only when refused (SetI_SNA), Part 2 §3.2.5.
        if (f.esv === Esv.SetI) return refused ? { ...base, esv: Esv.SetI_SNA, properties: list } : null;
        return { ...base, esv: refused ? Esv.SetC_SNA : Esv.Set_Res, properties: list };
      }
      case Esv.Get:
      case Esv.INF_REQ: {
        const { list, failed } = this.reads(target, f.properties, f.esv === Esv.INF_REQ, report);
        const refused = failed || f.properties.length === 0;
        if (f.esv === Esv.Get) return { ...base, esv: refused ? Esv.Get_SNA : Esv.Get_Res, properties: list };
        // The INF answering an INF_REQ goes back to the requester (we do not multicast it).
        return { ...base, esv: refused ? Esv.INF_SNA : Esv.INF, properties: list };
      }
      case Esv.SetGet: {
        const sets = this.applySets(target, f.properties, report);
        const gets = this.reads(target, f.getProperties ?? [], false, report);
        const refused = sets.failed || gets.failed || (f.properties.length === 0 && (f.getProperties?.length ?? 0) === 0);
        return { ...base, esv: refused ? Esv.SetGet_SNA : Esv.SetGet_Res, properties: sets.list, getProperties: gets.list };
      }
      case Esv.INFC:
        // INFC is acknowledged with INFC_Res carrying each EPC with PDC 0 (Part 2 §3.2.5).
        return { ...base, esv: Esv.INFC_Res, properties: f.properties.map((p) => emptyProperty(p.epc)) };
      default:
        return null;
    }
  }

  /** Per property: accepted → PDC 0; refused → the request's EDT echoed (Part 2 §3.2.5). */
  private applySets(target: EchonetObject, props: Property[], report: RefusalReporter): { list: Property[]; failed: boolean } {
    let failed = false;
    const list = props.map((p) => {
      const r = target.applySet(p.epc, p.edt);
      if (r.accepted) return emptyProperty(p.epc);
      failed = true;
      const kind: RefusalKind = !target.supports(p.epc) ? 'unknown_property' : /not settable/.test(r.reason) ? 'not_settable' : 'value_out_of_range';
      report(kind, r.reason, { eoj: formatEoj(target.eoj), epc: `0x${hex8(p.epc)}` });
      return { epc: p.epc, edt: Uint8Array.from(p.edt) };
    });
    return { list, failed };
  }

  /** Per property: the value, or PDC 0 when it cannot be read (Part 2 §3.2.5). */
  private reads(target: EchonetObject, props: Property[], notification: boolean, report: RefusalReporter): { list: Property[]; failed: boolean } {
    let failed = false;
    const list = props.map((p) => {
      const edt = notification ? target.readForNotification(p.epc) : target.readForGet(p.epc);
      if (edt) return { epc: p.epc, edt };
      failed = true;
      report('unknown_property', `EPC 0x${hex8(p.epc)} cannot be read from ${formatEoj(target.eoj)}`);
      return emptyProperty(p.epc);
    });
    return { list, failed };
  }
}
