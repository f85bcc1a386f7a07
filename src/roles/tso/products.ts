/**
 * Balancing products of Japan's balancing market (需給調整市場) that the TSO role can dispatch,
 * and the dispatch plan the simple dispatch system (簡易指令システム) sends for them.
 *
 * Figures are those of docs/architecture.md §4 (response time / minimum duration); everything is traded
 * and settled in 30-minute blocks (コマ). Products that need a dedicated line (専用線: 一次, 二次①)
 * cannot be dispatched over the simple dispatch system and are refused here.
 */
import { InvalidInputError } from '../../core/errors.js';
import { parseDirection, type DispatchDirection } from '../../core/domain/direction.js';
import { isKomaStart, KOMA_MS, KOMA_PER_DAY } from '../../core/jst.js';

export { KOMA_MS };

export type ProductId = 'primary' | 'secondary1' | 'secondary2' | 'tertiary1' | 'tertiary2' | 'dr';

export interface BalancingProduct {
  id: ProductId;
  /** Japanese name as used by the market. */
  name: string;
  /** Maximum time from instruction to full delivery. */
  responseTimeMs: number;
  /** Minimum time the delivery must be sustained. */
  minDurationMs: number;
  /** True when the product is dispatched over the simple dispatch system (OpenADR), false = dedicated line only. */
  simpleDispatch: boolean;
}

export const PRODUCTS: Record<ProductId, BalancingProduct> = {
  primary: { id: 'primary', name: '一次調整力', responseTimeMs: 10_000, minDurationMs: 5 * 60_000, simpleDispatch: false },
  secondary1: { id: 'secondary1', name: '二次調整力①', responseTimeMs: 5 * 60_000, minDurationMs: KOMA_MS, simpleDispatch: false },
  secondary2: { id: 'secondary2', name: '二次調整力②', responseTimeMs: 5 * 60_000, minDurationMs: KOMA_MS, simpleDispatch: true },
  tertiary1: { id: 'tertiary1', name: '三次調整力①', responseTimeMs: 15 * 60_000, minDurationMs: KOMA_MS, simpleDispatch: true },
  tertiary2: { id: 'tertiary2', name: '三次調整力②', responseTimeMs: 45 * 60_000, minDurationMs: KOMA_MS, simpleDispatch: true },
  // A retailer's demand response request (下げDR or 上げDR): agreed bilaterally, no market response time.
  dr: { id: 'dr', name: 'デマンドレスポンス', responseTimeMs: 0, minDurationMs: KOMA_MS, simpleDispatch: true },
};

/** Which products each VTN kind offers. */
export const PRODUCTS_OF: Record<'tso' | 'retailer', ProductId[]> = {
  tso: ['primary', 'secondary1', 'secondary2', 'tertiary1', 'tertiary2'],
  retailer: ['dr'],
};

export interface DispatchPeriod {
  /** Start of the 30-minute block, epoch ms (aligned to :00 or :30). */
  start: number;
  /** Requested power change in W (> 0). */
  quantityW: number;
}

export interface DispatchPlan {
  product: BalancingProduct;
  /** 'reduce' = 下げ (less consumption / more generation), 'increase' = 上げDR (absorb surplus). */
  direction: DispatchDirection;
  issuedAt: number;
  periods: DispatchPeriod[];
}

export interface DispatchRequest {
  product: string;
  direction: string;
  /** Requested quantity in kW, one value for every period or one per period. */
  quantityKw: number | number[];
  /** First block start (ISO 8601 or epoch ms). */
  start: string | number;
  /** Number of consecutive 30-minute blocks. */
  periods: number;
  /** When the instruction is issued (epoch ms); lead time = start − issuedAt. */
  issuedAt: number;
  /** Skip the lead-time rule (accelerated demos where simulated time starts "now"). */
  ignoreLeadTime?: boolean;
}

function parseInstant(v: string | number, field: string): number {
  const t = typeof v === 'number' ? v : Date.parse(v);
  if (!Number.isFinite(t)) throw new InvalidInputError(`${field}: "${String(v)}" is not a valid date-time`);
  return t;
}

/**
 * Validates a dispatch request against the product rules and returns the plan.
 * @example planDispatch({ product: 'tertiary2', direction: 'reduce', quantityKw: 60, start: '2026-11-24T05:00:00Z', periods: 2, issuedAt: Date.parse('2026-11-24T04:00:00Z') })
 */
export function planDispatch(req: DispatchRequest): DispatchPlan {
  const product = PRODUCTS[req.product as ProductId];
  if (!product) throw new InvalidInputError(`product: "${req.product}" is not one of ${Object.keys(PRODUCTS).join(', ')}`);
  if (!product.simpleDispatch) throw new InvalidInputError(`product: ${product.name} (${product.id}) needs a dedicated line and cannot be dispatched over the simple dispatch system`);
  const direction = parseDirection(req.direction, 'direction');
  if (!Number.isInteger(req.periods) || req.periods < 1 || req.periods > KOMA_PER_DAY) throw new InvalidInputError(`periods: ${req.periods} must be an integer from 1 to ${KOMA_PER_DAY} (30-minute blocks)`);
  const start = parseInstant(req.start, 'start');
  if (!isKomaStart(start)) throw new InvalidInputError(`start: ${new Date(start).toISOString()} is not on a 30-minute block boundary`);
  if (req.periods * KOMA_MS < product.minDurationMs) throw new InvalidInputError(`periods: ${req.periods} blocks are shorter than ${product.name}'s minimum duration`);
  const lead = start - req.issuedAt;
  if (!req.ignoreLeadTime && lead < product.responseTimeMs) {
    throw new InvalidInputError(`start: lead time ${Math.round(lead / 60_000)} min is shorter than ${product.name}'s response time of ${product.responseTimeMs / 60_000} min`);
  }
  const quantities = Array.isArray(req.quantityKw) ? req.quantityKw : Array.from({ length: req.periods }, () => req.quantityKw as number);
  if (quantities.length !== req.periods) throw new InvalidInputError(`quantityKw: ${quantities.length} values given for ${req.periods} periods`);
  const periods = quantities.map((kw, i) => {
    if (!Number.isFinite(kw) || kw <= 0 || kw > 10_000_000) throw new InvalidInputError(`quantityKw[${i}]: ${kw} must be a positive number of kW`);
    return { start: start + i * KOMA_MS, quantityW: Math.round(kw * 1000) };
  });
  return { product, direction, issuedAt: req.issuedAt, periods };
}
