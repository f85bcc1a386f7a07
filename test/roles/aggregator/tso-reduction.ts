/** The TSO's reduction event for AGG1, as the aggregator tests issue it from their TSO VTN. */
import { epochMillis, millis } from '../../../src/core/units.js';
import type { Vtn } from '../../../src/protocols/openadr/vtn.js';

/** A reduction of `kw` kW from `start` for `ms` milliseconds (LOAD_DISPATCH delta, one interval). */
export function tsoReduction(tsoVtn: Vtn, eventID: string, start: number, ms: number, kw: number) {
  return tsoVtn.createEvent({
    eventID, marketContext: 'urn:erab:tso:TSO1:tertiary2', venIDs: ['AGG1'],
    activePeriod: { dtstart: epochMillis(start), duration: millis(ms) },
    signals: [{
      signalName: 'LOAD_DISPATCH', signalType: 'delta', signalID: 'S0',
      itemBase: { kind: 'powerReal', itemDescription: 'RealPower', itemUnits: 'W', siScaleCode: 'k' },
      intervals: [{ duration: millis(ms), uid: '0', value: -kw }],
    }],
  });
}
