/** Settlement: delivered energy per event, コマ and resource, and its CSV export. */
export { settle, eventTotals } from './delivered.js';
export type { KomaDelivery, DayDelivery, ResourceSettlement, SettleInput } from './delivered.js';
export { settlementKomaCsv, settlementDailyCsv, csvField, csvText, kwh } from './csv.js';
