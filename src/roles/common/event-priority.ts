/**
 * Who asked for an event, carried from the aggregator to its gateways as the OpenADR 2.0b
 * event priority (ei:eventDescriptor/ei:priority), so that a gateway can arbitrate between
 * overlapping events on one device without any erab-specific field.
 *
 * OpenADR 2.0b (EiEvent, eventDescriptor): "priority — the priority of the event in relation
 * to other events. The lower the number the higher the priority. A value of zero (0) indicates
 * no priority, which is the lowest priority by default." So a foreign VTN that sets no priority
 * ranks below every erab origin, and a foreign gateway that ignores the field loses nothing.
 *
 * The stated precedence (issue 11): the TSO's balancing need over a retailer's, over an
 * aggregation coordinator's, over an operator's own manual command. Between events of equal
 * priority, the one accepted first keeps the device (src/roles/gateway/arbitration.ts).
 */

/** Where an event's need comes from: an upstream party's kind, or the aggregator's operator. */
export type EventOrigin = 'tso' | 'retailer' | 'coordinator' | 'operator';

/** ei:priority per origin (1 = highest; 0 would mean "no priority"). */
export const ORIGIN_PRIORITY: Readonly<Record<EventOrigin, number>> = {
  tso: 1,
  retailer: 2,
  coordinator: 3,
  operator: 4,
};

/**
 * The ei:priority to send for an event of `origin` (undefined when the origin is unknown: the
 * event goes out without a priority, i.e. the lowest).
 * @example priorityOfOrigin('tso') // → 1
 */
export function priorityOfOrigin(origin: EventOrigin | undefined): number | undefined {
  return origin === undefined ? undefined : ORIGIN_PRIORITY[origin];
}
