/**
 * Per-device arbitration between overlapping accepted events (pure).
 *
 * A device may be wanted by several accepted events at once (a TSO reduction and a retailer's
 * 上げDR, or two events of one party). Exactly one of them — the lead — commands the device;
 * the others wait. Ending or cancelling an event that does not lead a device never touches it;
 * when the lead ends, the next claimant leads, and only when no claimant remains does the
 * device go back to its owner's normal mode (engine.ts).
 *
 * Precedence, in order:
 * 1. The event's OpenADR priority (ei:eventDescriptor/ei:priority): a lower non-zero number
 *    first; 0 or absent means "no priority" and ranks after every prioritised event (OpenADR
 *    2.0b EiEvent). erab's aggregator sets it from the origin of the need — 1 TSO, 2 retailer,
 *    3 aggregation coordinator, 4 operator (src/roles/common/event-priority.ts) — so the
 *    stated order is TSO over retailer over operator.
 * 2. The earliest accepted (the gateway's own acceptance order; a modification keeps the place
 *    its event took when first accepted).
 * 3. The eventID, so the order is total and never depends on map iteration.
 */

/** One event's claim on one device. */
export interface Claim {
  eventID: string;
  /** OpenADR ei:priority; 0 or undefined = no priority (lowest). */
  priority?: number | undefined;
  /** Acceptance order at this gateway (smaller = accepted earlier). */
  acceptedSeq: number;
}

/** Rank of an OpenADR priority: lower ranks first; "no priority" after every number. */
function rank(priority: number | undefined): number {
  return priority !== undefined && Number.isFinite(priority) && priority > 0 ? priority : Number.POSITIVE_INFINITY;
}

/**
 * Negative when `a` takes precedence over `b`, positive when `b` does (a sort comparator).
 * @example comparePrecedence({ eventID: 'tso', priority: 1, acceptedSeq: 2 }, { eventID: 'ret', priority: 2, acceptedSeq: 1 }) // < 0
 */
export function comparePrecedence(a: Claim, b: Claim): number {
  const ra = rank(a.priority);
  const rb = rank(b.priority);
  if (ra !== rb) return ra < rb ? -1 : 1;
  if (a.acceptedSeq !== b.acceptedSeq) return a.acceptedSeq - b.acceptedSeq;
  return a.eventID < b.eventID ? -1 : a.eventID > b.eventID ? 1 : 0;
}

/**
 * The claim that commands the device, or undefined when nobody claims it.
 * @example leadingClaim([retailer, tso])?.eventID // → the TSO's event
 */
export function leadingClaim<T extends Claim>(claims: Iterable<T>): T | undefined {
  let lead: T | undefined;
  for (const c of claims) if (lead === undefined || comparePrecedence(c, lead) < 0) lead = c;
  return lead;
}
