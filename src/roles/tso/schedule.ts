/**
 * A schedule file of dispatches the TSO (or retailer) issues by itself, e.g. for a drill:
 *
 *   { "dispatches": [
 *       { "issueAfterMinutes": 0, "product": "tertiary2", "direction": "reduce",
 *         "quantityKw": 60, "startAfterMinutes": 60, "periods": 2, "to": ["AGG1"] } ] }
 *
 * Times are relative to the start of the VTN (`issueAfterMinutes`, `startAfterMinutes`, the block
 * start rounded up to the next 30-minute boundary) or absolute (`issueAt`, `start`: ISO 8601).
 */
import { z } from 'zod';
import { ConfigError, explain } from '../../core/errors.js';
import { configIssueLines, readConfigFile } from '../../core/config.js';
import { komaCeil } from '../../core/jst.js';
import { DISPATCH_DIRECTIONS } from '../../core/domain/direction.js';
import type { DispatchInput } from './tso.js';

const entrySchema = z.object({
  issueAt: z.iso.datetime({ offset: true }).optional(),
  issueAfterMinutes: z.number().min(0).optional(),
  start: z.iso.datetime({ offset: true }).optional(),
  startAfterMinutes: z.number().min(0).optional(),
  product: z.string().min(1),
  direction: z.enum(DISPATCH_DIRECTIONS),
  quantityKw: z.union([z.number().positive(), z.array(z.number().positive()).min(1)]),
  periods: z.number().int().min(1).max(48),
  to: z.array(z.string().min(1)).optional(),
  eventId: z.string().min(1).optional(),
  ignoreLeadTime: z.boolean().optional(),
}).strict().refine((e) => (e.start === undefined) !== (e.startAfterMinutes === undefined), { message: 'give exactly one of start and startAfterMinutes' });

export const scheduleSchema = z.object({ dispatches: z.array(entrySchema).max(1000) }).strict();

export interface ScheduledDispatch {
  issueAt: number;
  input: DispatchInput;
}

/** Reads and validates a schedule file; relative times count from `now`. */
export function loadSchedule(file: string, now: number): ScheduledDispatch[] {
  const parsed = scheduleSchema.safeParse(readConfigFile(file), { reportInput: true });
  if (!parsed.success) throw new ConfigError(explain('config.scheduleInvalid', { file }), { details: configIssueLines(parsed.error.issues) });
  return parsed.data.dispatches.map((e) => {
    const issueAt = e.issueAt ? Date.parse(e.issueAt) : now + (e.issueAfterMinutes ?? 0) * 60_000;
    const start = e.start ? Date.parse(e.start) : komaCeil(now + e.startAfterMinutes! * 60_000);
    const { issueAt: _a, issueAfterMinutes: _b, start: _c, startAfterMinutes: _d, ...rest } = e;
    return { issueAt, input: { ...rest, start } };
  });
}
